"""Private messages: each delegation with the secretariat, technicians with any seat.

Every message belongs to one **thread**, named by a string:

- ``delegation:<id>``: the delegation and the secretariat (every chair seat);
  read and written by the chairs and by the delegation's own members;
- ``seat:<participant id>``: the technicians and one seat ("we can't hear
  you"); read and written by the technicians and by that seat;
- ``everyone``: the public chat, open only while the chair allows it
  (``Settings.public_chat``); read and written by everyone in the room.

Who may read a thread is the one rule (`may_read`) that the service applies
before anything with a message leaves the server. Messages are events of the
conference log (they survive a restart) but are not in the public minutes.

State only, evolved by `MessageSent`; the rules that produce it are `decide`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from . import commands as c
from ._codec import JSON, encode
from .errors import ErrorCode, RoomError
from .events import MessageSent
from .participant import Participant
from .permissions import SYSTEM, scope_of
from .roles import Role

if TYPE_CHECKING:
    from .conference import Conference
    from .decisions import Draft

__all__ = [
    "EVERYONE",
    "MAX_MESSAGES",
    "Message",
    "Messages",
    "decide",
    "delegation_thread",
    "may_read",
    "may_write",
    "readers",
    "seat_thread",
    "visible",
]

EVERYONE: Final = "everyone"
_DELEGATION: Final = "delegation:"
_SEAT: Final = "seat:"
# Messages one conference keeps: a bound on its state and log, far above a day's talk.
MAX_MESSAGES: Final = 10_000


def delegation_thread(delegation_id: str) -> str:
    return f"{_DELEGATION}{delegation_id}"


def seat_thread(participant_id: str) -> str:
    return f"{_SEAT}{participant_id}"


@dataclass(frozen=True)
class Message:
    """One message as a reader sees it (the event, without the log's bookkeeping)."""

    message_id: str
    thread: str
    at: float
    sender_id: str
    sender_name: str
    sender_role: Role
    sender_delegation: str | None
    text: str

    def to_dict(self) -> dict[str, JSON]:
        encoded = encode(self)
        assert isinstance(encoded, dict)
        return encoded


class Messages:
    """Every message of the conference, oldest first."""

    def __init__(self) -> None:
        self._all: list[Message] = []

    def copy(self) -> Messages:
        other = Messages()
        other._all = list(self._all)
        return other

    def apply(self, event: MessageSent) -> None:
        self._all.append(
            Message(
                event.message_id,
                event.thread,
                event.at,
                event.actor,
                event.sender_name,
                event.sender_role,
                event.sender_delegation,
                event.text,
            )
        )

    def __len__(self) -> int:
        return len(self._all)

    def all(self) -> tuple[Message, ...]:
        return tuple(self._all)

    def state(self) -> list[Message]:
        return list(self._all)


# Who may read and write ----------------------------------------------------------


def may_read(state: Conference, participant_id: str, thread: str) -> bool:
    """Whether the participant may see the thread's messages now.

    Only participants in the room read (not the lobby, not someone gone):
    the chairs every delegation's thread, a delegation's members its own,
    the technicians every seat's thread, a seat its own, everyone the
    public one.
    """
    reader = state.participants.get(participant_id)
    if reader is None:
        return False
    if thread == EVERYONE:
        return True
    if thread.startswith(_DELEGATION):
        delegation_id = thread.removeprefix(_DELEGATION)
        return reader.role is Role.CHAIR or reader.delegation_id == delegation_id
    if thread.startswith(_SEAT):
        return reader.role is Role.TECHNICIAN or participant_id == thread.removeprefix(_SEAT)
    return False


def readers(state: Conference, thread: str) -> frozenset[str]:
    """Everyone in the room who may read the thread."""
    return frozenset(pid for pid in state.participants if may_read(state, pid, thread))


def may_write(state: Conference, writer: Participant, thread: str) -> bool:
    """Whether `writer` may post to the thread (its target exists: see `decide`).

    Writing is reading's mirror, with one more condition for the public
    thread: the chair must have opened it.
    """
    if thread == EVERYONE:
        return state.settings.public_chat
    return may_read(state, writer.participant_id, thread)


def visible(state: Conference, participant_id: str, messages: Iterable[Message]) -> list[Message]:
    """The messages the participant may read, in order."""
    return [m for m in messages if may_read(state, participant_id, m.thread)]


# Rules ---------------------------------------------------------------------------


def _target_exists(state: Conference, thread: str) -> None:
    """not_found for a thread whose delegation or seat is not there."""
    if thread == EVERYONE:
        return
    if thread.startswith(_DELEGATION):
        delegation_id = thread.removeprefix(_DELEGATION)
        if delegation_id not in state.delegations:
            raise RoomError(ErrorCode.NOT_FOUND, f"no delegation {delegation_id!r}")
        return
    if thread.startswith(_SEAT):
        participant_id = thread.removeprefix(_SEAT)
        if participant_id not in state.participants:
            raise RoomError(ErrorCode.NOT_FOUND, f"{participant_id} is not in the room")
        return
    raise RoomError(ErrorCode.NOT_FOUND, f"no thread {thread!r}")


def decide(d: Draft, command: c.SendMessage, actor: str) -> None:
    state = d.state
    if actor == SYSTEM:
        raise RoomError(ErrorCode.FORBIDDEN, "messages are written by participants")
    writer = state.participants.get(actor)
    if writer is None:
        where = "waits in the lobby" if actor in state.lobby else "is not in the room"
        raise RoomError(ErrorCode.FORBIDDEN, f"{actor} {where}")
    if scope_of(writer.role, command.kind) is None:
        raise RoomError(ErrorCode.FORBIDDEN, f"a {writer.role.value} may not {command.kind}")
    _target_exists(state, command.to)
    if not may_write(state, writer, command.to):
        if command.to == EVERYONE:
            raise RoomError(ErrorCode.FORBIDDEN, "the chair has not opened the public chat")
        raise RoomError(ErrorCode.FORBIDDEN, f"a {writer.role.value} may not write to {command.to}")
    if len(state.messages) >= MAX_MESSAGES:
        raise RoomError(
            ErrorCode.LIMIT_REACHED, f"this conference has reached {MAX_MESSAGES} messages"
        )
    d.emit(
        MessageSent(
            f"m{len(state.messages) + 1}",
            command.to,
            writer.name,
            writer.role,
            writer.delegation_id,
            command.text,
            at=d.now,
            actor=actor,
        )
    )
