"""Minutes: the intervention log, totals per delegation, CSV and Markdown."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from test_rooms_support import T0, meeting_and_log

from rooms import (
    CloseConference,
    GrantFloor,
    LeaveConference,
    Priority,
    ReleaseFloor,
    RequestFloor,
    RevokeFloor,
    SetDefaultTimeLimit,
    SetMaxHolders,
    SetOpenFloor,
    SetSpeakingTime,
    build_minutes,
)
from rooms.events import Event
from rooms.minutes_words import WORDS


def session() -> list[Event]:
    """Honduras yields, Guatemala is cut off by the chair, Costa Rica runs out of time
    (after an extension), Honduras again until its delegation leaves; then a grant is
    ended by the close."""
    conference, log = meeting_and_log(
        default_time_limit=60.0, warning_before=10.0, grace_period=5.0, max_holders=2
    )

    def run(command: object, actor: str, at: float) -> None:
        log.extend(conference.execute(command, actor, at))  # type: ignore[arg-type]

    run(RequestFloor("hn"), "hn_head", T0 + 10)  # r1
    run(RequestFloor("gt", Priority.RIGHT_OF_REPLY), "gt_head", T0 + 11)  # r2
    run(GrantFloor("r1"), "chair", T0 + 20)
    run(ReleaseFloor("r1"), "hn_head", T0 + 50)
    run(GrantFloor("r2", time_limit=120.0), "chair2", T0 + 60)
    run(RevokeFloor("r2", reason="off topic"), "chair", T0 + 100)
    run(RequestFloor("cr", speaker_id="cr_head"), "chair", T0 + 110)  # r3, on behalf
    run(GrantFloor("r3"), "chair", T0 + 120)
    run(SetSpeakingTime("r3", 90.0), "chair", T0 + 170)
    due = conference.tick(T0 + 400)
    conference.apply_all(due)
    log.extend(due)
    run(RequestFloor("hn", speaker_id="hn_del"), "chair", T0 + 400)  # r4
    run(GrantFloor("r4"), "chair", T0 + 410)
    run(LeaveConference("hn_del"), "hn_del", T0 + 415)
    run(LeaveConference("hn_head"), "hn_head", T0 + 420)
    run(SetMaxHolders(1), "chair", T0 + 421)
    run(RequestFloor("gt"), "gt_head", T0 + 430)  # r5
    run(GrantFloor("r5"), "chair", T0 + 440)
    run(CloseConference(), "chair", T0 + 470)
    return log


def test_interventions() -> None:
    minutes = build_minutes(session())
    rows = [
        (i.number, i.request_id, i.delegation, i.start - T0, i.duration, i.ended, i.end_reason)
        for i in minutes.interventions
    ]
    assert rows == [
        (1, "r1", "Honduras", 20, 30, "released", None),
        (2, "r2", "Guatemala", 60, 40, "revoked", "off topic"),
        (3, "r3", "Costa Rica", 120, 95, "revoked", "time_limit"),
        (4, "r4", "Honduras", 410, 10, "revoked", "delegation_absent"),
        (5, "r5", "Guatemala", 440, 30, "revoked", "conference_closed"),
    ]
    first, second, third, fourth, _ = minutes.interventions
    assert first.speaker == "Canciller de Honduras" and first.granted_by == "Presidencia"
    assert first.time_limit == 60.0 and not first.overtime and first.ended_by == first.speaker
    assert second.priority is Priority.RIGHT_OF_REPLY and second.time_limit == 120.0
    assert second.granted_by == "Vicepresidencia" and second.ended_by == "Presidencia"
    assert third.on_behalf and third.speaker == "Canciller de Costa Rica"
    assert third.time_limit == 90.0 and third.overtime and third.ended_by == "The system"
    assert fourth.speaker == "Asesor de Honduras"  # named although he has left
    assert third.country_code == "CR"


def test_totals_per_delegation() -> None:
    minutes = build_minutes(session())
    totals = [(t.delegation_id, t.interventions, t.speaking_time) for t in minutes.totals]
    assert totals == [("hn", 2, 40.0), ("gt", 2, 70.0), ("cr", 1, 95.0)]


def test_a_delegation_that_never_spoke_has_a_zero_total() -> None:
    _, log = meeting_and_log()
    minutes = build_minutes(log)
    assert [(t.country_code, t.interventions, t.speaking_time) for t in minutes.totals] == [
        ("HN", 0, 0.0),
        ("GT", 0, 0.0),
        ("CR", 0, 0.0),
    ]
    assert "No one has held the floor." in minutes.to_markdown()


def test_a_running_intervention_counts_up_to_now_if_given() -> None:
    conference, log = meeting_and_log()
    log += conference.execute(RequestFloor("gt"), "gt_head", T0)
    log += conference.execute(GrantFloor("r1"), "chair", T0 + 10)
    [running] = build_minutes(log).interventions
    assert running.end is None and running.duration is None and running.ended is None
    [running] = build_minutes(log, now=T0 + 25).interventions
    assert running.duration == 15.0
    assert build_minutes(log, now=T0 + 25).totals[1].speaking_time == 15.0
    markdown = build_minutes(log, now=T0 + 25).to_markdown()
    assert "still in session" in markdown and "| speaking |" in markdown


def test_record_has_one_readable_entry_per_event() -> None:
    log = session()
    minutes = build_minutes(log)
    assert [(e.at, e.type) for e in minutes.record] == [(e.at, e.type) for e in log]
    texts = [e.text for e in minutes.record]
    assert "Presidencia gave the floor to Honduras (1:00)" in texts
    assert "Presidencia ended the floor of Guatemala (off topic)" in texts
    assert "The system ended the floor of Costa Rica (speaking time over)" in texts
    assert "Honduras yielded the floor" in texts
    assert any("asked for the floor for Costa Rica on its behalf" in t for t in texts)
    assert all(t and not t.startswith(("floor.", "participant.")) for t in texts)


def test_to_dict_is_json() -> None:
    minutes = build_minutes(session())
    data = json.loads(json.dumps(minutes.to_dict(), allow_nan=False))
    assert data["title"] == "Conversatorio" and data["closed_at"] == T0 + 470
    assert data["interventions"][1]["priority"] == "right_of_reply"
    assert len(data["record"]) == len(minutes.record)


def test_csv() -> None:
    minutes = build_minutes(session())
    rows = list(csv.DictReader(io.StringIO(minutes.to_csv())))
    assert len(rows) == 5
    assert rows[0]["delegation"] == "Honduras" and rows[0]["duration"] == "30.0"
    assert rows[0]["start"] == "2025-10-09T08:53:40Z"
    assert rows[1]["end_reason"] == "off topic" and rows[0]["end_reason"] == ""
    assert rows[2]["overtime"] == "True" and rows[2]["on_behalf"] == "True"
    totals = list(csv.DictReader(io.StringIO(minutes.totals_csv())))
    assert [(t["country_code"], t["speaking_time"]) for t in totals] == [
        ("HN", "40.0"),
        ("GT", "70.0"),
        ("CR", "95.0"),
    ]


def test_markdown() -> None:
    markdown = build_minutes(session()).to_markdown()
    assert markdown.startswith("# Minutes: Conversatorio\n")
    assert "| 3 | Costa Rica (CR) | Canciller de Costa Rica | ordinary |" in markdown
    assert "| 1:35 | speaking time over |" in markdown
    assert "| 0:40 | revoked by Presidencia |" in markdown
    assert "| Guatemala (GT) | 2 | 1:10 |" in markdown
    assert "## Record of proceedings" in markdown


def test_markdown_keeps_free_text_from_breaking_tables() -> None:
    conference, log = meeting_and_log()
    log += conference.execute(RequestFloor("gt"), "gt_head", T0)
    log += conference.execute(GrantFloor("r1"), "chair", T0)
    log += conference.execute(RevokeFloor("r1", reason="a | b\nc"), "chair", T0)
    markdown = build_minutes(log).to_markdown()
    assert "(a \\| b c)" in markdown


def test_settings_changes_read_as_words() -> None:
    conference, log = meeting_and_log()
    log += conference.execute(SetDefaultTimeLimit(None), "chair", T0)
    log += conference.execute(SetDefaultTimeLimit(150.0), "chair", T0)
    log += conference.execute(SetOpenFloor(True), "chair", T0)
    log += conference.execute(SetMaxHolders(2), "chair", T0)
    texts = [e.text for e in build_minutes(log).record[-4:]]
    assert texts == [
        "Presidencia set the default speaking time to no limit",
        "Presidencia set the default speaking time to 2:30",
        "Presidencia set the open floor to on",
        "Presidencia set the number of delegations that may hold the floor at once to 2",
    ]


def test_minutes_in_spanish() -> None:
    minutes = build_minutes(session(), language="es")
    assert minutes.language == "es"
    markdown = minutes.to_markdown()
    assert markdown.startswith("# Acta: Conversatorio\n")
    assert "Abierta el " in markdown and "; cerrada el " in markdown
    assert "| # | Delegación | Orador | Tipo | Inicio | Fin | Duración | Terminó |" in markdown
    assert "| 3 | Costa Rica (CR) | Canciller de Costa Rica | ordinaria |" in markdown
    assert "| 1:35 | tiempo agotado |" in markdown
    assert "| 0:40 | retirada por Presidencia |" in markdown
    assert "## Tiempo de palabra por delegación" in markdown
    assert "## Desarrollo de la sesión" in markdown
    texts = [e.text for e in minutes.record]
    assert "Presidencia concedió la palabra a Honduras (1:00)" in texts
    assert "El sistema retiró la palabra a Costa Rica (tiempo agotado)" in texts
    assert "Honduras cedió la palabra" in texts
    assert not [t for t in texts if " the " in t or "floor" in t], texts
    header = minutes.to_csv().splitlines()[0].split(",")
    assert header[:4] == ["número", "solicitud", "id_delegación", "delegación"]
    assert minutes.totals_csv().splitlines()[0].endswith("intervenciones,tiempo_de_palabra")
    # The same interventions, oldest first, whatever the language.
    assert [i.request_id for i in minutes.interventions] == ["r1", "r2", "r3", "r4", "r5"]


def test_still_in_session_reads_as_a_sentence() -> None:
    _, log = meeting_and_log()
    assert "; still in session." in build_minutes(log).to_markdown()
    assert "; sigue en sesión." in build_minutes(log, language="es").to_markdown()


def test_leaving_on_purpose_says_it_once() -> None:
    conference, log = meeting_and_log()
    log += conference.execute(LeaveConference("obs", reason="left"), "obs", T0)
    assert build_minutes(log).record[-1].text == "Observadora OEA left"
    assert build_minutes(log, language="es").record[-1].text == "Observadora OEA salió"


def test_every_language_has_every_word() -> None:
    english, spanish = WORDS["en"], WORDS["es"]
    assert set(english) == set(spanish)
    for key, text in english.items():
        assert re.findall(r"{\w+}", text) == re.findall(r"{\w+}", spanish[key]), key
    with pytest.raises(ValueError):
        build_minutes([], language="fr")


def test_csv_cells_never_start_a_formula() -> None:
    """OWASP CSV injection: names and reasons that a spreadsheet would evaluate."""
    conference, log = meeting_and_log()
    formulas = ['=HYPERLINK("http://x.example","y")', "+1", "-1", "@SUM(A1)", "\tx", "\rx"]
    for text in formulas:
        requested = conference.execute(RequestFloor("hn"), "hn_head", T0)
        rid = requested[0].request_id  # type: ignore[attr-defined]
        log += requested
        log += conference.execute(GrantFloor(rid), "chair", T0)
        log += conference.execute(RevokeFloor(rid, reason=text), "chair", T0 + 1)
    rows = list(csv.DictReader(io.StringIO(build_minutes(log).to_csv())))
    assert [row["end_reason"] for row in rows] == ["'" + f for f in formulas]
    assert rows[0]["duration"] == "1.0"  # numbers stay numbers
