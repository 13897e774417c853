"""Threat: a participant forges a command, or its own identity, through message fields.

A room command's wire `type` alone chooses the command; the issuer, its role and
its delegation come only from the verified token. System commands (joining,
leaving) can never be sent by a client.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from client import ClientError, PalabraClient
from rooms import COMMAND_TYPES, SYSTEM, LeaveConference, RoomError, Settings
from server.client_commands import command_from_client
from signaling import (
    ROOM_COMMAND_TYPES,
    Limits,
    ProtocolError,
    RoomCommand,
    SubscribeOffer,
    parse_client_message,
)

from .conftest import ClientFactory, RunningServer, demo_plan, running_server
from .wire import documented_examples

# Fields a forged message might use to pass for someone, or something, else.
RESERVED = ("kind", "actor", "role", "participant_id", "delegation", "delegation_id", "at", "seq")


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A server that lets these tests send a few hundred frames at once (no rate limit)."""
    limits = Limits(message_burst=100_000)
    async with running_server([demo_plan(settings)], recordings=tmp_path, limits=limits) as s:
        yield s


async def enter(
    connect: ClientFactory, name: str, role: str, delegation: str | None
) -> PalabraClient:
    """Join, and wait for the first room.update (the room as the client sees it)."""
    client = await connect(name=name, role=role, delegation=delegation)
    await client.wait_for(lambda: "participants" in client.room)
    return client


def seat(client: PalabraClient) -> dict[str, Any]:
    assert client.welcome is not None
    pid = client.welcome.you.id
    [me] = [p for p in client.room["participants"] if p["participant_id"] == pid]
    return me


async def refused(client: PalabraClient, frame: dict[str, object]) -> str:
    """Send a raw frame that must be refused; the error code."""
    with pytest.raises(ClientError) as error:
        await client.request(_raw(client, frame))
    return error.value.error.code


def _raw(client: PalabraClient, frame: dict[str, object]) -> RoomCommand:
    kind = str(frame["type"])
    fields = {k: v for k, v in frame.items() if k != "type"}
    return RoomCommand(kind, fields, id=client.next_id())


@pytest.mark.parametrize(
    ("role", "delegation"),
    [
        ("observer", None),
        ("interpreter", None),
        ("delegate", "gt"),
        ("head", "gt"),
        ("technician", None),
    ],
)
async def test_a_kind_field_does_not_make_anyone_chair(
    connect: ClientFactory, role: str, delegation: str | None
) -> None:
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    intruder = await enter(connect, name="Intruso", role=role, delegation=delegation)
    pid = seat(intruder)["participant_id"]
    await refused(
        intruder, {"type": "floor.cancel", "kind": "participant.leave", "participant_id": pid}
    )
    await refused(
        intruder,
        {
            "type": "floor.cancel",
            "kind": "participant.join",
            "participant_id": pid,
            "name": "Presidencia",
            "role": "chair",
        },
    )
    assert await refused(intruder, {"type": "conference.lock"}) == "forbidden"
    await chair.wait_for(
        lambda: any(p["participant_id"] == pid for p in chair.room["participants"])
    )
    assert not chair.room["locked"]
    assert seat(intruder)["role"] == role
    assert [e for e in chair.room_events if e["type"].startswith("participant.")] == [
        e for e in chair.room_events if e["type"] == "participant.joined"
    ]


async def test_a_head_cannot_speak_for_another_delegation(connect: ClientFactory) -> None:
    head = await enter(connect, name="Canciller", role="head", delegation="gt")
    pid = seat(head)["participant_id"]
    await refused(
        head, {"type": "floor.cancel", "kind": "participant.leave", "participant_id": pid}
    )
    await refused(
        head,
        {
            "type": "floor.request",
            "kind": "participant.join",
            "participant_id": pid,
            "name": "Canciller",
            "role": "head",
            "delegation_id": "sv",
        },
    )
    # The frame above is read as what its type says: a request for "sv", refused.
    assert seat(head)["delegation_id"] == "gt"
    assert await refused(head, {"type": "floor.request", "delegation_id": "sv"}) == "forbidden"


async def test_every_type_with_every_reserved_field_acts_as_its_type_and_token(
    server: RunningServer, connect: ClientFactory
) -> None:
    """Every client command type x every reserved field, with assorted values.

    Whatever is injected, every event the frame causes has the sender as its
    actor, nobody's role or delegation changes and nobody joins or leaves.
    """
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    head = await enter(connect, name="Canciller", role="head", delegation="gt")
    rng = random.Random(10)
    values: list[object] = [
        "participant.join",
        "participant.leave",
        "chair",
        "system",
        None,
        True,
        0,
        -1,
        10**400,
        "gt",
        {"id": "sv"},
        [],
        "",
        "u-nobody",
    ]
    examples = {e["type"]: e for e in documented_examples() if e["type"] in ROOM_COMMAND_TYPES}
    before = {
        p["participant_id"]: (p["role"], p["delegation_id"]) for p in chair.room["participants"]
    }
    for sender in (head, chair):
        await _every_type_with_every_field(sender, values, rng, examples, before)
    assert chair.close_code is None and head.close_code is None


async def _every_type_with_every_field(
    sender: PalabraClient,
    values: list[object],
    rng: random.Random,
    examples: dict[str, dict[str, Any]],
    before: dict[str, tuple[str, str | None]],
) -> None:
    pid = seat(sender)["participant_id"]
    for kind in sorted(ROOM_COMMAND_TYPES - {"conference.close"}):
        for name in RESERVED:
            frame = {**examples[kind], name: rng.choice(values), "id": sender.next_id()}
            seen = len(sender.room_events)
            ref = frame["id"]
            await sender.send_raw(json.dumps(frame))
            try:
                await sender.wait_for(lambda ref=ref: _answered(sender, ref))
            except TimeoutError:
                raise AssertionError((frame, sender.messages[-3:], sender.close_code)) from None
            for event in sender.room_events[seen:]:
                assert event["actor"] in (pid, SYSTEM), (frame, event)
            now = {
                p["participant_id"]: (p["role"], p["delegation_id"])
                for p in sender.room["participants"]
            }
            assert now == before, frame


def _answered(client: PalabraClient, ref: object) -> bool:
    return any(getattr(m, "ref", None) == ref for m in client.messages)


async def test_a_seat_that_left_gets_no_more_offers(
    server: RunningServer, connect: ClientFactory
) -> None:
    """However a seat ends while connected, its connection is closed: no ghost."""
    ghost = await enter(connect, name="Fantasma", role="observer", delegation=None)
    pid = seat(ghost)["participant_id"]
    conference = server.palabra.conferences["demo"]
    await conference.execute(LeaveConference(pid, reason="left"), SYSTEM)
    await ghost.wait_for(lambda: ghost.closed.is_set())
    offers = sum(isinstance(m, SubscribeOffer) for m in ghost.messages)
    await enter(connect, name="Nueva", role="head", delegation="sv")  # would renegotiate everyone
    assert sum(isinstance(m, SubscribeOffer) for m in ghost.messages) == offers
    assert pid not in conference.members


# The construction itself, for every value hypothesis can think of. -------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_DOCUMENTED = {e["type"]: e for e in documented_examples() if e["type"] in ROOM_COMMAND_TYPES}


@settings_(max_examples=600, deadline=None)
@given(
    kind=st.sampled_from(sorted(ROOM_COMMAND_TYPES)),
    injected=st.dictionaries(st.sampled_from((*RESERVED, "type", "id", "requested_by")), _json),
)
def test_reserved_fields_never_choose_the_command(kind: str, injected: dict[str, Any]) -> None:
    """Any reserved field with any value: the command is the type's, or refused as invalid."""
    frame = {**_DOCUMENTED[kind], **injected, "type": kind}
    frame.pop("id", None)
    try:
        message = parse_client_message(json.dumps(frame))
    except ProtocolError:
        return  # a malformed frame is refused before it is a command
    assert isinstance(message, RoomCommand) and message.kind == kind
    try:
        command = command_from_client(message)
    except RoomError as exc:
        assert exc.code.value == "invalid_argument"
        return
    assert type(command) is COMMAND_TYPES[kind] and command.kind == kind
    assert not {"actor", "role", "delegation"} & set(vars(command))
