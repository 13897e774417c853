"""`palabra serve --conference-file FILE`: a conference and its agenda opened at start-up.

The file holds what the admin API's POST /api/conferences takes and is checked
the same way: a good one is open when the server listens; a bad one stops the
start (exit 2) with one line naming the file and the key.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import ADMIN_TOKEN, free_port
from .test_startup import refused, running

PLAN: dict[str, Any] = {
    "id": "dialogo",
    "title": "Diálogo Ministerial",
    "delegations": [
        {"id": "hn", "name": "Honduras", "code": "HN"},
        {"id": "pa", "name": "Panamá", "code": "PA"},
        {"id": "oea", "name": "OEA", "code": "OEA", "observer": True},
    ],
    "settings": {"lobby_enabled": False},
    "agenda": {
        "quorum": {"count": 2},
        "items": [
            {"item_id": "apertura", "titles": [{"language": "es", "text": "Apertura"}]},
            {
                "item_id": "migracion",
                "titles": [{"language": "es", "text": "Gobernanza migratoria"}],
                "budget": 300,
                "speakers": ["pa", "hn"],
            },
            {
                "item_id": "laboral",
                "titles": [{"language": "es", "text": "Movilidad laboral"}],
                "parent": "migracion",
            },
            {
                "item_id": "observadores",
                "titles": [{"language": "es", "text": "Declaraciones de observadores"}],
                "observers": True,
                "speakers": ["oea"],
            },
        ],
    },
}


def write(tmp_path: Path, plan: object) -> Path:
    path = tmp_path / "dialogo.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def test_the_conference_in_the_file_is_open_with_its_agenda(tmp_path: Path) -> None:
    port = free_port()
    args = ("--port", str(port), "--conference-file", str(write(tmp_path, PLAN)))
    with running(*args, port=port):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/conferences/dialogo",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            state = json.load(answer)
    assert state["title"] == "Diálogo Ministerial"
    items = state["agenda"]["items"]
    assert [(i["number"], i["item_id"]) for i in items] == [
        ("1", "apertura"),
        ("2", "migracion"),
        ("2.1", "laboral"),
        ("3", "observadores"),
    ]
    assert items[1]["speakers"] == ["pa", "hn"] and items[3]["observers"] is True
    assert [d["observer"] for d in state["delegations"]] == [False, False, True]
    assert state["roll_call"]["required"] == 2


def with_item(**changes: object) -> dict[str, Any]:
    plan = json.loads(json.dumps(PLAN))
    plan["agenda"]["items"][1].update(changes)
    return plan


@pytest.mark.parametrize(
    ("plan", "named"),
    [
        (with_item(budget=-5), "agenda.items[2]: budget"),
        (with_item(colour="red"), "agenda.items[2]: unknown key(s) colour"),
        (with_item(titles=[]), "agenda.items[2]: titles"),
        (with_item(speakers=["zz"]), "no delegation 'zz'"),
        ({**PLAN, "agenda": {"items": "Apertura"}}, "items must be a list of objects"),
        ({**PLAN, "titel": "x"}, "unknown key(s) titel"),
        ({**PLAN, "id": "Bad Id!"}, "id must be"),
        ({**PLAN, "settings": {"max_holders": "many"}}, "settings: "),
        ([PLAN], "must hold one JSON object"),
    ],
)
def test_a_bad_conference_file_is_named_and_nothing_starts(
    tmp_path: Path, plan: object, named: str
) -> None:
    line = refused("--port", str(free_port()), "--conference-file", str(write(tmp_path, plan)))
    assert f"conference_file {tmp_path / 'dialogo.json'}" in line
    assert named in line, line


def test_a_conference_file_that_is_not_json_or_not_there_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "roto.json"
    broken.write_text('{"id": "x", "title": ', encoding="utf-8")
    line = refused("--port", str(free_port()), "--conference-file", str(broken))
    assert "not JSON" in line and "line 1" in line
    line = refused("--port", str(free_port()), "--conference-file", str(tmp_path / "nada.json"))
    assert "cannot read it" in line
