"""A conference, with its delegations and agenda, read from a JSON file at start-up.

`palabra serve --conference-file FILE` opens the conference the file describes,
the same object the admin API's ``POST /api/conferences`` takes, checked the same
way: any bad key stops the start with a message naming it (JSON only: the
project has no YAML parser among its dependencies).
"""

from __future__ import annotations

import json
from pathlib import Path

from conference.plans import ConferencePlan
from rooms import RoomError

from .admin import BadRequest, conference_plan
from .options import ConfigError

__all__ = ["MAX_FILE_BYTES", "read_plan_file"]

MAX_FILE_BYTES = 1_000_000  # a 100-item agenda in several languages is far smaller


def read_plan_file(path: Path) -> ConferencePlan:
    """The plan in `path`, or ConfigError saying which file and which key is wrong."""
    where = f"conference_file {path}"
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_FILE_BYTES} bytes")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{where}: not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: must hold one JSON object (a conference)")
    try:
        return conference_plan(body)
    except BadRequest as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except RoomError as exc:
        raise ConfigError(f"{where}: {exc.code.value}: {exc.message}") from None
