"""The settings of `palabra serve`: config file, flags over it, errors naming the key."""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from server.options import OPTIONS, ConfigError, add_serve_arguments, merged_settings
from server.turn import TurnUrl
from server.workers import worker_count

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "palabra.sample.toml"
TURN_SECRET = "turn-shared-secret-of-at-least-32-chars"


def parse_flags(*argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return vars(parser.parse_args(argv))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "palabra.toml"
    path.write_text(text)
    return path


def test_every_flag_is_a_key_of_the_sample_file() -> None:
    keys = set(tomllib.loads(SAMPLE.read_text()))
    commented = {
        line.lstrip("# ").split(" ")[0]
        for line in SAMPLE.read_text().splitlines()
        if line.startswith("# ") and " = " in line
    }
    assert {o.key for o in OPTIONS} == keys | commented


def test_the_sample_file_is_accepted(tmp_path: Path) -> None:
    text = SAMPLE.read_text().replace("/etc/palabra/turn-secret", str(tmp_path / "turn-secret"))
    (tmp_path / "turn-secret").write_text(TURN_SECRET + "\n")
    config = merged_settings({"config": str(write(tmp_path, text))}, environ={})
    assert config.port == 443 and config.redirect_http_port == 80
    assert config.tls_cert == Path("/etc/palabra/tls/fullchain.pem") and config.tls
    assert config.media_addresses == ["203.0.113.7"] and config.media_port == 7882
    assert config.turn_urls[2] == TurnUrl("turns", "turn.example.org", 5349, "tcp")
    assert config.turn_secret == TURN_SECRET
    assert config.base_url == "https://meet.example.org"
    assert TURN_SECRET not in repr(config)


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 9000\nhost = "0.0.0.0"\nmedia_address = ["192.0.2.1"]\n')
    flags = parse_flags("--config", str(path), "--port", "9100", "--media-address", "127.0.0.1")
    config = merged_settings(flags, environ={})
    assert (config.host, config.port, config.media_addresses) == ("0.0.0.0", 9100, ["127.0.0.1"])


def test_flags_alone_keep_the_defaults() -> None:
    config = merged_settings(parse_flags("--demo", "--no-turn-check"), environ={})
    assert config.demo and not config.turn_check and config.port == 8080 and not config.tls
    assert config.media_port is None  # ephemeral media ports unless asked


def test_workers_one_by_default_zero_for_one_per_core() -> None:
    assert merged_settings(parse_flags(), environ={}).workers == 1
    assert merged_settings(parse_flags("--workers", "0"), environ={}).workers == 0
    assert worker_count(0) == (os.cpu_count() or 1) and worker_count(3) == 3


def test_media_port_from_the_flag() -> None:
    config = merged_settings(parse_flags("--media-port", "7882"), environ={})
    assert config.media_port == 7882


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("prot = 8080\n", "unknown key 'prot'"),
        ('port = "eighty"\n', "port must be an integer"),
        ("port = 70000\n", "port must be a port number"),
        ("demo = 1\n", "demo must be true or false"),
        ('resume_grace = "soon"\n', "resume_grace must be a number of seconds"),
        ("media_address = [1, 2]\n", "media_address must be a list of strings"),
        ('tls_cert = "/x.pem"\n', "tls_cert and tls_key go together"),
        ('trusted_proxy = ["not-an-address"]\n', "trusted_proxy: 'not-an-address'"),
        ('turn_url = ["stun:example.org"]\n', "turn_url: 'stun:example.org' is not a TURN URL"),
        ('turn_url = ["turn:example.org"]\n', "turn_url needs the TURN shared secret"),
        ('turn_secret_file = "/nonexistent/secret"\n', "turn_secret_file: cannot read"),
        ("redirect_http_port = 80\n", "redirect_http_port needs TLS"),
        ("media_port = 0\n", "media_port must be a port number"),
        ('media_port = 7882\nmedia_address = ["2001:db8::7"]\n', "media_address must be IPv4"),
        ('log_level = "LOUD"\n', "log_level must be"),
        ('public_url = "meet.example.org"\n', "public_url must start with"),
        ("port = [\n", "is not valid TOML"),
        ("workers = -1\n", "workers must be 0 .one per core. to 64, not -1"),
        ("workers = 65\n", "to 64, not 65"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("(", r"\(")):
        merged_settings({"config": str(write(tmp_path, text))}, environ={})


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the config file .*nope\.toml"):
        merged_settings({"config": str(tmp_path / "nope.toml")}, environ={})


def test_a_bad_flag_value_is_named_too() -> None:
    with pytest.raises(ConfigError, match="turn_ttl must be a number"):
        merged_settings(parse_flags("--turn-ttl", "long"), environ={})


def test_secrets_come_from_the_environment() -> None:
    config = merged_settings(
        parse_flags("--turn-url", "turn:127.0.0.1:3478"),
        environ={"PALABRA_TURN_SECRET": TURN_SECRET, "PALABRA_SECRET": "s" * 40},
    )
    assert config.turn_secret == TURN_SECRET and config.secret == "s" * 40
    assert TURN_SECRET not in repr(config) and "s" * 40 not in repr(config)
