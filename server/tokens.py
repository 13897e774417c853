"""Join tokens: HMAC-SHA256 signed (JWT), one per seat in a conference.

A token names the conference, the role, the display name, the delegation
and the participant id (``sub``): opening the same link twice is the same
participant, and the newer connection replaces the older one.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "palabra"


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
) -> str:
    issued = time.time() if now is None else now
    claims = {
        "iss": ISSUER,
        "sub": participant or f"u-{secrets.token_hex(6)}",
        "conf": conference,
        "role": role,
        "name": name,
        "del": delegation,
        "iat": int(issued),
        "exp": int(issued + ttl),
    }
    if purpose is not None:
        claims["typ"] = purpose
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


RESUME = "resume"  # the `typ` claim of resume tokens


RESUME_TTL = 12 * 3600.0  # seconds a seat can be resumed after its welcome


def issue_resume_token(secret: str, grant: JoinGrant, ttl: float = RESUME_TTL) -> str:
    """A token to come back with after a dropped connection (``hello.resume``).

    It names the same seat as the join token it was issued for, and outlives
    it, so that a meeting running past the link's expiry is not cut off.
    """
    return issue_token(
        secret,
        conference=grant.conference,
        role=grant.role,
        name=grant.name,
        delegation=grant.delegation,
        ttl=ttl,
        participant=grant.participant,
        purpose=RESUME,
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
    return JoinGrant(
        conference=claims["conf"],
        participant=claims["sub"],
        role=claims["role"],
        name=claims["name"],
        delegation=delegation,
        expires_at=float(claims["exp"]),
    )
