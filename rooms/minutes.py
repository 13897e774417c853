"""The minutes: the event log, read.

Pure functions of the events (nothing else is consulted), so the minutes of a
finished meeting never change and a running one's can be drawn at any time:

    minutes = build_minutes(events, now=now, language="es")   # now: a speech still running
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
from .business_minutes import BusinessReader, DecisionRecord, ItemRecord, RollCallRecord
from .events import (
    ChannelClosed,
    ChannelOpened,
    ConferenceClosed,
    ConferenceCreated,
    DelegatesMayRequestChanged,
    DelegationAdded,
    DevicesChecked,
    Event,
    FloorAccepted,
    FloorCancelled,
    FloorDenied,
    FloorEvent,
    FloorGranted,
    FloorOvertime,
    FloorPaused,
    FloorReleased,
    FloorReordered,
    FloorRequested,
    FloorResumed,
    FloorRevoked,
    FloorTimeChanged,
    FloorWarning,
    HandedOver,
    HandoverRequested,
    InterpreterAssigned,
    InterpreterUnassigned,
    LanguagesSet,
    MessageSent,
    ParticipantAdmitted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMuted,
    ParticipantPresenceChanged,
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
)
from .minutes_html import to_html
from .minutes_words import CSV_HEADERS, LANGUAGES, WORDS, clock_time, duration
from .permissions import SYSTEM
from .priority import Priority
from .roles import Role

__all__ = [
    "Attendance",
    "DelegationTotal",
    "Entry",
    "Intervention",
    "Minutes",
    "Shift",
    "build_minutes",
    "speaking_for",
]


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
    # Speaking time: end - start less the time the holder was disconnected;
    # up to `now` for a running one, when given.
    duration: float | None
    time_limit: float | None
    overtime: bool  # spoke past the limit, into the grace period
    ended: str | None  # "released" (yielded) or "revoked"
    ended_by: str | None
    end_reason: str | None
    disconnected: float  # seconds the holder had no connection (the clock stood still)
    disconnected_since: float | None  # while it has none now
    observer: bool = False  # an observer delegation's statement


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
class Attendance:
    """A delegation and the names of those of it who entered the room, in order."""

    delegation_id: str
    delegation: str
    country_code: str
    members: tuple[str, ...]
    observer: bool = False  # an observer delegation (no vote, not in the quorum)


@dataclass(frozen=True)
class Entry:
    """One line of the record of proceedings: one event, in words."""

    at: float
    type: str
    text: str


@dataclass(frozen=True)
class Minutes:
    language: str  # of the words: "es" or "en"
    title: str | None
    opened_at: float | None
    closed_at: float | None
    interventions: tuple[Intervention, ...]
    totals: tuple[DelegationTotal, ...]
    record: tuple[Entry, ...]
    shifts: tuple[Shift, ...] = ()  # interpretation, in order of start
    # The order of business: agenda items in order, roll calls and decisions.
    items: tuple[ItemRecord, ...] = ()
    roll_calls: tuple[RollCallRecord, ...] = ()
    decisions: tuple[DecisionRecord, ...] = ()
    # Who chaired, and who attended for each delegation (anyone who entered the room).
    chairs: tuple[str, ...] = ()
    attendance: tuple[Attendance, ...] = ()

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
        return _csv(_INTERVENTION_COLUMNS, rows, self.language)

    def to_html(self) -> str:
        """A printable page (the document to circulate; print it for the PDF)."""
        return to_html(self)

    def items_csv(self) -> str:
        """Speaking time per agenda item and delegation, against the budget."""
        rows = [
            {
                "item_id": item.item_id,
                "item": _csv_value(item.title),
                **{name: _csv_value(getattr(t, name)) for name in _ITEM_TIME_COLUMNS},
            }
            for item in self.items
            for t in item.times
        ]
        return _csv(["item_id", "item", *_ITEM_TIME_COLUMNS], rows, self.language)

    def totals_csv(self) -> str:
        columns = [f.name for f in dataclasses.fields(DelegationTotal)]
        rows = [{n: _csv_value(getattr(t, n)) for n in columns} for t in self.totals]
        return _csv(columns, rows, self.language)

    def to_markdown(self) -> str:
        w = WORDS[self.language]
        lines = [w["md.title"].format(title=_md(self.title or w["md.untitled"])), ""]
        opened = _when(self.opened_at)
        if self.closed_at is None:
            lines += [w["md.open"].format(opened=opened), ""]
        else:
            lines += [w["md.open_closed"].format(opened=opened, closed=_when(self.closed_at)), ""]
        lines += [w["md.interventions"], ""]
        if self.interventions:
            lines += [
                w["md.interventions_header"],
                "| ---: | --- | --- | --- | --- | --- | ---: | --- |",
            ]
            lines += [
                f"| {i.number} | {_md(speaking_for(i, w))} | {_md(i.speaker or '')} "
                f"| {w['priority.' + i.priority.value]} "
                f"| {clock_time(i.start)} | {clock_time(i.end)} "
                f"| {duration(i.duration)} | {_md(_ending(i, w))} |"
                for i in self.interventions
            ]
        else:
            lines.append(w["md.nobody"])
        lines += ["", w["md.totals"], ""]
        lines += [w["md.totals_header"], "| --- | ---: | ---: |"]
        lines += [
            f"| {_md(t.delegation)} ({t.country_code}) | {t.interventions} "
            f"| {duration(t.speaking_time)} |"
            for t in self.totals
        ]
        lines += _business_markdown(self, w)
        if self.shifts:
            lines += ["", w["md.shifts"], ""]
            lines += [w["md.shifts_header"], "| --- | --- | --- | --- | ---: |"]
            lines += [
                f"| {s.booth} | {_md(s.interpreter)} | {clock_time(s.start)} | {clock_time(s.end)} "
                f"| {duration(s.duration)} |"
                for s in self.shifts
            ]
        lines += ["", w["md.record"], ""]
        lines += [f"- {clock_time(e.at)} {_md(e.text)}" for e in self.record]
        return "\n".join(lines) + "\n"


_INTERVENTION_COLUMNS = [f.name for f in dataclasses.fields(Intervention)]
_ITEM_TIME_COLUMNS = [
    "delegation_id",
    "delegation",
    "turns",
    "spoken",
    "allowance",
    "extra",
    "over",
]
# Reasons that are not worth a word in the record (leaving on purpose says it all).
_SILENT_REASONS = frozenset({"left"})


def build_minutes(
    events: Iterable[Event], now: float | None = None, language: str = "en"
) -> Minutes:
    """The minutes of `events`, worded in `language` ("es" or "en")."""
    if language not in LANGUAGES:
        raise ValueError(f"no minutes in {language!r}; one of {', '.join(LANGUAGES)}")
    reader = _Reader(language)
    for event in events:
        reader.read(event)
    return reader.minutes(now)


class _Reader:
    """Walks the log once, keeping names, requests and interventions as they were."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.w = WORDS[language]
        self.title: str | None = None
        self.opened_at: float | None = None
        self.closed_at: float | None = None
        self.names: dict[str, str] = {SYSTEM: self.w["system"]}
        self.delegations: dict[str, DelegationAdded] = {}
        self.requests: dict[str, FloorRequested] = {}
        self.interventions: dict[str, Intervention] = {}
        self.shifts: list[Shift] = []
        self.on_air: dict[str, int] = {}  # booth -> index of its running shift
        self.record: list[Entry] = []
        self.business = BusinessReader(language, self.w, self.name, self.delegation)
        self.waiting: dict[str, ParticipantWaiting] = {}
        self.entered: list[ParticipantJoined | ParticipantWaiting] = []

    def name(self, participant_id: str | None) -> str:
        if participant_id is None:
            return ""
        return self.names.get(participant_id, participant_id)

    def delegation(self, delegation_id: str) -> str:
        added = self.delegations.get(delegation_id)
        return added.name if added else delegation_id

    def read(self, event: Event) -> None:
        if isinstance(event, MessageSent):
            return  # private correspondence, not the public record
        match event:
            case ConferenceCreated():
                self.title, self.opened_at = event.title, event.at
            case ConferenceClosed():
                self.closed_at = event.at
            case DelegationAdded():
                self.delegations[event.delegation_id] = event
            case ParticipantJoined() | ParticipantWaiting():
                self.names[event.participant_id] = event.name
                if isinstance(event, ParticipantJoined):
                    self.entered.append(event)
                else:
                    self.waiting[event.participant_id] = event
            case ParticipantAdmitted() if event.participant_id in self.waiting:
                self.entered.append(self.waiting.pop(event.participant_id))
            case FloorRequested():
                self.requests[event.request_id] = event
            case FloorGranted():
                self._granted(event)
            case (
                FloorTimeChanged()
                | FloorOvertime()
                | FloorPaused()
                | FloorResumed()
                | FloorReleased()
                | FloorRevoked()
            ):
                self._turn_changed(event)
            case ShiftStarted():
                self._shift_starts(event.booth, event.participant_id, event.at)
            case ShiftEnded():
                self._shift_ends(event.booth, event.at, "off_air", event.reason)
            case HandedOver():
                self._shift_ends(event.booth, event.at, "handed_over", event.reason)
                self._shift_starts(event.booth, event.to_id, event.at)
        self.business.read(event)
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
            disconnected=0.0,
            disconnected_since=None,
            observer=added is not None and added.observer,
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
        self,
        event: FloorTimeChanged
        | FloorOvertime
        | FloorPaused
        | FloorResumed
        | FloorReleased
        | FloorRevoked,
    ) -> None:
        current = self.interventions[event.request_id]
        match event:
            case FloorTimeChanged():
                changed = dataclasses.replace(current, time_limit=event.time_limit)
            case FloorOvertime():
                changed = dataclasses.replace(current, overtime=True)
            case FloorPaused():
                changed = dataclasses.replace(current, disconnected_since=event.at)
            case FloorResumed():
                changed = _reconnected(current, event.at)
            case _:
                current = _reconnected(current, event.at)
                changed = dataclasses.replace(
                    current,
                    end=event.at,
                    duration=max(0.0, event.at - current.start - current.disconnected),
                    ended=event.type.removeprefix("floor."),
                    ended_by=self.name(event.actor),
                    end_reason=event.reason,
                )
        self.interventions[event.request_id] = changed

    def minutes(self, now: float | None) -> Minutes:
        interventions = tuple(
            dataclasses.replace(i, duration=_spoken(i, now))
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
        items, roll_calls, decisions = self.business.records(
            interventions, list(self.delegations), now
        )
        return Minutes(
            self.language,
            self.title,
            self.opened_at,
            self.closed_at,
            interventions,
            totals,
            tuple(self.record),
            shifts,
            items,
            roll_calls,
            decisions,
            *self._attendance(),
        )

    def _attendance(self) -> tuple[tuple[str, ...], tuple[Attendance, ...]]:
        chairs = _unique(e.name for e in self.entered if e.role is Role.CHAIR)
        attendance = tuple(
            Attendance(
                d.delegation_id,
                d.name,
                d.country_code,
                _unique(e.name for e in self.entered if e.delegation_id == d.delegation_id),
                observer=d.observer,
            )
            for d in self.delegations.values()
        )
        return chairs, attendance

    def describe(self, event: Event) -> str:
        text = self._sentence(event)
        reason = event.reason
        if reason is not None and reason not in _SILENT_REASONS:
            text += f" ({self.w.get('reason.' + reason, reason)})"
        return text

    def _sentence(self, event: Event) -> str:
        w, who = self.w, self.name(event.actor)
        match event:
            case ConferenceCreated():
                return w["opened"].format(who=who, title=event.title)
            case ConferenceClosed():
                return w["closed"].format(who=who)
            case RoomLocked():
                return w["locked"].format(who=who)
            case RoomUnlocked():
                return w["unlocked"].format(who=who)
            case RecordingStarted():
                return w["recording_started"].format(who=who)
            case RecordingStopped():
                return w["recording_stopped"].format(who=who)
            case SettingsChanged():
                changes = ", ".join(
                    w["setting_change"].format(
                        name=w.get("setting." + name, name),
                        value=self._setting(getattr(event.settings, name)),
                    )
                    for name in event.changed
                )
                return w["settings"].format(who=who, changes=changes)
            case DelegationAdded():
                return w["delegation_added"].format(name=event.name, code=event.country_code)
            case DelegatesMayRequestChanged():
                key = "delegates_allowed" if event.allowed else "delegates_stopped"
                return w[key].format(who=who, delegation=self.delegation(event.delegation_id))
            case ParticipantJoined():
                return w["joined"].format(name=event.name, badge=self._badge(event))
            case ParticipantWaiting():
                return w["waiting"].format(name=event.name, badge=self._badge(event))
            case ParticipantPresenceChanged():
                return w["presence." + event.presence.value].format(
                    name=self.name(event.participant_id)
                )
            case DevicesChecked():
                return w["devices_checked"].format(name=self.name(event.participant_id))
        return self._seat_sentence(event, who)

    def _seat_sentence(self, event: Event, who: str) -> str:
        w = self.w
        match event:
            case ParticipantAdmitted():
                return w["admitted"].format(who=who, name=self.name(event.participant_id))
            case ParticipantRejected():
                return w["rejected"].format(who=who, name=self.name(event.participant_id))
            case ParticipantLeft():
                return w["left"].format(name=self.name(event.participant_id))
            case ParticipantRemoved():
                return w["removed"].format(who=who, name=self.name(event.participant_id))
            case ParticipantMuted():
                return w["muted"].format(who=who, name=self.name(event.participant_id))
            case ParticipantUnmuted():
                return w["unmuted"].format(who=who, name=self.name(event.participant_id))
        return self._floor_sentence(event, who)

    def _interpretation_sentence(self, event: Event, who: str) -> str:
        w = self.w
        match event:
            case LanguagesSet():
                languages = ", ".join(event.languages) or w["none"]
                return w["languages_set"].format(who=who, languages=languages)
            case ChannelOpened():
                return w["channel_opened"].format(who=who, language=event.language)
            case ChannelClosed():
                return w["channel_closed"].format(who=who, language=event.language)
            case InterpreterAssigned():
                return w["interpreter_assigned"].format(
                    who=who,
                    name=self.name(event.participant_id),
                    booth=event.booth,
                    languages=", ".join(event.working_languages),
                )
            case InterpreterUnassigned():
                name = self.name(event.participant_id)
                return w["interpreter_unassigned"].format(who=who, name=name, booth=event.booth)
            case SourceChanged():
                name = self.name(event.participant_id)
                return w["source_changed"].format(name=name, booth=event.booth, source=event.source)
            case ShiftStarted():
                return w["on_air"].format(name=self.name(event.participant_id), booth=event.booth)
            case ShiftEnded():
                return w["off_air"].format(name=self.name(event.participant_id), booth=event.booth)
            case HandoverRequested():
                name = self.name(event.participant_id)
                return w["handover_requested"].format(name=name, booth=event.booth)
            case HandedOver():
                return w["handed_over"].format(
                    giver=self.name(event.from_id), taker=self.name(event.to_id), booth=event.booth
                )
            case SlowDownAsked():
                name = self.name(event.participant_id)
                return w["slow_down"].format(name=name, booth=event.booth)
        return self.business.sentence(event, who) or event.type

    def _floor_sentence(self, event: Event, who: str) -> str:
        w = self.w
        if not isinstance(event, FloorEvent):
            return self._interpretation_sentence(event, who)
        delegation = self.delegation(event.delegation_id)
        match event:
            case FloorRequested():
                key = "requested_on_behalf" if event.on_behalf else "requested"
                kind = w["priority." + event.priority.value]
                return w[key].format(who=who, delegation=delegation, kind=kind)
            case FloorAccepted():
                return w["accepted"].format(delegation=delegation, position=event.position)
            case FloorReordered():
                return w["reordered"].format(
                    who=who, delegation=delegation, position=event.position
                )
            case FloorGranted():
                limit = duration(event.time_limit) if event.time_limit else w["no_limit"]
                added = self.delegations.get(event.delegation_id)
                key = "granted_observer" if added is not None and added.observer else "granted"
                return w[key].format(who=who, delegation=delegation, limit=limit)
            case FloorTimeChanged():
                limit = duration(event.time_limit) if event.time_limit else w["no_limit"]
                return w["time_changed"].format(who=who, delegation=delegation, limit=limit)
            case FloorWarning():
                return w["warning"].format(delegation=delegation, time=clock_time(event.expires_at))
            case FloorOvertime():
                return w["overtime"].format(delegation=delegation, time=clock_time(event.revoke_at))
            case FloorPaused():
                return w["paused"].format(delegation=delegation)
            case FloorResumed():
                return w["resumed"].format(delegation=delegation)
            case FloorDenied():
                return w["denied"].format(who=who, delegation=delegation)
            case FloorCancelled():
                return w["cancelled"].format(who=who, delegation=delegation)
            case FloorReleased():
                return w["released"].format(delegation=delegation)
            case FloorRevoked():
                return w["revoked"].format(who=who, delegation=delegation)
        return self._interpretation_sentence(event, who)

    def _badge(self, event: ParticipantJoined | ParticipantWaiting) -> str:
        role = self.w["role." + event.role.value]
        if event.delegation_id is None:
            return role
        return f"{role}, {self.delegation(event.delegation_id)}"

    def _setting(self, value: object) -> str:
        if value is None:
            return self.w["no_limit"]
        if isinstance(value, bool):
            return self.w["on"] if value else self.w["off"]
        if isinstance(value, float):
            return duration(value)
        return str(value)


def _business_markdown(minutes: Minutes, w: dict[str, str]) -> list[str]:
    """The order of business: each item with its speakers, times, roll calls, decisions."""
    if not (minutes.items or minutes.roll_calls or minutes.decisions):
        return []
    lines = ["", w["md.agenda"]]
    roll_calls = {r.roll_call_id: r for r in minutes.roll_calls}
    decisions = {d.decision_id: d for d in minutes.decisions}
    for item in minutes.items:
        lines += ["", w["md.item"].format(number=item.number, title=_md(item.title)), ""]
        if item.opened_at is None:
            lines.append(w["md.item_upcoming"])
        else:
            lines.append(
                w["md.item_times"].format(
                    planned=duration(item.planned_duration) or "-",
                    opened=clock_time(item.opened_at),
                    closed=clock_time(item.closed_at) or "-",
                    duration=duration(item.duration) or "-",
                )
            )
        if item.inscribed:
            names = ", ".join(_md(n) for n in item.inscribed)
            lines.append(w["md.item_inscribed"].format(names=names))
        if item.interventions:
            numbers = ", ".join(str(n) for n in item.interventions)
            lines.append(w["md.item_speakers"].format(numbers=numbers))
        if item.times:
            lines += ["", w["md.item_times_header"], "| --- | ---: | ---: | ---: | ---: | ---: |"]
            lines += [
                f"| {_md(t.delegation)} | {t.turns} | {duration(t.spoken)} "
                f"| {duration(t.allowance) or '-'} | {duration(t.extra)} "
                f"| {duration(t.over)} |"
                for t in item.times
            ]
        business = [roll_calls.pop(r) for r in item.roll_calls if r in roll_calls]
        lines += _business_lines([*business], [decisions.pop(d) for d in item.decisions], w)
    if roll_calls or decisions:
        lines += ["", w["md.outside_items"]]
        lines += _business_lines(list(roll_calls.values()), list(decisions.values()), w)
    return lines


def _business_lines(
    roll_calls: list[RollCallRecord], decisions: list[DecisionRecord], w: dict[str, str]
) -> list[str]:
    lines: list[str] = []
    for call in roll_calls:
        if call.quorum_met is None:
            lines += ["", w["md.roll_call_open"].format(id=call.roll_call_id)]
            continue
        none = w["md.none"]
        lines += [
            "",
            w["md.roll_call"].format(
                id=call.roll_call_id,
                present=", ".join(_md(n) for n in call.present) or none,
                absent=", ".join(_md(n) for n in call.absent) or none,
                quorum=w["md.quorum_met" if call.quorum_met else "md.quorum_not_met"],
            ),
        ]
    for decision in decisions:
        result = w["md.pending" if decision.adopted is None else "md.adopted"]
        if decision.adopted is False:
            result = w["md.not_adopted"]
        key = "md.decision_vote" if decision.kind == "vote" else "md.decision_consensus"
        lines += [
            "",
            w[key].format(
                text=_md(decision.text),
                result=result,
                yes=decision.yes,
                no=decision.no,
                abstain=decision.abstain,
            ),
        ]
        if decision.ballots:
            ballots = ", ".join(
                f"{_md(b.delegation)}: {w['ballot.' + b.ballot]}" for b in decision.ballots
            )
            lines.append(w["md.ballots"].format(ballots=ballots))
        if decision.objections:
            names = ", ".join(_md(n) for n in decision.objections)
            lines.append(w["md.objections"].format(names=names))
    return lines


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _reconnected(intervention: Intervention, at: float) -> Intervention:
    """The intervention with a running disconnection (if any) ended at `at`."""
    since = intervention.disconnected_since
    if since is None:
        return intervention
    away = intervention.disconnected + max(0.0, at - since)
    return dataclasses.replace(intervention, disconnected=away, disconnected_since=None)


def _spoken(intervention: Intervention, now: float) -> float:
    """Speaking time of a running intervention by `now`, disconnections left out."""
    until = now if intervention.disconnected_since is None else intervention.disconnected_since
    return max(0.0, until - intervention.start - intervention.disconnected)


def speaking_for(intervention: Intervention, w: dict[str, str]) -> str:
    """The delegation and its code; an observer's intervention is marked as its statement."""
    who = f"{intervention.delegation} ({intervention.country_code})"
    return f"{who}, {w['observer_statement']}" if intervention.observer else who


def _ending(intervention: Intervention, w: dict[str, str]) -> str:
    if intervention.ended is None:
        return w["ending.speaking"]
    if intervention.ended == "released":
        return w["ending.yielded"]
    reason = intervention.end_reason or ""
    words = w.get("reason." + reason) if reason else None
    return words or w["ending.revoked_by"].format(name=intervention.ended_by)


def _iso(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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


def _csv(columns: list[str], rows: list[dict[str, str | float | int | bool]], language: str) -> str:
    out = io.StringIO()
    # RFC 4180 line ends: a CR inside a value is then quoted, never a bare row break.
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    headers = CSV_HEADERS.get(language, {})
    writer.writerow({c: headers.get(c, c) for c in columns})
    writer.writerows(rows)
    return out.getvalue()
