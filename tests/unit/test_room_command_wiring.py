"""The protocol routes exactly the room commands a client may send."""

import json
import re
from pathlib import Path

from rooms import COMMAND_TYPES, Command
from signaling import ROOM_COMMAND_TYPES

# Issued by the server itself: creating the conference, joining, leaving, presence.
SERVER_ONLY = {
    "conference.create",
    "delegation.add",
    "participant.join",
    "participant.leave",
    "participant.set_presence",
}


def test_every_client_command_exists_in_the_domain() -> None:
    assert set(COMMAND_TYPES) >= ROOM_COMMAND_TYPES


def test_only_server_commands_are_not_routed() -> None:
    assert set(COMMAND_TYPES) - ROOM_COMMAND_TYPES == SERVER_ONLY


def test_every_documented_room_command_is_accepted_by_the_domain() -> None:
    """The protocol reference's examples decode into domain commands as they are."""
    text = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    examples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]
    commands = [e for e in examples if e["type"] in ROOM_COMMAND_TYPES]
    assert {c["type"] for c in commands} == ROOM_COMMAND_TYPES
    for example in commands:
        fields = {k: v for k, v in example.items() if k not in ("type", "id")}
        Command.from_dict({"kind": example["type"], **fields})


def test_no_client_command_takes_a_reserved_field() -> None:
    """A reserved name is never read from a message: no client command may need one."""
    import dataclasses

    from server.client_commands import RESERVED_FIELDS

    for kind in ROOM_COMMAND_TYPES:
        names = {f.name for f in dataclasses.fields(COMMAND_TYPES[kind])}
        assert not names & RESERVED_FIELDS, kind
