"""Simultaneous interpretation: floor languages, channels, booths and their interpreters.

A channel carries one target language; its booth seats the interpreters
assigned to it. At most one interpreter of a booth is **active** (on air): the
SFU forwards that interpreter's audio as the channel, the others are passive
and hear the active partner. Each interpreter works from a **source**: the
floor (the original) or another open channel (relay, a pivot language).

State only, evolved by `InterpretationEvent`s; the rules that produce them
are in :mod:`rooms.interpretation_rules`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ._codec import JSON
from .events import (
    ChannelClosed,
    ChannelOpened,
    HandedOver,
    HandoverRequested,
    InterpretationEvent,
    InterpreterAssigned,
    InterpreterUnassigned,
    LanguagesSet,
    ShiftEnded,
    ShiftStarted,
    SlowDownAsked,
    SourceChanged,
)
from .languages import FLOOR

__all__ = ["Booth", "Interpretation", "InterpreterSeat"]


@dataclass(frozen=True)
class InterpreterSeat:
    participant_id: str
    booth: str  # the target language
    working_languages: tuple[str, ...]
    source: str = FLOOR  # "floor" or the language of a channel (relay)


@dataclass(frozen=True)
class Booth:
    """The booth of one target language; its channel is open or closed."""

    language: str
    open: bool = False
    active: str | None = None  # the interpreter on air
    handover_to: str | None = None  # a passive partner who asked for the microphone
    since: float | None = None  # start of the active interpreter's shift


class Interpretation:
    def __init__(self) -> None:
        self.languages: tuple[str, ...] = ()
        self._booths: dict[str, Booth] = {}
        self._seats: dict[str, InterpreterSeat] = {}

    def copy(self) -> Interpretation:
        other = Interpretation()
        other.languages = self.languages
        other._booths = dict(self._booths)
        other._seats = dict(self._seats)
        return other

    # Queries ---------------------------------------------------------------------

    @property
    def booths(self) -> Mapping[str, Booth]:
        return MappingProxyType(self._booths)

    @property
    def seats(self) -> Mapping[str, InterpreterSeat]:
        return MappingProxyType(self._seats)

    def open_channels(self) -> tuple[str, ...]:
        return tuple(b.language for b in self._booths.values() if b.open)

    def is_open(self, language: str) -> bool:
        booth = self._booths.get(language)
        return booth is not None and booth.open

    def partners(self, booth: str) -> list[InterpreterSeat]:
        return [s for s in self._seats.values() if s.booth == booth]

    def active_in(self, booth: str) -> str | None:
        found = self._booths.get(booth)
        return found.active if found is not None else None

    def is_active(self, participant_id: str) -> bool:
        seat = self._seats.get(participant_id)
        return seat is not None and self.active_in(seat.booth) == participant_id

    def active_interpreters(self) -> dict[str, str]:
        """Open channel -> the interpreter on air in it."""
        return {
            b.language: b.active for b in self._booths.values() if b.open and b.active is not None
        }

    def hears(self, participant_id: str) -> tuple[str | None, str | None]:
        """What an interpreter hears besides nothing else: (source channel, partner channel).

        The source channel is None when the source is the floor (heard as the
        floor). The partner channel is the own booth's while the interpreter is
        passive and a partner is on air: never one's own voice back.
        """
        seat = self._seats.get(participant_id)
        if seat is None:
            return None, None
        source = seat.source if seat.source != FLOOR and self.is_open(seat.source) else None
        booth = self._booths.get(seat.booth)
        partner = None
        if booth is not None and booth.open and booth.active not in (None, participant_id):
            partner = seat.booth
        return source, partner

    def snapshot(self) -> dict[str, JSON]:
        return {
            "languages": list(self.languages),
            "channels": [
                {
                    "language": b.language,
                    "open": b.open,
                    "active": b.active,
                    "since": b.since,
                    "handover_to": b.handover_to,
                    "interpreters": [
                        {
                            "participant_id": s.participant_id,
                            "working_languages": list(s.working_languages),
                            "source": s.source,
                            "active": b.active == s.participant_id,
                        }
                        for s in self.partners(b.language)
                    ],
                }
                for b in self._booths.values()
            ],
        }

    # Applying --------------------------------------------------------------------

    def apply(self, event: InterpretationEvent) -> None:
        booths, seats = self._booths, self._seats
        match event:
            case LanguagesSet():
                self.languages = event.languages
            case ChannelOpened():
                booth = booths.get(event.language) or Booth(event.language)
                booths[event.language] = dataclasses.replace(booth, open=True)
            case ChannelClosed():
                booths[event.language] = dataclasses.replace(
                    booths[event.language], open=False, handover_to=None
                )
            case InterpreterAssigned():
                booths.setdefault(event.booth, Booth(event.booth))
                seats[event.participant_id] = InterpreterSeat(
                    event.participant_id, event.booth, event.working_languages
                )
            case InterpreterUnassigned():
                del seats[event.participant_id]
                self._clear_request(event.booth, event.participant_id)
            case SourceChanged():
                seat = seats[event.participant_id]
                seats[event.participant_id] = dataclasses.replace(seat, source=event.source)
            case ShiftStarted():
                booths[event.booth] = dataclasses.replace(
                    booths[event.booth], active=event.participant_id, since=event.at
                )
                self._clear_request(event.booth, event.participant_id)
            case ShiftEnded():
                booths[event.booth] = dataclasses.replace(
                    booths[event.booth], active=None, since=None
                )
            case HandoverRequested():
                booths[event.booth] = dataclasses.replace(
                    booths[event.booth], handover_to=event.participant_id
                )
            case HandedOver():
                booths[event.booth] = dataclasses.replace(
                    booths[event.booth], active=event.to_id, since=event.at, handover_to=None
                )
            case SlowDownAsked():
                pass  # a signal for the chair, kept in the minutes only
            case _:
                raise TypeError(f"unknown interpretation event {event!r}")

    def departed(self, participant_id: str) -> None:
        """The participant left the room: a handover they asked for lapses."""
        seat = self._seats.get(participant_id)
        if seat is not None:
            self._clear_request(seat.booth, participant_id)

    def _clear_request(self, booth: str, participant_id: str) -> None:
        found = self._booths.get(booth)
        if found is not None and found.handover_to == participant_id:
            self._booths[booth] = dataclasses.replace(found, handover_to=None)

    def state(self) -> tuple[object, ...]:
        """Everything, for equality of whole conferences."""
        return (self.languages, self._booths, self._seats)
