"""Join tokens: HMAC-SHA256 signed (JWT), one per seat in a conference.

A token names the conference, the role, the display name, the delegation
and the participant id (``sub``): opening the same link twice is the same
participant, and the newer connection replaces the older one.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

import jwt

from rooms import RoomError
from rooms._checks import check_id, check_name

ALGORITHM = "HS256"
ISSUER = "palabra"
MAX_TTL = 366 * 24 * 3600.0  # a join link lives at most a year


class TokenError(Exception):
    """``code`` is ``invalid_token`` or ``token_expired``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class JoinGrant:
    conference: str
    participant: str
    role: str
    name: str
    delegation: str | None
    expires_at: float
    # When the join link this seat came in with expires (a resume token's own
    # expiry is later): resume tokens never reach past it by more than the grace.
    link_expires_at: float


def check_seat(participant: str, name: str, delegation: str | None) -> None:
    """The limits the room puts on a seat's id, name and delegation; ValueError otherwise.

    Checked when a token is minted and again when one is presented, so that a
    correctly signed token the room would refuse fails as ``invalid_token``.
    """
    try:
        check_id(participant, "participant (sub)")
        check_name(name, "name")
        if delegation is not None:
            check_id(delegation, "delegation")
    except RoomError as exc:
        raise ValueError(exc.message) from None


def check_ttl(ttl: object) -> float:
    """A join link's lifetime as given to a minting endpoint; ValueError unless in range."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise ValueError("ttl must be a number of seconds")
    if not math.isfinite(ttl) or not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be a number of seconds in (0, {MAX_TTL:.0f}]")
    return float(ttl)


def issue_token(
    secret: str,
    *,
    conference: str,
    role: str,
    name: str,
    delegation: str | None = None,
    ttl: float = 24 * 3600,
    participant: str | None = None,
    now: float | None = None,
    purpose: str | None = None,
    link_expires_at: float | None = None,
) -> str:
    """A signed join token; ValueError for a seat the room would refuse.

    A negative ``ttl`` gives an expired token (for tests); minting endpoints
    bound it with :func:`check_ttl`.
    """
    issued = time.time() if now is None else now
    participant = f"u-{secrets.token_hex(6)}" if participant is None else participant
    check_seat(participant, name, delegation)
    if not math.isfinite(ttl):
        raise ValueError("ttl must be a finite number of seconds")
    claims = {
        "iss": ISSUER,
        "sub": participant,
        "conf": conference,
        "role": role,
        "name": name,
        "del": delegation,
        "iat": int(issued),
        "exp": int(issued + ttl),
    }
    if purpose is not None:
        claims["typ"] = purpose
    if link_expires_at is not None:
        claims["lexp"] = int(link_expires_at)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


RESUME = "resume"  # the `typ` claim of resume tokens


RESUME_TTL = 12 * 3600.0  # seconds a seat can be resumed after its welcome, at most


def issue_resume_token(
    secret: str,
    grant: JoinGrant,
    grace: float,
    ttl: float = RESUME_TTL,
    now: float | None = None,
) -> str:
    """A token to come back with after a dropped connection (``hello.resume``).

    It names the same seat as the join token it was issued for, and lives
    ``ttl``, but never past the link's expiry plus the resume ``grace``: a
    connection dropped just before the link expires can still come back,
    and a short-lived link does not turn into a long-lived resume token.
    """
    issued = time.time() if now is None else now
    ttl = min(ttl, grant.link_expires_at + grace - issued)
    return issue_token(
        secret,
        conference=grant.conference,
        role=grant.role,
        name=grant.name,
        delegation=grant.delegation,
        ttl=ttl,
        participant=grant.participant,
        now=issued,
        purpose=RESUME,
        link_expires_at=grant.link_expires_at,
    )


def verify_token(
    secret: str, token: str, *, now: float | None = None, purpose: str | None = None
) -> JoinGrant:
    """Check signature, expiry, purpose and shape; raise :class:`TokenError` otherwise.

    ``purpose`` None is a join token; ``"resume"`` a resume token.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenError("invalid_token", f"the join token is not valid ({exc})") from None
    current = time.time() if now is None else now
    if not isinstance(claims["exp"], int) or claims["exp"] <= current:
        raise TokenError("token_expired", "the join token has expired")
    if claims.get("typ") != purpose:
        raise TokenError("invalid_token", "the token is not meant for this")
    fields = {k: claims.get(k) for k in ("conf", "role", "name", "sub")}
    if not all(isinstance(v, str) and v for v in fields.values()):
        raise TokenError("invalid_token", "the join token lacks conference, role, name or sub")
    delegation = claims.get("del")
    if delegation is not None and not isinstance(delegation, str):
        raise TokenError("invalid_token", "the join token's delegation is not a string")
    try:
        check_seat(claims["sub"], claims["name"], delegation)
    except ValueError as exc:
        raise TokenError("invalid_token", f"the join token's seat is not valid: {exc}") from None
    link_expires = claims.get("lexp", claims["exp"]) if purpose == RESUME else claims["exp"]
    if not isinstance(link_expires, int):
        raise TokenError("invalid_token", "the resume token's link expiry is not a number")
    return JoinGrant(
        conference=claims["conf"],
        participant=claims["sub"],
        role=claims["role"],
        name=claims["name"],
        delegation=delegation,
        expires_at=float(claims["exp"]),
        link_expires_at=float(link_expires),
    )
