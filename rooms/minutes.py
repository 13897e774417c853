"""The minutes: the event log, read.

Pure functions of the events (nothing else is consulted), so the minutes of a
finished meeting never change and a running one's can be drawn at any time:

    minutes = build_minutes(events, now=now)   # now: to count a speech still running
    minutes.to_dict(); minutes.to_csv(); minutes.totals_csv(); minutes.to_markdown()
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ._codec import JSON, encode
from .events import (
    ChannelClosed,
    ChannelOpened,
    ConferenceClosed,
    ConferenceCreated,
    DelegatesMayRequestChanged,
    DelegationAdded,
    Event,
    FloorAccepted,
    FloorCancelled,
    FloorDenied,
    FloorGranted,
    FloorOvertime,
    FloorReleased,
    FloorReordered,
    FloorRequested,
    FloorRevoked,
    FloorTimeChanged,
    FloorWarning,
    HandedOver,
    HandoverRequested,
    InterpreterAssigned,
    InterpreterUnassigned,
    LanguagesSet,
    ParticipantAdmitted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMuted,
    ParticipantRejected,
    ParticipantRemoved,
    ParticipantUnmuted,
    ParticipantWaiting,
    RecordingStarted,
    RecordingStopped,
    RoomLocked,
    RoomUnlocked,
    SettingsChanged,
    ShiftEnded,
    ShiftStarted,
    SlowDownAsked,
    SourceChanged,
    SystemReason,
)
from .permissions import SYSTEM
from .priority import Priority

__all__ = ["DelegationTotal", "Entry", "Intervention", "Minutes", "Shift", "build_minutes"]


@dataclass(frozen=True)
class Intervention:
    """One granted floor, from grant to its end."""

    number: int  # in order of grant, from 1
    request_id: str
    delegation_id: str
    delegation: str
    country_code: str
    speaker_id: str | None
    speaker: str | None
    priority: Priority
    on_behalf: bool
    granted_by: str
    start: float
    end: float | None  # None while the delegation still holds the floor
    duration: float | None  # end - start; up to `now` for a running one, when given
    time_limit: float | None
    overtime: bool  # spoke past the limit, into the grace period
    ended: str | None  # "released" (yielded) or "revoked"
    ended_by: str | None
    end_reason: str | None


@dataclass(frozen=True)
class DelegationTotal:
    delegation_id: str
    delegation: str
    country_code: str
    interventions: int
    speaking_time: float


@dataclass(frozen=True)
class Shift:
    """One interpreter on air in one booth, from going on air (or taking over) to the end."""

    booth: str  # the channel's language
    participant_id: str
    interpreter: str
    start: float
    end: float | None  # None while on air
    duration: float | None
    ended: str | None  # "off_air" (by choice or see end_reason) or "handed_over"
    end_reason: str | None


@dataclass(frozen=True)
class Entry:
    """One line of the record of proceedings: one event, in words."""

    at: float
    type: str
    text: str


@dataclass(frozen=True)
class Minutes:
    title: str | None
    opened_at: float | None
    closed_at: float | None
    interventions: tuple[Intervention, ...]
    totals: tuple[DelegationTotal, ...]
    record: tuple[Entry, ...]
    shifts: tuple[Shift, ...] = ()  # interpretation, in order of start

    def to_dict(self) -> dict[str, JSON]:
        encoded = encode(self)
        assert isinstance(encoded, dict)
        return encoded

    def to_csv(self) -> str:
        """The intervention log, one row per intervention; times in ISO 8601 UTC."""
        rows = [
            {
                **{name: _csv_value(getattr(i, name)) for name in _INTERVENTION_COLUMNS},
                "start": _iso(i.start),
                "end": _iso(i.end),
            }
            for i in self.interventions
        ]
        return _csv(_INTERVENTION_COLUMNS, rows)

    def totals_csv(self) -> str:
        columns = [f.name for f in dataclasses.fields(DelegationTotal)]
        return _csv(columns, [{n: _csv_value(getattr(t, n)) for n in columns} for t in self.totals])

    def to_markdown(self) -> str:
        lines = [f"# Minutes: {_md(self.title or 'untitled conference')}", ""]
        closed = _when(self.closed_at) if self.closed_at is not None else "still in session"
        lines += [f"Opened {_when(self.opened_at)}; closed {closed}.", ""]
        lines += ["## Interventions", ""]
        if self.interventions:
            lines += [
                "| # | Delegation | Speaker | Priority | Start | End | Duration | Ended |",
                "| ---: | --- | --- | --- | --- | --- | ---: | --- |",
            ]
            lines += [
                f"| {i.number} | {_md(i.delegation)} ({i.country_code}) | {_md(i.speaker or '')} "
                f"| {_PRIORITY_WORDS[i.priority]} | {_hms(i.start)} | {_hms(i.end)} "
                f"| {_duration(i.duration)} | {_md(_ending(i))} |"
                for i in self.interventions
            ]
        else:
            lines.append("No one has held the floor.")
        lines += ["", "## Speaking time per delegation", ""]
        lines += ["| Delegation | Interventions | Speaking time |", "| --- | ---: | ---: |"]
        lines += [
            f"| {_md(t.delegation)} ({t.country_code}) | {t.interventions} "
            f"| {_duration(t.speaking_time)} |"
            for t in self.totals
        ]
        if self.shifts:
            lines += ["", "## Interpretation shifts", ""]
            lines += [
                "| Booth | Interpreter | Start | End | Duration |",
                "| --- | --- | --- | --- | ---: |",
            ]
            lines += [
                f"| {s.booth} | {_md(s.interpreter)} | {_hms(s.start)} | {_hms(s.end)} "
                f"| {_duration(s.duration)} |"
                for s in self.shifts
            ]
        lines += ["", "## Record of proceedings", ""]
        lines += [f"- {_hms(e.at)} {_md(e.text)}" for e in self.record]
        return "\n".join(lines) + "\n"


_INTERVENTION_COLUMNS = [f.name for f in dataclasses.fields(Intervention)]
_PRIORITY_WORDS = {
    Priority.POINT_OF_ORDER: "point of order",
    Priority.RIGHT_OF_REPLY: "right of reply",
    Priority.ORDINARY: "ordinary",
}
_SETTING_WORDS = {
    "default_time_limit": "the default speaking time",
    "max_holders": "the number of delegations that may hold the floor at once",
    "open_floor": "the open floor",
}
_SYSTEM_REASON_WORDS: dict[str, str] = {
    SystemReason.AUTO_ACCEPT: "automatically",
    SystemReason.TIME_LIMIT: "speaking time over",
    SystemReason.DELEGATION_ABSENT: "the delegation left",
    SystemReason.CONFERENCE_CLOSED: "the conference closed",
    SystemReason.CHANNEL_CLOSED: "the channel closed",
    SystemReason.INTERPRETER_DROPPED: "connection lost",
    SystemReason.INTERPRETER_LEFT: "the interpreter left",
}


def build_minutes(events: Iterable[Event], now: float | None = None) -> Minutes:
    reader = _Reader()
    for event in events:
        reader.read(event)
    return reader.minutes(now)


class _Reader:
    """Walks the log once, keeping names, requests and interventions as they were."""

    def __init__(self) -> None:
        self.title: str | None = None
        self.opened_at: float | None = None
        self.closed_at: float | None = None
        self.names: dict[str, str] = {SYSTEM: "The system"}
        self.delegations: dict[str, DelegationAdded] = {}
        self.requests: dict[str, FloorRequested] = {}
        self.interventions: dict[str, Intervention] = {}
        self.shifts: list[Shift] = []
        self.on_air: dict[str, int] = {}  # booth -> index of its running shift
        self.record: list[Entry] = []

    def name(self, participant_id: str | None) -> str:
        if participant_id is None:
            return ""
        return self.names.get(participant_id, participant_id)

    def delegation(self, delegation_id: str) -> str:
        added = self.delegations.get(delegation_id)
        return added.name if added else delegation_id

    def read(self, event: Event) -> None:
        match event:
            case ConferenceCreated():
                self.title, self.opened_at = event.title, event.at
            case ConferenceClosed():
                self.closed_at = event.at
            case DelegationAdded():
                self.delegations[event.delegation_id] = event
            case ParticipantJoined() | ParticipantWaiting():
                self.names[event.participant_id] = event.name
            case FloorRequested():
                self.requests[event.request_id] = event
            case FloorGranted():
                self._granted(event)
            case FloorTimeChanged() | FloorOvertime() | FloorReleased() | FloorRevoked():
                self._turn_changed(event)
            case ShiftStarted():
                self._shift_starts(event.booth, event.participant_id, event.at)
            case ShiftEnded():
                self._shift_ends(event.booth, event.at, "off_air", event.reason)
            case HandedOver():
                self._shift_ends(event.booth, event.at, "handed_over", event.reason)
                self._shift_starts(event.booth, event.to_id, event.at)
        self.record.append(Entry(event.at, event.type, self.describe(event)))

    def _granted(self, event: FloorGranted) -> None:
        request = self.requests[event.request_id]
        added = self.delegations.get(event.delegation_id)
        self.interventions[event.request_id] = Intervention(
            number=len(self.interventions) + 1,
            request_id=event.request_id,
            delegation_id=event.delegation_id,
            delegation=self.delegation(event.delegation_id),
            country_code=added.country_code if added else "",
            speaker_id=request.speaker_id,
            speaker=self.name(request.speaker_id) or None,
            priority=request.priority,
            on_behalf=request.on_behalf,
            granted_by=self.name(event.actor),
            start=event.at,
            end=None,
            duration=None,
            time_limit=event.time_limit,
            overtime=False,
            ended=None,
            ended_by=None,
            end_reason=None,
        )

    def _shift_starts(self, booth: str, participant_id: str, at: float) -> None:
        self.on_air[booth] = len(self.shifts)
        name = self.name(participant_id)
        self.shifts.append(Shift(booth, participant_id, name, at, None, None, None, None))

    def _shift_ends(self, booth: str, at: float, ended: str, reason: str | None) -> None:
        index = self.on_air.pop(booth)
        shift = self.shifts[index]
        self.shifts[index] = dataclasses.replace(
            shift, end=at, duration=at - shift.start, ended=ended, end_reason=reason
        )

    def _turn_changed(
        self, event: FloorTimeChanged | FloorOvertime | FloorReleased | FloorRevoked
    ) -> None:
        current = self.interventions[event.request_id]
        match event:
            case FloorTimeChanged():
                changed = dataclasses.replace(current, time_limit=event.time_limit)
            case FloorOvertime():
                changed = dataclasses.replace(current, overtime=True)
            case _:
                changed = dataclasses.replace(
                    current,
                    end=event.at,
                    duration=event.at - current.start,
                    ended=event.type.removeprefix("floor."),
                    ended_by=self.name(event.actor),
                    end_reason=event.reason,
                )
        self.interventions[event.request_id] = changed

    def minutes(self, now: float | None) -> Minutes:
        interventions = tuple(
            dataclasses.replace(i, duration=max(0.0, now - i.start))
            if i.end is None and now is not None
            else i
            for i in self.interventions.values()
        )
        totals = tuple(
            DelegationTotal(
                delegation_id=d.delegation_id,
                delegation=d.name,
                country_code=d.country_code,
                interventions=sum(1 for i in interventions if i.delegation_id == d.delegation_id),
                speaking_time=sum(
                    i.duration or 0.0 for i in interventions if i.delegation_id == d.delegation_id
                ),
            )
            for d in self.delegations.values()
        )
        shifts = tuple(
            dataclasses.replace(s, duration=max(0.0, now - s.start))
            if s.end is None and now is not None
            else s
            for s in self.shifts
        )
        return Minutes(
            self.title,
            self.opened_at,
            self.closed_at,
            interventions,
            totals,
            tuple(self.record),
            shifts,
        )

    def describe(self, event: Event) -> str:
        text = self._sentence(event)
        if event.reason is not None:
            text += f" ({_SYSTEM_REASON_WORDS.get(event.reason, event.reason)})"
        return text

    def _sentence(self, event: Event) -> str:
        who = self.name(event.actor)
        match event:
            case ConferenceCreated():
                return f"{who} opened the conference “{event.title}”"
            case ConferenceClosed():
                return f"{who} closed the conference"
            case RoomLocked():
                return f"{who} locked the room"
            case RoomUnlocked():
                return f"{who} unlocked the room"
            case RecordingStarted():
                return f"{who} started recording the floor"
            case RecordingStopped():
                return f"{who} stopped recording the floor"
            case SettingsChanged():
                changes = ", ".join(
                    f"{_SETTING_WORDS.get(name, name)} to {_setting(getattr(event.settings, name))}"
                    for name in event.changed
                )
                return f"{who} set {changes}"
            case DelegationAdded():
                return f"Delegation of {event.name} ({event.country_code}) added"
            case DelegatesMayRequestChanged():
                verb = "allowed" if event.allowed else "stopped"
                delegation = self.delegation(event.delegation_id)
                return f"{who} {verb} the delegates of {delegation} to ask for the floor"
            case ParticipantJoined():
                return f"{event.name} ({self._badge(event)}) joined"
            case ParticipantWaiting():
                return f"{event.name} ({self._badge(event)}) is waiting in the lobby"
            case ParticipantAdmitted():
                return f"{who} admitted {self.name(event.participant_id)}"
            case ParticipantRejected():
                return f"{who} turned away {self.name(event.participant_id)}"
            case ParticipantLeft():
                return f"{self.name(event.participant_id)} left"
            case ParticipantRemoved():
                return f"{who} removed {self.name(event.participant_id)}"
            case ParticipantMuted():
                return f"{who} muted {self.name(event.participant_id)}"
            case ParticipantUnmuted():
                return f"{who} unmuted {self.name(event.participant_id)}"
        return self._floor_sentence(event, who)

    def _interpretation_sentence(self, event: Event, who: str) -> str:
        match event:
            case LanguagesSet():
                return f"{who} set the floor languages to {', '.join(event.languages) or 'none'}"
            case ChannelOpened():
                return f"{who} opened the {event.language} interpretation channel"
            case ChannelClosed():
                return f"{who} closed the {event.language} interpretation channel"
            case InterpreterAssigned():
                languages = ", ".join(event.working_languages)
                interpreter = self.name(event.participant_id)
                return f"{who} seated {interpreter} in the {event.booth} booth ({languages})"
            case InterpreterUnassigned():
                interpreter = self.name(event.participant_id)
                return f"{who} took {interpreter} out of the {event.booth} booth"
            case SourceChanged():
                interpreter = self.name(event.participant_id)
                return f"{interpreter} ({event.booth}) works from {event.source}"
            case ShiftStarted():
                return f"{self.name(event.participant_id)} went on air in {event.booth}"
            case ShiftEnded():
                return f"{self.name(event.participant_id)} went off air in {event.booth}"
            case HandoverRequested():
                interpreter = self.name(event.participant_id)
                return f"{interpreter} asked to take over in {event.booth}"
            case HandedOver():
                giver, taker = self.name(event.from_id), self.name(event.to_id)
                return f"{giver} handed {event.booth} over to {taker}"
            case SlowDownAsked():
                interpreter = self.name(event.participant_id)
                return f"{interpreter} ({event.booth}) asked the speaker to slow down"
        return event.type

    def _floor_sentence(self, event: Event, who: str) -> str:
        match event:
            case FloorRequested():
                delegation = self.delegation(event.delegation_id)
                kind = _PRIORITY_WORDS[event.priority]
                on_behalf = " on its behalf" if event.on_behalf else ""
                return f"{who} asked for the floor for {delegation}{on_behalf} ({kind})"
            case FloorAccepted():
                delegation = self.delegation(event.delegation_id)
                return f"{delegation} is number {event.position} on the speakers list"
            case FloorReordered():
                delegation = self.delegation(event.delegation_id)
                return f"{who} moved {delegation} to number {event.position} on the speakers list"
            case FloorGranted():
                limit = _duration(event.time_limit) if event.time_limit else "no limit"
                delegation = self.delegation(event.delegation_id)
                return f"{who} gave the floor to {delegation} ({limit})"
            case FloorTimeChanged():
                limit = _duration(event.time_limit) if event.time_limit else "no limit"
                delegation = self.delegation(event.delegation_id)
                return f"{who} set the speaking time of {delegation} to {limit}"
            case FloorWarning():
                delegation = self.delegation(event.delegation_id)
                return f"{delegation} was warned: time ends at {_hms(event.expires_at)}"
            case FloorOvertime():
                delegation = self.delegation(event.delegation_id)
                return f"Time is up for {delegation}; grace until {_hms(event.revoke_at)}"
            case FloorDenied():
                return f"{who} denied the floor to {self.delegation(event.delegation_id)}"
            case FloorCancelled():
                delegation = self.delegation(event.delegation_id)
                return f"{who} withdrew the request of {delegation}"
            case FloorReleased():
                return f"{self.delegation(event.delegation_id)} yielded the floor"
            case FloorRevoked():
                return f"{who} ended the floor of {self.delegation(event.delegation_id)}"
        return self._interpretation_sentence(event, who)

    def _badge(self, event: ParticipantJoined | ParticipantWaiting) -> str:
        if event.delegation_id is None:
            return event.role.value
        return f"{event.role.value}, {self.delegation(event.delegation_id)}"


def _ending(intervention: Intervention) -> str:
    if intervention.ended is None:
        return "speaking"
    if intervention.ended == "released":
        return "yielded"
    words = _SYSTEM_REASON_WORDS.get(intervention.end_reason or "")
    return words or f"revoked by {intervention.ended_by}"


def _setting(value: object) -> str:
    if value is None:
        return "no limit"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return _duration(value)
    return str(value)


def _iso(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _hms(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _md(text: str) -> str:
    """Keep free text (names, reasons) from breaking a Markdown table or list."""
    return " ".join(text.split()).replace("|", "\\|")


# Cells a spreadsheet would read as a formula (OWASP "CSV injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: object) -> str | float | int | bool:
    if value is None:
        return ""
    encoded = encode(value)
    assert isinstance(encoded, str | float | int | bool)
    if isinstance(encoded, str) and encoded.startswith(_FORMULA_PREFIXES):
        return "'" + encoded  # shown as text, never evaluated
    return encoded


def _csv(columns: list[str], rows: list[dict[str, str | float | int | bool]]) -> str:
    out = io.StringIO()
    # RFC 4180 line ends: a CR inside a value is then quoted, never a bare row break.
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
