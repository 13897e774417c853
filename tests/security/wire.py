"""Frames as the protocol reference documents them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

PROTOCOL = Path(__file__).parents[2] / "docs" / "protocol.md"


def documented_examples() -> list[dict[str, Any]]:
    """Every JSON example of docs/protocol.md, in order."""
    text = PROTOCOL.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]
