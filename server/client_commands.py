"""A client's room message to a domain command: the wire type alone chooses it.

Who issues the command (its actor) and with which role and delegation never
come from the message: the conference takes them from the seat the verified
token opened. Only the commands listed in ROOM_COMMAND_TYPES can be built
here; system commands (joining, leaving, creating) cannot.
"""

from __future__ import annotations

from rooms import COMMAND_TYPES, Command, RoomError
from rooms.errors import ErrorCode
from signaling import ROOM_COMMAND_TYPES, RoomCommand

# Names a client may put in a message but that never reach a command: they
# belong to the message (`type`, `id`), to the issuer (`actor`, `role`,
# `delegation`) or to the event log (`kind`, `at`, `seq`).
RESERVED_FIELDS = frozenset(
    {"type", "id", "kind", "actor", "role", "delegation", "at", "seq", "requested_by"}
)


def command_from_client(message: RoomCommand) -> Command:
    """The command `message` asks for; RoomError(invalid_argument) if its fields are bad."""
    if message.kind not in ROOM_COMMAND_TYPES:
        raise RoomError(ErrorCode.INVALID_ARGUMENT, f"{message.kind!r} is not a room command")
    arguments = {k: v for k, v in message.fields.items() if k not in RESERVED_FIELDS}
    return COMMAND_TYPES[message.kind].from_arguments(arguments)
