"""The deployment files in the repository: the systemd unit verifies cleanly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "deploy" / "palabra.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    # Installed under /opt/palabra; here the checkout stands in for it, so
    # that ExecStart names an executable that exists.
    unit = tmp_path / "palabra.service"
    unit.write_text(UNIT.read_text().replace("/opt/palabra", str(REPO)))
    assert (REPO / ".venv" / "bin" / "palabra").exists()
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # Unknown keys and bad values are only warnings: any output is a defect.
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stderr


def test_the_unit_runs_the_config_file_and_does_not_loop_on_bad_settings() -> None:
    text = UNIT.read_text()
    assert (
        "ExecStart=/opt/palabra/.venv/bin/palabra serve --config /etc/palabra/palabra.toml" in text
    )
    assert "RestartPreventExitStatus=2" in text  # `palabra serve` exits 2 on a bad setting
    assert "User=palabra" in text and "NoNewPrivileges=yes" in text
