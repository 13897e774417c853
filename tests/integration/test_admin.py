"""The REST admin API and the minutes export, over real HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from client import PalabraClient
from server.tokens import issue_token

from .conftest import ADMIN_TOKEN, SECRET, ClientFactory, RunningServer
from .media_tracks import ToneTrack


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as session:
        yield session


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with http.request(
        method, path, json=body, headers=ADMIN if headers is None else headers
    ) as response:
        return response.status, await response.json()


async def test_create_a_conference_and_join_it_with_an_issued_link(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, created = await call(
        http,
        "POST",
        "/api/conferences",
        {
            "id": "cumbre",
            "title": "Cumbre de Cancilleres",
            "delegations": [{"id": "hn", "name": "Honduras", "code": "HN"}],
            "settings": {"lobby_enabled": False},
        },
    )
    assert status == 201 and created["title"] == "Cumbre de Cancilleres"
    status, _ = await call(
        http,
        "POST",
        "/api/conferences/cumbre/delegations",
        {"id": "pa", "name": "Panamá", "code": "PA"},
    )
    assert status == 201
    status, issued = await call(
        http,
        "POST",
        "/api/conferences/cumbre/tokens",
        {"role": "head", "name": "Canciller de Panamá", "delegation": "pa"},
    )
    assert status == 201 and issued["url"].endswith(f"/c/cumbre?t={issued['token']}")

    client = PalabraClient(server.ws_url, issued["token"], media_addresses=["127.0.0.1"])
    try:
        welcome = await client.join()
        assert welcome.conference.title == "Cumbre de Cancilleres"
        assert welcome.you.delegation is not None and welcome.you.delegation.code == "PA"
    finally:
        await client.close()
    status, listed = await call(http, "GET", "/api/conferences")
    assert {"id": "cumbre", "title": "Cumbre de Cancilleres"} in listed["conferences"]


AGENDA = {
    "quorum": {"fraction": 0.5},
    "items": [
        {
            "item_id": "apertura",
            "titles": [
                {"language": "es", "text": "Apertura"},
                {"language": "en", "text": "Opening"},
            ],
            "planned_duration": 600,
        },
        {
            "item_id": "migracion",
            "titles": [{"language": "es", "text": "Gobernanza migratoria"}],
            "budget": 300,
            "speakers": ["pa", "hn"],
        },
    ],
}


async def test_a_conference_is_created_with_its_agenda(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    body = {
        "id": "agenda",
        "title": "Diálogo Ministerial",
        "delegations": [
            {"id": "hn", "name": "Honduras", "code": "HN"},
            {"id": "pa", "name": "Panamá", "code": "PA"},
        ],
        "agenda": AGENDA,
    }
    status, created = await call(http, "POST", "/api/conferences", body)
    assert status == 201
    items = created["agenda"]["items"]
    assert [i["item_id"] for i in items] == ["apertura", "migracion"]
    assert items[1]["speakers"] == ["pa", "hn"] and items[1]["budget"] == 300.0
    assert all(i["status"] == "upcoming" for i in items)
    assert created["roll_call"]["quorum"] == {"count": None, "fraction": 0.5}


async def test_an_agenda_with_sub_items_is_numbered_in_agenda_order(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    def item(item_id: str, parent: str | None = None) -> dict[str, object]:
        titles = [{"language": "es", "text": item_id.capitalize()}]
        return {"item_id": item_id, "titles": titles, **({"parent": parent} if parent else {})}

    agenda = {
        "items": [item("apertura"), item("migracion"), item("cierre"), item("laboral", "migracion")]
    }
    body = {"id": "subpuntos", "title": "Subpuntos", "agenda": agenda}
    status, created = await call(http, "POST", "/api/conferences", body)
    assert status == 201
    numbered = [(i["number"], i["item_id"]) for i in created["agenda"]["items"]]
    assert numbered == [("1", "apertura"), ("2", "migracion"), ("2.1", "laboral"), ("3", "cierre")]


OBSERVED = {
    "id": "observada",
    "title": "Diálogo con observadores",
    "delegations": [
        {"id": "hn", "name": "Honduras", "code": "HN"},
        {"id": "oea", "name": "OEA", "code": "OEA", "observer": True},
    ],
    "agenda": {
        "items": [
            {"item_id": "ronda", "titles": [{"language": "es", "text": "Ronda"}]},
            {
                "item_id": "observadores",
                "titles": [{"language": "es", "text": "Declaraciones de observadores"}],
                "observers": True,
                "speakers": ["oea"],
            },
        ]
    },
}


async def test_a_conference_is_created_with_an_observer_and_an_item_open_to_observers(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, created = await call(http, "POST", "/api/conferences", OBSERVED)
    assert status == 201
    assert [d["observer"] for d in created["delegations"]] == [False, True]
    assert [i["observers"] for i in created["agenda"]["items"]] == [False, True]
    assert created["agenda"]["items"][1]["speakers"] == ["oea"]
    status, added = await call(
        http,
        "POST",
        "/api/conferences/observada/delegations",
        {"id": "sica", "name": "SICA", "code": "SIC", "observer": True},
    )
    assert status == 201 and added["delegations"][-1]["observer"] is True
    assert added["roll_call"]["absent"] == ["hn"]  # observers are not called


@pytest.mark.parametrize(
    ("change", "code"),
    [
        # An observer inscribed on an item that is not open to observers.
        ({"speakers_on_ronda": ["oea"]}, "forbidden"),
        ({"observer": "yes"}, "invalid_argument"),
        ({"observers": 1}, "invalid_argument"),
    ],
)
async def test_a_bad_observer_plan_creates_nothing(
    server: RunningServer, http: aiohttp.ClientSession, change: dict[str, object], code: str
) -> None:
    body: Any = {**OBSERVED, "id": "mal_observada"}
    body["delegations"] = [dict(d) for d in OBSERVED["delegations"]]  # type: ignore[attr-defined]
    body["agenda"] = {"items": [dict(i) for i in OBSERVED["agenda"]["items"]]}  # type: ignore[index]
    if "speakers_on_ronda" in change:
        body["agenda"]["items"][0]["speakers"] = change["speakers_on_ronda"]
    elif "observer" in change:
        body["delegations"][1]["observer"] = change["observer"]
    else:
        body["agenda"]["items"][1]["observers"] = change["observers"]
    status, refused = await call(http, "POST", "/api/conferences", body)
    assert status == 400 and refused["error"]["code"] == code, refused
    assert "mal_observada" not in server.palabra.conferences


@pytest.mark.parametrize(
    "agenda",
    [
        {"items": [{"item_id": "x", "titles": []}]},
        {"items": [{"item_id": "x", "titles": [{"language": "xx", "text": "T"}]}]},
        {"items": [{"item_id": "x", "titles": [{"language": "es", "text": "T"}], "budget": -1}]},
        {"items": [{"item_id": "x", "titles": [{"language": "es", "text": "T"}], "budget": 1e6}]},
        {
            "items": [
                {"item_id": "x", "titles": [{"language": "es", "text": "T"}], "speakers": ["zz"]}
            ]
        },
        {"items": [{"item_id": "x", "titles": [{"language": "es", "text": ""}]}]},
        {"items": [{"item_id": "x", "titles": [{"language": "es", "text": "T"}], "colour": 1}]},
        {"quorum": {"count": 0}},
        {"items": [{"item_id": "x", "titles": [{"language": "es", "text": "T"}], "parent": "y"}]},
        {
            "items": [
                {"item_id": "a", "titles": [{"language": "es", "text": "A"}]},
                {"item_id": "a1", "titles": [{"language": "es", "text": "A1"}], "parent": "a"},
                {"item_id": "a11", "titles": [{"language": "es", "text": "A11"}], "parent": "a1"},
            ]
        },
        {"items": "Apertura"},
        "Apertura",
    ],
)
async def test_a_bad_agenda_creates_nothing(
    server: RunningServer, http: aiohttp.ClientSession, agenda: object
) -> None:
    body = {"id": "mala", "title": "Mala", "agenda": agenda}
    status, refused = await call(http, "POST", "/api/conferences", body)
    assert status in (400, 404) and refused["error"]["code"] in ("invalid_argument", "not_found")
    assert "mala" not in server.palabra.conferences
    status, _ = await call(http, "GET", "/api/conferences/mala")
    assert status == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/conferences", {"id": "demo", "title": "Otra"}, 409, "already_exists"),
        ("POST", "/api/conferences", {"id": "Bad Id!", "title": "X"}, 400, "invalid_argument"),
        ("POST", "/api/conferences", {"title": "Sin id"}, 400, "invalid_argument"),
        (
            "POST",
            "/api/conferences/demo/delegations",
            {"id": "gt", "name": "Guatemala", "code": "GT"},
            409,
            "already_exists",
        ),
        (
            "POST",
            "/api/conferences/demo/delegations",
            {"id": "mx", "name": "México", "code": "mexico"},
            400,
            "invalid_argument",
        ),
        (
            "POST",
            "/api/conferences/demo/tokens",
            {"role": "head", "name": "X", "delegation": "zz"},
            400,
            "invalid_token",
        ),
    ],
)
async def test_admin_api_refusals(
    server: RunningServer,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: object,
    status: int,
    code: str,
) -> None:
    seq = server.palabra.conferences["demo"].seq
    got_status, got = await call(http, method, path, body)
    assert (got_status, got["error"]["code"]) == (status, code)
    assert server.palabra.conferences["demo"].seq == seq


async def test_admin_api_needs_the_admin_token(http: aiohttp.ClientSession) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": f"Bearer {SECRET}"},  # the token signing key is not the credential
    ):
        status, body = await call(http, "GET", "/api/conferences", headers=headers)
        assert (status, body["error"]["code"]) == (401, "unauthorized")


@pytest.fixture
def settings() -> Any:
    from rooms import Settings

    return Settings(lobby_enabled=False)


async def test_minutes_list_interventions_and_totals(
    server: RunningServer, connect: ClientFactory, http: aiohttp.ClientSession
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    speaker = await connect(name="Canciller de Costa Rica", delegation="cr")
    await speaker.publish(audio=ToneTrack())
    update = await speaker.command("floor.request", delegation_id="cr")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
    await speaker.command("floor.release", request_id=request["request_id"])

    chair_token = issue_token(SECRET, conference="demo", role="chair", name="P")
    async with http.get(f"/c/demo/minutes?t={chair_token}&format=json") as response:
        assert response.status == 200
        record = await response.json()
    [intervention] = record["interventions"]
    assert intervention["delegation"] == "Costa Rica"
    assert intervention["speaker"] == "Canciller de Costa Rica"
    assert intervention["ended"] == "released"
    assert intervention["duration"] >= 0
    [total] = [t for t in record["totals"] if t["delegation_id"] == "cr"]
    assert total["interventions"] == 1

    async with http.get(f"/c/demo/minutes?t={chair_token}&format=csv") as response:
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [row["delegation"] for row in rows] == ["Costa Rica"]
    async with http.get(f"/c/demo/minutes?t={chair_token}&format=md") as response:
        assert "Costa Rica" in await response.text()

    # In the meeting's language: Spanish words, Spanish CSV headers.
    async with http.get(f"/c/demo/minutes?t={chair_token}&format=md&lang=es") as response:
        markdown = await response.text()
    assert markdown.startswith("# Acta: ") and "Costa Rica cedió la palabra" in markdown
    async with http.get(f"/c/demo/minutes?t={chair_token}&format=csv&lang=es") as response:
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [row["delegación"] for row in rows] == ["Costa Rica"]
    async with http.get(f"/c/demo/minutes?t={chair_token}&format=md&lang=fr") as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_argument"


@pytest.mark.parametrize(
    ("claims", "status", "code"),
    [
        ({"role": "head", "delegation": "gt"}, 403, "forbidden"),
        ({"role": "chair", "conference": "otra"}, 403, "wrong_conference"),
        ({"role": "chair", "ttl": -1}, 401, "token_expired"),
    ],
)
async def test_minutes_refusals(
    http: aiohttp.ClientSession, claims: dict[str, Any], status: int, code: str
) -> None:
    token = issue_token(SECRET, conference=claims.pop("conference", "demo"), name="X", **claims)
    async with http.get(f"/c/demo/minutes?t={token}") as response:
        assert response.status == status
        assert (await response.json())["error"]["code"] == code
