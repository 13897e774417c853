"""The server's credentials: the token signing key, the admin API token, the metrics token.

Each is at least :data:`MIN_BYTES` long and they must differ, so that a join
link (signed with the key) never reveals or stands in for the admin API's
credential. When none is given, one is generated into a file of the state
folder, readable by its owner only; its path is printed, never its value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MIN_BYTES = 32


class CredentialError(ValueError):
    """A credential given that is too short, or the same as another."""


def check_credential(value: str, what: str) -> str:
    if len(value.encode()) < MIN_BYTES:
        raise CredentialError(f"the {what} must be at least {MIN_BYTES} bytes long")
    return value


def check_distinct(**credentials: str) -> None:
    """Each credential different from the others (one leaked must not open another)."""
    seen: dict[str, str] = {}
    for what, value in credentials.items():
        name = what.replace("_", " ")
        if value in seen:
            raise CredentialError(f"the {name} must differ from the {seen[value]}")
        seen[value] = name


def generate() -> str:
    return secrets.token_urlsafe(MIN_BYTES)  # 43 characters, 256 bits


def read_or_create(path: Path, what: str) -> tuple[str, bool]:
    """The credential kept in ``path``; made (mode 0600) when missing. True if made now."""
    try:
        return check_credential(path.read_text(encoding="utf-8").strip(), what), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: use theirs
        return read_or_create(path, what)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value + "\n")
    return value, True
