"""Value checks shared by commands and settings; each raises invalid_argument."""

from __future__ import annotations

import math

from .errors import ErrorCode, RoomError

MAX_ID = 128
MAX_NAME = 200
MAX_REASON = 500


def invalid(message: str) -> RoomError:
    return RoomError(ErrorCode.INVALID_ARGUMENT, message)


def check_id(value: str, field: str) -> None:
    if not value or len(value) > MAX_ID or not value.isprintable() or value != value.strip():
        raise invalid(f"{field} must be 1-{MAX_ID} printable characters without outer spaces")


def check_name(value: str, field: str) -> None:
    if not value.strip() or len(value) > MAX_NAME:
        raise invalid(f"{field} must be 1-{MAX_NAME} characters, not blank")


def check_reason(value: str | None) -> None:
    if value is not None and len(value) > MAX_REASON:
        raise invalid(f"reason is longer than {MAX_REASON} characters")


def check_seconds(value: float, field: str, *, positive: bool) -> None:
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise invalid(f"{field} must be a finite number of seconds {bound}")


def check_time(now: float) -> None:
    if not math.isfinite(now):
        raise invalid("now must be a finite unix time")
