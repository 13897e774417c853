"""The connectivity check's reports, over real HTTP: what a seat may send,
what the technicians read back, and bad bodies refused without a trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from client import PalabraClient
from server import check
from signaling import CheckReport

from .conftest import ClientFactory, RunningServer

GOOD = {
    "steps": {
        "udp": {"status": "amber", "detail": "", "advice": "check.udp.amber"},
        "turnUdp": {"status": "amber", "advice": "check.turnUdp.amber"},
        "turnTls": {"status": "green", "detail": "84 ms"},
        "rtt": {"status": "green", "detail": "12 ms"},
        "rate": {"status": "green", "detail": "↓ 48.0 · ↑ 31.5 Mbit/s"},
    }
}


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as session:
        yield session


async def technicians_see(server: RunningServer, http: aiohttp.ClientSession) -> list[Any]:
    token = server.token("technician", "Técnico", None)
    async with http.get("/check/reports", params={"t": token}) as answer:
        assert answer.status == 200
        reports: list[Any] = (await answer.json())["reports"]
        return reports


async def test_a_report_reaches_the_technicians_with_details_and_advice(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    token = server.token("head", "Jefatura — Guatemala", "gt", participant="p-gt")
    async with http.post("/check/report", params={"t": token}, json=GOOD) as answer:
        assert answer.status == 200, await answer.text()
    [report] = await technicians_see(server, http)
    assert report["participant_id"] == "p-gt" and report["delegation"] == "gt"
    assert report["name"] == "Jefatura — Guatemala"
    assert report["steps"] == {
        "udp": "amber",
        "turnUdp": "amber",
        "turnTls": "green",
        "rtt": "green",
        "rate": "green",
    }
    assert report["details"] == {
        "turnTls": "84 ms",
        "rtt": "12 ms",
        "rate": "↓ 48.0 · ↑ 31.5 Mbit/s",
    }
    assert report["advice"] == {"udp": "check.udp.amber", "turnUdp": "check.turnUdp.amber"}
    # A delegation cannot read them.
    async with http.get("/check/reports", params={"t": token}) as answer:
        assert answer.status == 403


def step(**fields: object) -> dict[str, object]:
    return {"steps": {"udp": {"status": "green", **fields}}}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"steps": {}},
        {"steps": []},
        {"steps": {"udp": "green"}},
        {"steps": {"udp": {}}},
        step(status="purple"),
        step(status=["green"]),
        step(detail=7),
        step(detail="x" * 201),
        step(advice="tech.disconnect"),
        step(advice="check.udp.amber<script>"),
        step(advice=["check.udp.amber"]),
        {"steps": {"no spaces": {"status": "green"}}},
        {"steps": {f"s{chr(97 + i)}": {"status": "green"} for i in range(17)}},
        [],
        "steps",
    ],
)
async def test_a_bad_report_is_refused_and_changes_nothing(
    server: RunningServer, http: aiohttp.ClientSession, body: object
) -> None:
    token = server.token("head", "Jefatura — Guatemala", "gt", participant="p-gt")
    async with http.post("/check/report", params={"t": token}, json=body) as answer:
        assert answer.status == 400
    assert await technicians_see(server, http) == []


async def test_a_report_needs_a_valid_token(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.post("/check/report", params={"t": "forged"}, json=GOOD) as answer:
        assert answer.status == 401
    assert await technicians_see(server, http) == []


async def test_a_report_is_pushed_to_the_technicians_only(
    server: RunningServer, http: aiohttp.ClientSession, connect: ClientFactory
) -> None:
    tech = await connect("Técnico", None, "technician")
    delegate = await connect("Jefatura — Costa Rica", "cr", "head")
    token = server.token("head", "Jefatura — El Salvador", "sv", participant="p-sv")
    async with http.post("/check/report", params={"t": token}, json=GOOD) as answer:
        assert answer.status == 200

    def pushed(client: PalabraClient) -> list[CheckReport]:
        return [m for m in client.messages if isinstance(m, CheckReport)]

    await tech.wait_for(lambda: pushed(tech), 5)
    [message] = pushed(tech)
    [listed] = await technicians_see(server, http)
    assert message.report == listed and listed["participant_id"] == "p-sv"
    # Sent in order on each connection: a pushed report would precede this reply.
    await delegate.listen(None)
    assert pushed(delegate) == []


async def test_a_seat_cannot_flood_the_technicians_with_reports(
    server: RunningServer,
    http: aiohttp.ClientSession,
    connect: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(check, "REPORT_INTERVAL", 3600.0)  # every report below is "too soon"
    tech = await connect("Técnico", None, "technician")
    token = server.token("head", "Jefatura — El Salvador", "sv", participant="p-sv")
    async with http.post("/check/report", params={"t": token}, json=GOOD) as answer:
        assert answer.status == 200
    again = {"steps": {"udp": {"status": "red"}}}
    for _ in range(3):
        async with http.post("/check/report", params={"t": token}, json=again) as answer:
            assert answer.status == 429
    [listed] = await technicians_see(server, http)
    assert listed["steps"]["udp"] == "amber"  # the first one stands
    await tech.listen(None)  # a round trip: any push would have come before its reply
    assert len([m for m in tech.messages if isinstance(m, CheckReport)]) == 1
    # Another seat is not held back by this one.
    other = server.token("head", "Jefatura — Costa Rica", "cr", participant="p-cr")
    async with http.post("/check/report", params={"t": other}, json=again) as answer:
        assert answer.status == 200
