"""The front of ``palabra serve --workers N``: the one public port, relaying to workers.

Each request goes to the worker that runs its conference (server/workers.py):
the conference comes from the path (``/api/conferences/{id}``,
``/c/{id}/minutes``...), from the join token (``?t=`` of the connectivity
check; the ``hello`` of a WebSocket, read before the worker is chosen), or
from the body of ``POST /api/conferences``, which places a new conference on
the least loaded worker. Pages and anything else go to any worker. The
WebSocket's frames are relayed both ways, close codes included; when a
worker dies, its clients' sockets close with 1001 and they resume on its
successor. ``/metrics`` joins every worker's figures, each sample labelled
``worker``; ``/readyz`` is ready when every worker is.

The front believes no client's X-Forwarded-*: it sets them from what its own
middleware established (honouring only ``trusted_proxies``), and only the
front can reach a worker's socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Final

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from signaling import MAX_MESSAGE_BYTES, CloseCode

from . import http_security
from .admin import bearer_matches, problem
from .config import ServerConfig
from .https import forwarded_middleware
from .tokens import TokenError, verify_token
from .workers import Worker, WorkerPool

__all__ = ["create_front_app", "merge_metrics"]

logger = logging.getLogger(__name__)

HELLO_TIMEOUT: Final = 10.0  # seconds the front waits for a WebSocket's first frame
# Seconds a worker has to answer /readyz (a frozen worker makes the front 503,
# not hang) and /metrics (a frozen worker's figures are left out).
READY_TIMEOUT: Final = 1.0
SCRAPE_TIMEOUT: Final = 3.0
WORKER_WAIT: Final = 15.0  # seconds a request waits for a restarting worker
MAX_CREATE_BODY: Final = 1024 * 1024  # POST /api/conferences, as aiohttp's default
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
    }
)
WS_HANDSHAKE: Final = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}
)

POOL: web.AppKey[WorkerPool] = web.AppKey("pool", WorkerPool)
CONFIG: web.AppKey[ServerConfig] = web.AppKey("config", ServerConfig)


def create_front_app(config: ServerConfig, pool: WorkerPool) -> web.Application:
    app = web.Application(middlewares=[forwarded_middleware(config)], client_max_size=0)
    app[POOL] = pool
    app[CONFIG] = config
    app.on_response_prepare.append(http_security.add_headers)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/ws", _websocket)
    app.router.add_get("/api/conferences", _list_conferences)
    app.router.add_post("/api/conferences", _create_conference)
    app.router.add_route("*", "/{tail:.*}", _relay)
    return app


# Which worker -------------------------------------------------------------------


def conference_of_path(path: str) -> str | None:
    """``/api/conferences/{id}...`` and ``/c/{id}/...`` (not the page ``/c/{id}``)."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "api" and parts[2] == "conferences":
        return parts[3] or None
    if len(parts) >= 4 and parts[1] == "c":
        return parts[2] or None
    return None


def conference_of_token(config: ServerConfig, token: object) -> str | None:
    """The conference of a valid join token; None for anything else (the worker refuses it)."""
    if not isinstance(token, str):
        return None
    try:
        return verify_token(config.secret, token).conference
    except TokenError:
        return None


def _conference_of_hello(config: ServerConfig, message: aiohttp.WSMessage) -> str | None:
    if message.type != WSMsgType.TEXT:
        return None
    try:
        hello = json.loads(message.data)
    except (ValueError, RecursionError):
        return None
    return conference_of_token(config, hello.get("token")) if isinstance(hello, dict) else None


async def _worker_for(pool: WorkerPool, conference_id: str | None) -> Worker:
    """The conference's worker (waiting while it restarts), else the least loaded one."""
    index = pool.placement.of(conference_id) if conference_id is not None else None
    if index is None:
        ready = [w for w in pool.workers if w.ready.is_set()]
        if ready:
            return min(ready, key=lambda w: (len(pool.placement.on(w.index)), w.index))
        index = pool.placement.least_loaded()
    worker = pool.workers[index]
    try:
        await asyncio.wait_for(worker.ready.wait(), WORKER_WAIT)
    except TimeoutError:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": {"code": "restarting", "message": "try again shortly"}}),
            content_type="application/json",
            headers={"Retry-After": "2"},
        ) from None
    return worker


def _forward_headers(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict(
        (name, value) for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP
    )
    headers["X-Forwarded-For"] = request.remote or ""
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


# Plain HTTP ---------------------------------------------------------------------


async def _relay(request: web.Request) -> web.StreamResponse:
    pool = request.app[POOL]
    conference_id = conference_of_path(request.path)
    if conference_id is None and request.path.startswith("/check/"):
        conference_id = conference_of_token(request.app[CONFIG], request.query.get("t"))
    return await _relay_to(request, await _worker_for(pool, conference_id))


async def _relay_to(
    request: web.Request, worker: Worker, body: bytes | None = None
) -> web.StreamResponse:
    data: Any = body if body is not None else (request.content if request.body_exists else None)
    response: web.StreamResponse | None = None
    try:
        async with worker.client().request(
            request.method,
            f"http://worker{request.rel_url.raw_path_qs}",
            headers=_forward_headers(request),
            data=data,
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status, reason=answer.reason)
            for name, value in answer.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            async for chunk in answer.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response
    except (aiohttp.ClientError, OSError) as exc:
        logger.warning("worker %d did not answer %s: %r", worker.index, request.path, exc)
        if response is not None and response.prepared:
            return response  # cut short: the client sees the body end early
        return problem(502, "worker_unavailable", "the server is restarting; try again")


async def _create_conference(request: web.Request) -> web.StreamResponse:
    """Placed on the least loaded worker; the placement kept once the worker created it."""
    pool = request.app[POOL]
    body = b""
    async for chunk in request.content.iter_any():  # read() may stop short: read it all
        body += chunk
        if len(body) > MAX_CREATE_BODY:
            return problem(413, "too_large", f"the body is over {MAX_CREATE_BODY} bytes")
    try:
        decoded = json.loads(body)
        conference_id = decoded.get("id") if isinstance(decoded, dict) else None
    except (ValueError, RecursionError):
        conference_id = None
    if not isinstance(conference_id, str):
        # The worker answers what is wrong with it; nothing is placed.
        return await _relay_to(request, await _worker_for(pool, None), body)
    async with _creating(request.app):
        known = pool.placement.of(conference_id)
        worker = await _worker_for(pool, conference_id)
        response = await _relay_to(request, worker, body)
        if known is None and response.status == 201:
            pool.placement.place(conference_id, worker.index)
            logger.info("conference %s placed on worker %d", conference_id, worker.index)
        return response


_CREATE_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("create_lock", asyncio.Lock)


@contextlib.asynccontextmanager
async def _creating(app: web.Application) -> Any:
    """One creation at a time: two for the same id must land on the same worker."""
    if _CREATE_LOCK not in app:
        app[_CREATE_LOCK] = asyncio.Lock()
    async with app[_CREATE_LOCK]:
        yield


async def _gather_from_workers(
    request: web.Request, path: str
) -> tuple[list[tuple[Worker, bytes]], web.Response | None]:
    """GET ``path`` from every worker with the request's credentials; a refusal is returned."""
    pool = request.app[POOL]
    headers = {"Authorization": request.headers.get("Authorization", "")}
    bodies: list[tuple[Worker, bytes]] = []
    for worker in pool.workers:
        if not worker.ready.is_set():
            continue
        try:
            async with worker.client().get(
                f"http://worker{path}", headers=headers, timeout=_within(SCRAPE_TIMEOUT)
            ) as answer:
                body = await answer.read()
                if answer.status != 200:
                    return [], web.Response(
                        status=answer.status, body=body, content_type=answer.content_type
                    )
                bodies.append((worker, body))
        except (aiohttp.ClientError, OSError, TimeoutError):
            continue  # died just now (its supervisor restarts it), or frozen
    return bodies, None


async def _list_conferences(request: web.Request) -> web.Response:
    bodies, refused = await _gather_from_workers(request, "/api/conferences")
    if refused is not None:
        return refused
    listed = [c for _, body in bodies for c in json.loads(body)["conferences"]]
    return web.json_response({"conferences": listed})


# Health and figures -------------------------------------------------------------


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request) -> web.Response:
    problem_text = await _readiness(request.app[POOL])
    if problem_text is not None:
        return web.Response(status=503, text=f"not ready: {problem_text}\n")
    return web.Response(text="ready\n")


async def _readiness(pool: WorkerPool) -> str | None:
    for worker in pool.workers:
        if not worker.ready.is_set():
            return f"worker {worker.index} restarting"
        try:
            async with worker.client().get(
                "http://worker/readyz", timeout=_within(READY_TIMEOUT)
            ) as answer:
                if answer.status != 200:
                    text = (await answer.text()).strip().removeprefix("not ready: ")
                    return f"worker {worker.index}: {text}"
        except TimeoutError:
            return f"worker {worker.index} not answering"
        except (aiohttp.ClientError, OSError):
            return f"worker {worker.index} restarting"
    return None


def _within(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


async def _metrics(request: web.Request) -> web.Response:
    """Every worker's figures, labelled ``worker``, and the front's own about them."""
    if not bearer_matches(request, request.app[CONFIG].metrics_token):
        return problem(401, "unauthorized", "metrics need the metrics token")
    bodies, refused = await _gather_from_workers(request, "/metrics")
    if refused is not None:
        return refused
    pool = request.app[POOL]
    own = [
        "# HELP palabra_worker_up Whether the worker process serves (1) or is restarting (0)",
        "# TYPE palabra_worker_up gauge",
        *(
            f'palabra_worker_up{{worker="{w.index}",pid="{w.pid}"}} {int(w.ready.is_set())}'
            for w in pool.workers
        ),
        "# HELP palabra_worker_restarts_total Times the worker process was restarted",
        "# TYPE palabra_worker_restarts_total counter",
        *(
            f'palabra_worker_restarts_total{{worker="{w.index}"}} {w.restarts}'
            for w in pool.workers
        ),
        "# HELP palabra_worker_placed_conferences Conferences placed on the worker",
        "# TYPE palabra_worker_placed_conferences gauge",
        *(
            f'palabra_worker_placed_conferences{{worker="{w.index}"}} '
            f"{len(pool.placement.on(w.index))}"
            for w in pool.workers
        ),
    ]
    text = merge_metrics([(str(w.index), body.decode()) for w, body in bodies])
    return web.Response(
        text="\n".join(own) + "\n" + text,
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


def merge_metrics(texts: list[tuple[str, str]]) -> str:
    """Prometheus text of several processes as one: each sample gets ``worker="…"``,
    and each family stays together under one HELP and TYPE."""
    families: dict[str, tuple[list[str], list[str]]] = {}
    for worker, text in texts:
        current: list[str] | None = None
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                name = line.split(" ", 3)[2]
                comments, samples = families.setdefault(name, ([], []))
                if line not in comments:
                    comments.append(line)
                current = samples
            elif line.startswith("#"):
                continue
            elif current is not None:
                current.append(_labelled(line, worker))
    return "".join(
        "".join(f"{line}\n" for line in comments + samples)
        for comments, samples in families.values()
    )


def _labelled(sample: str, worker: str) -> str:
    label = f'worker="{worker}"'
    brace, space = sample.find("{"), sample.find(" ")
    if brace != -1 and (space == -1 or brace < space):
        return f"{sample[: brace + 1]}{label},{sample[brace + 1 :]}"
    return f"{sample[:space]}{{{label}}}{sample[space:]}"


# The signaling WebSocket --------------------------------------------------------


async def _websocket(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    if not http_security.origin_permitted(request, config):
        return http_security.forbidden_origin()
    # The same cap as a worker's: a frame over it is closed with 1009 here, as there.
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES + 1)
    await ws.prepare(request)
    try:
        first = await ws.receive(timeout=HELLO_TIMEOUT)
    except TimeoutError:
        await ws.close(code=CloseCode.HANDSHAKE_TIMEOUT, message=b"handshake timeout")
        return ws
    if first.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return ws
    pool = request.app[POOL]
    try:
        worker = await _worker_for(pool, _conference_of_hello(config, first))
    except web.HTTPServiceUnavailable:
        await ws.close(code=CloseCode.GOING_AWAY, message=b"server restarting")
        return ws
    headers = {
        name: value
        for name, value in _forward_headers(request).items()
        if name.lower() not in WS_HANDSHAKE
    }
    try:
        inner = await worker.client().ws_connect(
            "http://worker/ws", headers=headers, max_msg_size=0, autoclose=False
        )
    except (aiohttp.ClientError, OSError):
        await ws.close(code=CloseCode.GOING_AWAY, message=b"server restarting")
        return ws
    async with inner:
        await _send(inner, first)
        await _pump_both(ws, inner)
    return ws


async def _send(
    to: web.WebSocketResponse | aiohttp.ClientWebSocketResponse, message: aiohttp.WSMessage
) -> None:
    if message.type == WSMsgType.TEXT:
        await to.send_str(message.data)
    elif message.type == WSMsgType.BINARY:
        await to.send_bytes(message.data)


async def _pump_both(ws: web.WebSocketResponse, inner: aiohttp.ClientWebSocketResponse) -> None:
    """Frames both ways until either side closes; the close is passed on."""

    async def from_client() -> None:
        async for message in ws:
            await _send(inner, message)
        code = ws.close_code
        # 1005/1006 say no code was given: they may not be sent in a close frame.
        await inner.close(code=code if code and code not in (1005, 1006) else 1000)

    async def from_worker() -> None:
        while True:
            message = await inner.receive()
            if message.type == WSMsgType.CLOSE:
                await ws.close(code=message.data, message=(message.extra or "").encode())
                return
            if message.type in (WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                # No close frame: the worker died. Its successor has the seats.
                await ws.close(code=CloseCode.GOING_AWAY, message=b"server restarting")
                return
            await _send(ws, message)

    tasks = [asyncio.ensure_future(from_client()), asyncio.ensure_future(from_worker())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not ws.closed:
            await ws.close(code=CloseCode.GOING_AWAY, message=b"server restarting")
