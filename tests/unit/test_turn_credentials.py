"""TURN REST credentials: coturn's use-auth-secret scheme, per seat."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from server.turn import TurnPolicy, TurnUrl, parse_turn_url, seat_credentials

SECRET = "turn-shared-secret-of-at-least-32-chars"


def test_username_is_expiry_then_seat_and_password_the_hmac() -> None:
    username, password = seat_credentials(SECRET, "p-es-1", 1767225600.7)
    assert username == "1767225600:p-es-1"
    expected = hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(password) == expected


def test_a_seat_gets_every_url_with_one_credential_lapsing_with_the_seat() -> None:
    urls = [parse_turn_url("turn:t.example.org"), parse_turn_url("turns:t.example.org:443")]
    policy = TurnPolicy(urls, SECRET, ttl=3600)
    (server,) = policy.ice_servers("p-1", now=1000.0, seat_expiry=2000.0)
    assert server.urls == (
        "turn:t.example.org:3478?transport=udp",
        "turns:t.example.org:443?transport=tcp",
    )
    assert server.username == "2000:p-1"
    (later,) = policy.ice_servers("p-1", now=1000.0, seat_expiry=None)
    assert later.username == "4600:p-1"
    assert SECRET not in repr(policy)
    assert TurnPolicy([], SECRET, 3600).ice_servers("p-1", 0.0, None) == ()


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("turn:192.0.2.1", TurnUrl("turn", "192.0.2.1", 3478, "udp")),
        ("turn:t.example.org:3478?transport=tcp", TurnUrl("turn", "t.example.org", 3478, "tcp")),
        ("turns:t.example.org", TurnUrl("turns", "t.example.org", 5349, "tcp")),
        ("turn:[2001:db8::1]:3478", TurnUrl("turn", "2001:db8::1", 3478, "udp")),
    ],
)
def test_turn_urls(text: str, url: TurnUrl) -> None:
    assert parse_turn_url(text) == url
    assert parse_turn_url(str(url)) == url


@pytest.mark.parametrize(
    "text", ["stun:t.example.org", "turn:", "turns:t.example.org?transport=udp", "turn:h:99999"]
)
def test_bad_turn_urls(text: str) -> None:
    with pytest.raises(ValueError):
        parse_turn_url(text)
