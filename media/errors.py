"""Errors the media layer reports to its callers, with stable codes."""

from __future__ import annotations


class MediaError(Exception):
    """A negotiation request that cannot be honoured; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


BAD_SDP = "bad_sdp"
UNSUPPORTED_CODEC = "unsupported_codec"
STALE_REVISION = "stale_revision"
LIMIT_REACHED = "limit_reached"
INVALID_ARGUMENT = "invalid_argument"
