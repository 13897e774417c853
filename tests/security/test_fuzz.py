"""Bounded fuzzing: mutations of every documented client message, through the real WebSocket.

A seeded mutator derives a few thousand frames from the JSON examples in
docs/protocol.md (fields dropped, replaced by hostile values, reserved fields
injected, types swapped, JSON broken) and sends them to a real server as the
chair and as a head. For every frame: the server answers with a typed error
or a valid reply (or, for messages that have none, nothing), the connection
stays open, a refused frame changes nothing in the room, and the server logs
no traceback. `leave` and `conference.close` are left out: they end the
connection or the room by design.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rooms import Settings
from signaling import ROOM_COMMAND_TYPES, Error, Limits, Ping

from .conftest import ClientFactory, RunningServer, demo_plan, running_server
from .test_commands import enter
from .wire import documented_examples

FRAMES = 3000
SEED = 20261202
CLIENT_TYPES = (
    {"hello", "publish.offer", "subscribe.answer", "ping", "pong", "producer.keyframe"}
    | {"participant.disconnect"}
    | (ROOM_COMMAND_TYPES - {"conference.close"})
)
HOSTILE: list[object] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    -0.0,
    2**53,
    -(2**53),
    10**30,
    10**400,
    1e308,
    -1e308,
    "",
    " ",
    "x" * 300,
    "\ud800",
    "\udfff x",
    "\u0000",
    "‮rtl",
    "участник",
    "🇬🇹",
    "participant.join",
    "chair",
    "system",
    "gt",
    "r1",
    "p-sv",
    [],
    {},
    [[[[[[]]]]]],
    {"kind": "participant.join"},
    [1, "a", None],
    json.loads("[" * 40 + "]" * 40),
]
RESERVED = ["kind", "actor", "role", "participant_id", "delegation", "delegation_id", "at", "seq"]


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[RunningServer]:
    """No message rate limit: the fuzzer sends far faster than a person."""
    limits = Limits(message_burst=10**6, floor_toggle_burst=10**6)
    async with running_server([demo_plan(settings)], recordings=tmp_path, limits=limits) as s:
        yield s


def corpus() -> list[dict[str, Any]]:
    examples = [e for e in documented_examples() if e.get("type") in CLIENT_TYPES]
    assert {e["type"] for e in examples} == CLIENT_TYPES, "every client message is documented"
    return examples


def mutate(rng: random.Random, example: dict[str, Any], frame_id: str) -> str:
    """One hostile frame derived from `example`, with `frame_id` unless mutated away."""
    frame = {**example, "id": frame_id}
    fields = [k for k in frame if k != "id"]
    for _ in range(rng.randint(1, 3)):
        match rng.randrange(7):
            case 0 if fields:
                frame.pop(rng.choice(fields), None)
            case 1 if fields:
                frame[rng.choice(fields)] = rng.choice(HOSTILE)
            case 2:
                frame[rng.choice(RESERVED)] = rng.choice(HOSTILE)
            case 3:
                frame["type"] = rng.choice([*sorted(CLIENT_TYPES), *HOSTILE[:12], "welcome"])
            case 4:
                frame[rng.choice(["extra", "x" * 64, ""])] = rng.choice(HOSTILE)
            case 5:
                frame["id"] = rng.choice(HOSTILE)
            case _:
                pass
    text = json.dumps(frame)
    if rng.random() < 0.05:  # broken JSON, or not an object
        text = rng.choice([text[: rng.randrange(len(text))], json.dumps([frame]), text + "}"])
    return text


async def test_hostile_frames_get_typed_answers_and_change_nothing_when_refused(
    server: RunningServer, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    head = await enter(connect, name="Canciller", role="head", delegation="gt")
    conference = server.palabra.conferences["demo"]
    rng = random.Random(SEED)
    examples = corpus()
    refused = answered = 0
    for n in range(FRAMES):
        sender = chair if n % 2 else head
        text = mutate(rng, rng.choice(examples), f"f{n}")
        frame_id = _id_of(text)
        seq, seen = conference.seq, len(sender.messages)
        await sender.send_raw(text)
        # A ping behind it: replies come in order, so its pong closes the frame's window.
        await sender.request(Ping(id=f"barrier-{n}"), timeout=10)
        replies = [m for m in sender.messages[seen:] if getattr(m, "ref", None) != f"barrier-{n}"]
        errors = [m for m in replies if isinstance(m, Error)]
        mine = [m for m in errors if m.ref in (frame_id, None)]
        if mine:
            refused += 1
            assert conference.seq == seq, (text, mine)  # a refused frame changed nothing
        elif replies:
            answered += 1
        assert sender.close_code is None, text
    assert chair.close_code is None and head.close_code is None
    # Both outcomes were exercised, and the server never failed.
    assert refused > FRAMES // 2 and answered > 0
    failures = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not failures, [r.getMessage() for r in failures[:5]]


def _id_of(text: str) -> object:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value.get("id") if isinstance(value, dict) else None
