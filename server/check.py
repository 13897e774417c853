"""The connectivity check's server side (the page is web/check.html).

With the join link's token, the page gets the seat's TURN servers, opens a
WebRTC data channel to an echo peer here (UDP to the server, round-trip
time), times a download and an upload, and may send its results to the
conference's technicians. Every endpoint needs a valid token; echo peers are
few and short-lived, bodies bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription

from media.aiortc_hooks import use_udp_mux
from media.router import rtc_configuration
from signaling import CheckReport

from .palabra import palabra_of
from .tokens import RESUME_TTL, JoinGrant, TokenError, verify_token

logger = logging.getLogger(__name__)

MAX_ECHO_PEERS = 8  # concurrent checks per node
ECHO_LIFETIME = 30.0  # seconds an echo peer lives
DOWNLOAD_BYTES = 2 * 1024 * 1024
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_REPORT_BYTES = 16 * 1024
# Seconds between two reports of a seat: each is pushed to the technicians,
# whose bounded queues a seat must not be able to flood.
REPORT_INTERVAL = 5.0
MAX_STEPS = 16
MAX_DETAIL = 200  # characters of a step's measured detail
STATUSES = frozenset({"green", "amber", "red", "running"})
STEP_NAME = re.compile(r"[A-Za-z]{1,32}")
ADVICE_KEY = re.compile(r"check\.[A-Za-z]{1,32}(\.(amber|red))?")

_echo_peers: set[RTCPeerConnection] = set()


def _grant(request: web.Request) -> JoinGrant:
    token = request.query.get("t", "")
    try:
        return verify_token(palabra_of(request.app).config.secret, token)
    except TokenError:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": {"code": "invalid_token", "message": "open your link"}}),
            content_type="application/json",
        ) from None


async def servers(request: web.Request) -> web.Response:
    """The seat's TURN servers, as its welcome would carry them."""
    grant = _grant(request)
    now = time.time()
    ice = palabra_of(request.app).turn.ice_servers(grant.participant, now, now + RESUME_TTL)
    body = [{"urls": list(s.urls), "username": s.username, "credential": s.credential} for s in ice]
    return web.json_response({"ice_servers": body}, headers={"Cache-Control": "no-store"})


async def offer(request: web.Request) -> web.Response:
    """Answer the page's offer with an echo peer: its data channel sends back what it gets."""
    _grant(request)
    if len(_echo_peers) >= MAX_ECHO_PEERS:
        raise web.HTTPServiceUnavailable(text="too many checks at once; retry in a minute")
    try:
        body = await request.json()
        sdp = str(body["sdp"])
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text="expected {sdp}") from None
    peer = RTCPeerConnection(rtc_configuration())
    mux = palabra_of(request.app).udp_mux
    if mux is not None:
        use_udp_mux(peer, mux)  # "UDP to the server" then tries the media port itself
    _echo_peers.add(peer)

    @peer.on("datachannel")
    def on_channel(channel: Any) -> None:
        channel.on("message", channel.send)  # an echo: RTT and a path through UDP

    loop = asyncio.get_running_loop()
    loop.call_later(ECHO_LIFETIME, lambda: asyncio.ensure_future(_close(peer)))
    try:
        await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await peer.setLocalDescription(await peer.createAnswer())
    except Exception:
        await _close(peer)
        raise web.HTTPBadRequest(text="the offer was refused") from None
    return web.json_response({"sdp": peer.localDescription.sdp})


async def _close(peer: RTCPeerConnection) -> None:
    _echo_peers.discard(peer)
    with contextlib.suppress(Exception):
        await peer.close()


async def download(request: web.Request) -> web.Response:
    _grant(request)
    return web.Response(
        body=bytes(DOWNLOAD_BYTES),
        content_type="application/octet-stream",
        headers={"Cache-Control": "no-store"},
    )


async def upload(request: web.Request) -> web.Response:
    _grant(request)
    received = 0
    async for chunk in request.content.iter_any():
        received += len(chunk)
        if received > MAX_UPLOAD_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_UPLOAD_BYTES, received)
    return web.json_response({"bytes": received})


async def report(request: web.Request) -> web.Response:
    """The page's results, for the technicians of the seat's conference (and the log)."""
    grant = _grant(request)
    raw = await request.content.read(MAX_REPORT_BYTES + 1)
    if len(raw) > MAX_REPORT_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_REPORT_BYTES, len(raw))
    try:
        steps, details, advice = _results(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise web.HTTPBadRequest(
            text="expected {steps: {name: {status: green|amber|red|running, detail?, advice?}}}"
        ) from None
    palabra = palabra_of(request.app)
    now = time.time()
    last = palabra.check_reports.get((grant.conference, grant.participant), {}).get("at")
    if isinstance(last, float) and 0 <= now - last < REPORT_INTERVAL:
        raise web.HTTPTooManyRequests(
            text=f"one report every {REPORT_INTERVAL:g} s; send it again in a moment"
        )
    entry: dict[str, object] = {
        "participant_id": grant.participant,
        "name": grant.name,
        "delegation": grant.delegation,
        "at": now,
        "steps": steps,
        "details": details,
        "advice": advice,
    }
    palabra.check_reports[(grant.conference, grant.participant)] = entry
    # Pushed to the technicians connected here; /check/reports lists it too.
    conference = palabra.conferences.get(grant.conference)
    if conference is not None:
        await conference.tell_technicians(CheckReport(entry))
    logger.info(
        "connectivity check: %s",
        ", ".join(f"{k} {v}" for k, v in steps.items()),
        extra={"conference": grant.conference, "participant": grant.participant},
    )
    return web.json_response({"received": True})


def _results(
    results: Any,
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Each step's status, its measured detail and the key of the advice shown.

    Only these, checked and bounded: the technicians' page renders them.
    """
    raw_steps = dict(results["steps"])
    if not 0 < len(raw_steps) <= MAX_STEPS:
        raise ValueError("steps")
    steps: dict[str, str] = {}
    details: dict[str, str] = {}
    advice: dict[str, str] = {}
    for name, step in raw_steps.items():
        status = step["status"]
        detail = step.get("detail") or ""
        key = step.get("advice") or ""
        if (
            not STEP_NAME.fullmatch(name)
            or status not in STATUSES
            or not isinstance(detail, str)
            or len(detail) > MAX_DETAIL
            or not isinstance(key, str)
            or (key and not ADVICE_KEY.fullmatch(key))
        ):
            raise ValueError(name)
        steps[name] = status
        if detail:
            details[name] = detail
        if key:
            advice[name] = key
    return steps, details, advice


async def reports(request: web.Request) -> web.Response:
    """The latest result of each seat of the conference: technicians and the chair only."""
    grant = _grant(request)
    if grant.role not in ("technician", "chair"):
        raise web.HTTPForbidden(text="technicians only")
    palabra = palabra_of(request.app)
    mine = [r for (c, _), r in palabra.check_reports.items() if c == grant.conference]
    return web.json_response({"reports": mine}, headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/check/servers", servers)
    app.router.add_post("/check/offer", offer)
    app.router.add_get("/check/download", download)
    app.router.add_post("/check/upload", upload)
    app.router.add_post("/check/report", report)
    app.router.add_get("/check/reports", reports)
