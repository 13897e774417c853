"""The one error type of the domain core, with stable machine-readable codes."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorCode", "RoomError"]


class ErrorCode(StrEnum):
    """Stable codes: clients and the service switch on these, never on messages."""

    FORBIDDEN = "forbidden"  # the actor's role or scope does not allow the command
    NOT_FOUND = "not_found"  # unknown participant, delegation or request
    INVALID_STATE = "invalid_state"  # stale or no-op: the state no longer allows it
    INVALID_ARGUMENT = "invalid_argument"  # malformed value, whatever the state
    ALREADY_EXISTS = "already_exists"  # duplicate conference, delegation or participant
    ALREADY_REQUESTED = "already_requested"  # the delegation has an open floor request
    ROOM_LOCKED = "room_locked"  # joining a locked room
    LIMIT_REACHED = "limit_reached"  # granting beyond the maximum number of holders


class RoomError(Exception):
    """A rejected command (or malformed input); the state is left untouched."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}
