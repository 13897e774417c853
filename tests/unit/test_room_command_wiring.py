"""The protocol routes exactly the room commands a client may send."""

from rooms import COMMAND_TYPES
from signaling import ROOM_COMMAND_TYPES

# Issued by the server itself: creating the conference, joining and leaving.
SERVER_ONLY = {"conference.create", "delegation.add", "participant.join", "participant.leave"}


def test_every_client_command_exists_in_the_domain() -> None:
    assert set(COMMAND_TYPES) >= ROOM_COMMAND_TYPES


def test_only_server_commands_are_not_routed() -> None:
    assert set(COMMAND_TYPES) - ROOM_COMMAND_TYPES == SERVER_ONLY
