"""The minutes by agenda item: speakers in order, time against budgets, roll calls, decisions."""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_rooms_support import T0, meeting_and_log

from rooms import (
    AddAgendaItem,
    AnswerRollCall,
    Ballot,
    CastVote,
    CloseItem,
    CloseRollCall,
    CloseVote,
    Conference,
    Event,
    GrantExtraTime,
    GrantFloor,
    InscribeSpeaker,
    ItemTitle,
    OpenItem,
    OpenVote,
    ProposeConsensus,
    RaiseObjection,
    ReleaseFloor,
    RequestFloor,
    StartRollCall,
    build_minutes,
)

TITLES = (ItemTitle("es", "Gobernanza migratoria"), ItemTitle("en", "Migration governance"))


class Meeting:
    def __init__(self) -> None:
        self.conference, self.log = meeting_and_log(warning_before=5.0, grace_period=2.0)

    def do(self, command: object, actor: str, at: float) -> list[Event]:
        events = self.conference.execute(command, actor, T0 + at)  # type: ignore[arg-type]
        self.log += events
        return events

    def tick(self, at: float) -> None:
        events = self.conference.tick(T0 + at)
        self.conference.apply_all(events)
        self.log += events

    def first(self) -> str:
        return self.conference.floor.queue()[0].request_id


def session() -> tuple[Conference, list[Event]]:
    """Item 1 (budget 60 s): Guatemala then Honduras inscribed; Guatemala speaks twice,
    runs out and gets 15 s more; a roll call, a vote and a consensus. Item 2 never opens."""
    m = Meeting()
    m.do(AddAgendaItem("i1", TITLES, 1800.0, 60.0), "chair", 0)
    m.do(AddAgendaItem("i2", (ItemTitle("es", "Clausura"),)), "chair", 0)
    m.do(InscribeSpeaker("i1", "gt"), "chair", 0)
    m.do(InscribeSpeaker("i1", "hn"), "chair", 0)
    m.do(OpenItem("i1"), "chair", 10)
    gt = m.first()
    m.do(GrantFloor(gt), "chair", 10)
    m.do(ReleaseFloor(gt), "gt_head", 50)  # 40 s
    hn = m.first()
    m.do(GrantFloor(hn), "chair", 51)
    m.do(ReleaseFloor(hn), "hn_head", 81)  # 30 s
    again = m.do(RequestFloor("gt"), "gt_head", 82)[0].request_id  # type: ignore[attr-defined]
    m.do(GrantFloor(again), "chair", 83)  # 20 s left
    m.tick(83 + 22)  # warning, overtime, revoked after the 2 s grace: 22 s spoken
    m.do(GrantExtraTime("gt", 15.0), "chair", 110)
    m.do(StartRollCall(), "chair", 120)
    m.do(AnswerRollCall("gt"), "gt_head", 121)
    m.do(AnswerRollCall("hn"), "chair", 122)
    m.do(CloseRollCall(), "chair", 123)
    vote = m.do(OpenVote("¿Se adopta la declaración?"), "chair", 130)[0].decision_id  # type: ignore[attr-defined]
    m.do(CastVote(vote, Ballot.YES), "gt_head", 131)
    m.do(CastVote(vote, Ballot.NO), "cr_head", 132)
    m.do(CastVote(vote, Ballot.YES), "hn_head", 133)
    m.do(CloseVote(vote), "chair", 134)
    m.do(CloseItem("i1"), "chair", 140)
    proposal = m.do(ProposeConsensus("Se adopta el anexo", 30.0), "chair", 150)[0]
    m.do(RaiseObjection(proposal.decision_id), "cr_head", 151)  # type: ignore[attr-defined]
    m.tick(200)
    return m.conference, m.log


def test_each_item_lists_its_speakers_in_order_and_their_time_against_the_budget() -> None:
    _, log = session()
    minutes = build_minutes(log, language="en")
    first, second = minutes.items
    assert (first.item_id, first.title, first.status) == ("i1", "Migration governance", "closed")
    assert first.inscribed == ("Guatemala", "Honduras")
    assert first.interventions == (1, 2, 3)
    assert [minutes.interventions[n - 1].delegation_id for n in first.interventions] == [
        "gt",
        "hn",
        "gt",
    ]
    times = {t.delegation_id: t for t in first.times}
    assert (times["gt"].turns, times["gt"].spoken) == (2, 62.0)
    assert (times["gt"].allowance, times["gt"].extra, times["gt"].over) == (75.0, 15.0, 0.0)
    assert (times["hn"].turns, times["hn"].spoken, times["hn"].over) == (1, 30.0, 0.0)
    assert first.spoken == 92.0 and first.duration == 130.0
    assert first.roll_calls == ("rc1",) and first.decisions == ("d1",)
    assert (second.status, second.interventions, second.opened_at) == ("upcoming", (), None)


def test_roll_calls_and_decisions_carry_their_results() -> None:
    _, log = session()
    minutes = build_minutes(log, language="es")
    [call] = minutes.roll_calls
    assert call.present == ("Guatemala", "Honduras") and call.absent == ("Costa Rica",)
    assert call.quorum_met is True and call.item_id == "i1"
    vote, consensus = minutes.decisions
    assert (vote.kind, vote.yes, vote.no, vote.abstain, vote.adopted) == ("vote", 2, 1, 0, True)
    assert [(b.delegation, b.ballot) for b in vote.ballots] == [
        ("Guatemala", "yes"),
        ("Costa Rica", "no"),
        ("Honduras", "yes"),
    ]
    assert (consensus.kind, consensus.adopted, consensus.item_id) == ("consensus", False, None)
    assert consensus.objections == ("Costa Rica",)


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_business_event_is_worded_and_the_markdown_has_each_item(language: str) -> None:
    _, log = session()
    minutes = build_minutes(log, language=language)
    for entry in minutes.record:
        assert entry.text != entry.type, f"{entry.type} has no words in {language}"
    markdown = minutes.to_markdown()
    agenda = {"es": "## Orden del día", "en": "## Order of business"}[language]
    assert agenda in markdown
    first = {"es": "### 1. Gobernanza migratoria", "en": "### 1. Migration governance"}
    assert first[language] in markdown and "### 2. Clausura" in markdown
    assert {"es": "hay quórum", "en": "quorum met"}[language] in markdown
    assert {"es": "Objeciones: Costa Rica", "en": "Objections: Costa Rica"}[language] in markdown
    assert "| Guatemala | 2 | 1:02 | 1:15 | 0:15 | 0:00 |" in markdown


def test_the_items_csv_and_json() -> None:
    _, log = session()
    minutes = build_minutes(log, language="es")
    rows = list(csv.reader(io.StringIO(minutes.items_csv())))
    assert rows[0] == [
        "id_punto",
        "punto",
        "id_delegación",
        "delegación",
        "turnos",
        "habló",
        "asignado",
        "adicional",
        "excedido",
    ]
    assert [
        "i1",
        "Gobernanza migratoria",
        "gt",
        "Guatemala",
        "2",
        "62.0",
        "75.0",
        "15.0",
        "0.0",
    ] in rows
    encoded = json.loads(json.dumps(minutes.to_dict()))
    assert [i["item_id"] for i in encoded["items"]] == ["i1", "i2"]
    assert encoded["decisions"][0]["ballots"][0]["ballot"] == "yes"


def test_a_running_item_counts_up_to_now() -> None:
    m = Meeting()
    m.do(AddAgendaItem("i1", TITLES, budget=60.0), "chair", 0)
    m.do(OpenItem("i1"), "chair", 10)
    minutes = build_minutes(m.log, now=T0 + 70, language="en")
    [item] = minutes.items
    assert (item.status, item.duration) == ("open", 60.0)
    assert "Roll call" not in minutes.to_markdown()


# The printable page --------------------------------------------------------------------


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_printable_page_has_the_header_the_items_and_the_record(language: str) -> None:
    _, log = session()
    page = build_minutes(log, language=language).to_html()
    assert page.startswith("<!doctype html>") and f'<html lang="{language}">' in page
    assert '<link rel="stylesheet" href="/web/minutes.css">' in page
    assert "<script" not in page and "style=" not in page  # nothing the CSP would block
    words = {"es": ("Presidencia", "Asistencia"), "en": ("Chair", "Attendance")}[language]
    for word in words:
        assert f">{word}<" in page
    assert "Presidencia, Vicepresidencia" in page  # both chairs entered the room
    assert "Canciller de Honduras, Asesor de Honduras" in page  # attendance by delegation
    title = {"es": "1. Gobernanza migratoria", "en": "1. Migration governance"}[language]
    assert f"<h3>{title}</h3>" in page
    assert "<td>Guatemala</td><td>2</td><td>1:02</td><td>1:15</td>" in page
    outside = {"es": "Objeciones: Costa Rica", "en": "Objections: Costa Rica"}[language]
    assert outside in page  # the consensus proposed after the item closed


def test_the_printable_page_escapes_every_free_text() -> None:
    m = Meeting()
    hostile = '<script>alert("x")</script>'
    m.do(AddAgendaItem("i1", (ItemTitle("es", hostile),)), "chair", 0)
    m.do(OpenVote(f"¿{hostile}?"), "chair", 1)
    page = build_minutes(m.log, language="es").to_html()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
