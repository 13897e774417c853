"""Who is told which messages: a message reaches only those who may read its thread.

Pure: the room's state in, what a member is sent out (rooms/messages.py says
who may read a thread).
"""

from __future__ import annotations

import dataclasses

from rooms import Conference
from rooms import messages as private
from rooms.events import Event, MessageSent
from signaling import MAX_HISTORY, MessageHistory, RoomUpdate


def readable(
    state: Conference, update: RoomUpdate, events: list[Event], pid: str
) -> RoomUpdate | None:
    """`update` as `pid` may see it: without the messages of threads it may not read.

    None when nothing in it is for `pid` (only others' messages): it is not
    told that a private message was sent at all.
    """
    if not any(isinstance(e, MessageSent) for e in events):
        return update
    kept = [
        e
        for e in events
        if not isinstance(e, MessageSent) or private.may_read(state, pid, e.thread)
    ]
    if not kept:
        return None
    if len(kept) == len(events):
        return update
    return dataclasses.replace(update, events=tuple(e.to_dict() for e in kept))


def message_history(state: Conference, pid: str) -> MessageHistory | None:
    """The messages of the threads a seat in the room may read (none in the lobby)."""
    if pid not in state.participants:
        return None
    visible = private.visible(state, pid, state.messages.all())
    if not visible:  # nothing to read yet: nothing to send (messages are never taken back)
        return None
    return MessageHistory(tuple(m.to_dict() for m in visible[-MAX_HISTORY:]))


__all__ = ["message_history", "readable"]
