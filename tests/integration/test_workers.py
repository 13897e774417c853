"""`palabra serve --workers 2` as a real process: conferences spread over two
worker processes behind one port, media in each, and a worker killed with
SIGKILL in the middle of a meeting: restarted, its conference rebuilt from
the front's store, its participants back with the floor as it was.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client import PalabraClient
from server.tokens import issue_token

from .conftest import ADMIN_TOKEN, METRICS_TOKEN, SECRET, free_port
from .media_tracks import ColourTrack, ToneTrack, dominant_colour
from .redis_server import running_redis

REPO = Path(__file__).resolve().parents[2]
DELEGATIONS = [
    {"id": "gt", "name": "Guatemala", "code": "GT"},
    {"id": "sv", "name": "El Salvador", "code": "SV"},
]


@asynccontextmanager
async def front(tmp_path: Path, *extra: str, workers: int = 2) -> AsyncIterator[str]:
    """`palabra serve --workers N` on a free port; yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "server",
        "serve",
        "--workers",
        str(workers),
        "--media-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--recordings",
        str(tmp_path / "recordings"),
        *extra,
    ]
    env = {
        "PALABRA_SECRET": SECRET,
        "PALABRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "PALABRA_METRICS_TOKEN": METRICS_TOKEN,
        "PATH": "/usr/bin:/bin",
    }
    log = (tmp_path / "front.log").open("w")
    proc = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while True:
                assert proc.poll() is None, (tmp_path / "front.log").read_text()
                assert time.monotonic() < deadline, "the front did not get ready"
                try:
                    async with http.get(f"{base}/readyz") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == 0, (tmp_path / "front.log").read_text()


async def create(base: str, conference_id: str, **settings: object) -> None:
    body = {"id": conference_id, "title": conference_id, "delegations": DELEGATIONS}
    body["settings"] = {"lobby_enabled": False, **settings}
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/conferences", json=body, headers=headers) as answer,
    ):
        assert answer.status == 201, await answer.text()


async def metrics(base: str) -> dict[str, list[Any]]:
    """Samples by name, from the front's /metrics (parsed as Prometheus would)."""
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/metrics", headers=headers) as answer,
    ):
        assert answer.status == 200
        text = await answer.text()
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def worker_serving(samples: dict[str, list[Any]], conference_id: str) -> str:
    [worker] = {
        s.labels["worker"]
        for s in samples["palabra_participants"]
        if s.labels["conference"] == conference_id
    }
    return str(worker)


def pids(samples: dict[str, list[Any]]) -> dict[str, int]:
    return {s.labels["worker"]: int(s.labels["pid"]) for s in samples["palabra_worker_up"]}


def seat(base: str, conference_id: str, name: str, role: str, delegation: str | None) -> Any:
    token = issue_token(
        SECRET,
        conference=conference_id,
        role=role,
        name=name,
        delegation=delegation,
        participant=name,
    )
    ws_url = base.replace("http://", "ws://") + "/ws"
    return PalabraClient(ws_url, token, media_addresses=["127.0.0.1"])


async def colour_from(client: PalabraClient, participant: str, frames: int = 5) -> str:
    """The colour of ``participant``'s video, once ``frames`` more frames came in."""

    def video() -> Any:
        found = [
            s
            for s in client.streams.values()
            if s.kind == "video" and s.participant_id == participant
        ]
        return found[0] if found else None

    await client.wait_for(lambda: video() is not None, timeout=20)
    start = video().frames
    await client.wait_for(lambda: video().frames >= start + frames, timeout=20)
    return dominant_colour(video().last_frame)


def free_udp_pair() -> int:
    """A UDP port whose next one is free too (one-port mode: worker i takes port + i)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind(("0.0.0.0", 0))
            port: int = first.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                try:
                    second.bind(("0.0.0.0", port + 1))
                except OSError:
                    continue
        return port


@pytest.mark.parametrize("one_port", [False, True], ids=["ephemeral-ports", "one-port"])
async def test_conferences_are_spread_over_the_workers_each_with_its_media(
    tmp_path: Path, one_port: bool
) -> None:
    media_port = free_udp_pair()
    extra = ["--media-port", str(media_port)] if one_port else []
    async with front(tmp_path, *extra) as base:
        await create(base, "alpha", open_floor=True)
        await create(base, "beta", open_floor=True)
        clients: list[PalabraClient] = []
        try:
            for conference_id, colour in (("alpha", "red"), ("beta", "blue")):
                speaker = seat(base, conference_id, "gt-head", "head", "gt")
                listener = seat(base, conference_id, "sv-head", "head", "sv")
                clients += [speaker, listener]
                await speaker.join()
                await listener.join()
                await speaker.publish(video=ColourTrack(colour), audio=ToneTrack())
                assert await colour_from(listener, "gt-head") == colour
                await listener.wait_for_streams(1, kind="audio", frames=5, timeout=15)
            samples = await metrics(base)
            assert {worker_serving(samples, "alpha"), worker_serving(samples, "beta")} == {
                "0",
                "1",
            }
            serving = pids(samples)
            assert len(set(serving.values())) == 2 and os.getpid() not in serving.values()
            if one_port:  # each worker its own port, every participant's media on it
                ports = {
                    s.labels["worker"]: s.value for s in samples["palabra_media_port_connections"]
                }
                assert ports["0"] > 0 and ports["1"] > 0
                for worker in (0, 1):
                    with (
                        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
                        pytest.raises(OSError),
                    ):
                        probe.bind(("0.0.0.0", media_port + worker))
            # Each worker counts what it forwarded (the monitor adds it up each second).
            deadline = time.monotonic() + 10
            while True:
                forwarded = {
                    s.labels["worker"]: s.value for s in samples["palabra_forwarded_packets_total"]
                }
                if forwarded["0"] > 0 and forwarded["1"] > 0:
                    break
                assert time.monotonic() < deadline, forwarded
                await asyncio.sleep(0.5)
                samples = await metrics(base)
            # The admin API lists both, whichever worker runs each.
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/api/conferences", headers=headers) as answer:
                    listed = {c["id"] for c in (await answer.json())["conferences"]}
                async with http.get(f"{base}/api/conferences") as answer:
                    assert answer.status == 401
            assert listed == {"alpha", "beta"}
            # Each conference's minutes come from the worker that runs it.
            for conference_id in ("alpha", "beta"):
                chair = issue_token(
                    SECRET, conference=conference_id, role="chair", name="P", delegation=None
                )
                url = f"{base}/c/{conference_id}/minutes?t={chair}"
                async with aiohttp.ClientSession() as http, http.get(url) as answer:
                    assert answer.status == 200, await answer.text()
                    assert (await answer.json())["title"] == conference_id
        finally:
            for client in clients:
                await client.close()


async def test_a_killed_worker_is_restarted_and_its_meeting_goes_on(tmp_path: Path) -> None:
    async with front(tmp_path) as base:
        await create(base, "alpha")  # formal: the floor decides who is heard
        await create(base, "beta", open_floor=True)
        chair = seat(base, "alpha", "chair", "chair", None)
        speaker = seat(base, "alpha", "gt-head", "head", "gt")
        listener = seat(base, "alpha", "sv-head", "head", "sv")
        other_speaker = seat(base, "beta", "gt-head", "head", "gt")
        other_listener = seat(base, "beta", "sv-head", "head", "sv")
        alpha = [chair, speaker, listener]
        everyone = [*alpha, other_speaker, other_listener]
        try:
            for client in everyone:
                await client.join()
            await speaker.publish(video=ColourTrack("red"), audio=ToneTrack())
            await other_speaker.publish(video=ColourTrack("blue"), audio=ToneTrack())
            update = await speaker.command("floor.request", delegation_id="gt")
            [request] = [e for e in update.events if e["type"] == "floor.requested"]
            await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
            await chair.send_message("delegation:sv", "Tiene la palabra Guatemala")
            assert await colour_from(listener, "gt-head") == "red"
            await listener.wait_for_streams(1, kind="audio", frames=5, timeout=15)
            await colour_from(other_listener, "gt-head")
            acknowledged = chair.room_seq  # every event the chair was answered for

            before = await metrics(base)
            worker = worker_serving(before, "alpha")
            assert worker_serving(before, "beta") != worker
            os.kill(pids(before)[worker], signal.SIGKILL)

            # Alpha's sockets close with 1001 (going away), as at a node restart...
            for client in alpha:
                await asyncio.wait_for(client.closed.wait(), 10)
                assert client.close_code == 1001, (client.close_code, client.close_reason)
            # ...while beta, on the other worker, goes on untouched.
            assert await colour_from(other_listener, "gt-head") == "blue"
            assert not other_listener.closed.is_set() and not other_speaker.closed.is_set()

            # Each participant of alpha comes back to its seat (the restarted
            # worker waits for them as a restarted node does).
            for client in alpha:
                await client.reconnect(timeout=30)
            await speaker.publish(video=ColourTrack("red"), audio=ToneTrack())
            assert chair.room_seq >= acknowledged
            assert [h["request_id"] for h in chair.room["holders"]] == [request["request_id"]]
            await listener.wait_for(lambda: listener.histories >= 1)
            assert [m["text"] for m in listener.inbox] == ["Tiene la palabra Guatemala"]
            assert await colour_from(listener, "gt-head") == "red"
            # The floor still holds: the speaker is heard again.
            await listener.wait_for_streams(1, kind="audio", frames=5, timeout=15)

            after = await metrics(base)
            assert worker_serving(after, "alpha") == worker
            assert pids(after)[worker] != pids(before)[worker]
            restarts = {s.labels["worker"]: s.value for s in after["palabra_worker_restarts_total"]}
            assert restarts[worker] == 1 and sum(restarts.values()) == 1
            assert all(s.value == 1 for s in after["palabra_worker_up"])
        finally:
            for client in everyone:
                await client.close()
    assert "exited with status -9" in (tmp_path / "front.log").read_text()


async def test_with_redis_the_conferences_come_back_spread_over_the_workers(
    tmp_path: Path,
) -> None:
    (tmp_path / "redis").mkdir()
    with running_redis(tmp_path / "redis") as redis:
        async with front(tmp_path, "--redis-url", redis.url) as base:
            await create(base, "alpha", open_floor=True)
            await create(base, "beta", open_floor=True)
        # The whole service restarted: Redis has the logs, the front places
        # them again, each worker rebuilds its own.
        async with front(tmp_path, "--redis-url", redis.url) as base:
            samples = await metrics(base)
            assert {worker_serving(samples, "alpha"), worker_serving(samples, "beta")} == {
                "0",
                "1",
            }
            speaker = seat(base, "beta", "gt-head", "head", "gt")
            listener = seat(base, "beta", "sv-head", "head", "sv")
            try:
                await speaker.join()
                await listener.join()
                await speaker.publish(video=ColourTrack("green"), audio=ToneTrack())
                assert await colour_from(listener, "gt-head") == "green"
            finally:
                await speaker.close()
                await listener.close()


async def readyz(base: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as answer:
        return answer.status, await answer.text()


async def test_readiness_follows_the_workers_and_a_stop_reaches_every_client(
    tmp_path: Path,
) -> None:
    async with front(tmp_path) as base:
        await create(base, "alpha", open_floor=True)
        await create(base, "beta", open_floor=True)
        clients = [seat(base, c, "gt-head", "head", "gt") for c in ("alpha", "beta")]
        for client in clients:
            await client.join()
        assert await readyz(base) == (200, "ready\n")
        samples = await metrics(base)
        frozen = worker_serving(samples, "beta")
        pid = pids(samples)[frozen]
        os.kill(pid, signal.SIGSTOP)  # frozen, not dead: not restarted, not ready
        try:
            assert await readyz(base) == (503, f"not ready: worker {frozen} not answering\n")
            # /metrics leaves the frozen worker's figures out rather than hang.
            assert worker_serving(await metrics(base), "alpha") != frozen
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await readyz(base) == (200, "ready\n")
    # The front stopped (SIGTERM): each worker closed its clients' sockets as a
    # single process does, and the front passed that on.
    for client in clients:
        await asyncio.wait_for(client.closed.wait(), 10)
        assert (client.close_code, client.close_reason) == (1001, "server shutting down")
        await client.close()


async def test_a_conference_created_with_a_large_body_is_placed_and_an_oversize_one_refused(
    tmp_path: Path,
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    body = {"id": "gamma", "title": "gamma", "delegations": DELEGATIONS}
    async with front(tmp_path) as base, aiohttp.ClientSession() as http:
        # Padded JSON arrives in many pieces: the front reads it whole.
        padded = json.dumps(body) + " " * 300_000
        async with http.post(f"{base}/api/conferences", data=padded, headers=headers) as answer:
            assert answer.status == 201, await answer.text()
        oversize = json.dumps({**body, "id": "delta"}) + " " * (1024 * 1024)
        async with http.post(f"{base}/api/conferences", data=oversize, headers=headers) as answer:
            assert answer.status == 413
            assert (await answer.json())["error"]["code"] == "too_large"
        async with http.get(f"{base}/api/conferences", headers=headers) as answer:
            assert [c["id"] for c in (await answer.json())["conferences"]] == ["gamma"]
        samples = await metrics(base)
        placed = {s.labels["worker"]: s.value for s in samples["palabra_worker_placed_conferences"]}
        assert sorted(placed.values()) == [0.0, 1.0]
