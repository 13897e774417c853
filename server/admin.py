"""HTTP endpoints outside the signaling WebSocket.

- the REST admin API, guarded by the server secret (``Authorization: Bearer``):
  conferences, delegations and join tokens;
- the minutes of a conference, for a chair or technician join token.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from typing import Any

from aiohttp import web

from rooms import SYSTEM, AddDelegation, RoomError, Settings, build_minutes

from .conference import ConferencePlan, DelegationPlan, JoinRefused, LiveConference
from .https import public_base
from .palabra import Palabra, PlacedElsewhere, palabra_of
from .redis_store import StoreUnavailable
from .tokens import TokenError, issue_token, verify_token

CONFERENCE_ID = re.compile(r"[a-z0-9_-]{1,64}")
MINUTES_FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}


def problem(status: int, code: str, message: str) -> web.Response:
    """Every refusal of these endpoints: a status and a typed JSON error."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _authorised(request: web.Request, palabra: Palabra) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    expected = palabra.config.secret.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(secret.encode(), expected)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


@web.middleware
async def admin_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        if not _authorised(request, palabra_of(request.app)):
            return problem(401, "unauthorized", "the admin API needs the server secret")
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPBadRequest as exc:
            return problem(400, "bad_request", exc.text or "bad request")
        except KeyError as exc:
            return problem(400, "invalid_argument", f"missing field {exc}")
        except StoreUnavailable:
            return problem(503, "unavailable", "the event store is unavailable; retry later")
        except PlacedElsewhere as exc:
            return problem(409, "placed_elsewhere", f"the conference is served by {exc.url}")
        except (RoomError, ValueError, TypeError) as exc:
            code = exc.code.value if isinstance(exc, RoomError) else "invalid_argument"
            message = exc.message if isinstance(exc, RoomError) else str(exc)
            status = 409 if code in ("already_exists", "invalid_state") else 400
            return problem(status, code, message)
        return response
    passed: web.StreamResponse = await handler(request)
    return passed


def _conference(request: web.Request) -> LiveConference:
    conference = palabra_of(request.app).conferences.get(request.match_info["conference"])
    if conference is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": {"code": "not_found", "message": "no such conference"}}),
            content_type="application/json",
        )
    return conference


async def list_conferences(request: web.Request) -> web.Response:
    conferences = palabra_of(request.app).conferences.values()
    return web.json_response(
        {"conferences": [{"id": c.id, "title": c.info().title} for c in conferences]}
    )


async def create_conference(request: web.Request) -> web.Response:
    """``{id, title, delegations?: [{id, name, code}], settings?: {...}}``."""
    body = await _body(request)
    delegations = [
        DelegationPlan(d["id"], d["name"], d["code"]) for d in body.get("delegations", [])
    ]
    if not isinstance(body["id"], str) or not CONFERENCE_ID.fullmatch(body["id"]):
        return problem(400, "invalid_argument", "id must be 1-64 of a-z, 0-9, '-' and '_'")
    plan = ConferencePlan(
        str(body["id"]),
        str(body["title"]),
        delegations,
        Settings.from_dict(body.get("settings", {})),
    )
    palabra = palabra_of(request.app)
    if plan.id in palabra.conferences:
        return problem(409, "already_exists", f"conference {plan.id!r} exists")
    conference = await palabra.open_conference(plan)
    return web.json_response(conference.state.snapshot(), status=201)


async def show_conference(request: web.Request) -> web.Response:
    conference = _conference(request)
    return web.json_response({**conference.state.snapshot(), "seq": conference.seq})


async def add_delegation(request: web.Request) -> web.Response:
    """``{id, name, code}``."""
    conference = _conference(request)
    body = await _body(request)
    await conference.execute(AddDelegation(body["id"], body["name"], body["code"]), SYSTEM)
    return web.json_response(conference.state.snapshot(), status=201)


async def create_token(request: web.Request) -> web.Response:
    """``{role, name, delegation?, ttl?, participant?}`` -> ``{token, url, expires_at}``."""
    conference = _conference(request)
    palabra = palabra_of(request.app)
    body = await _body(request)
    ttl = float(body.get("ttl", 24 * 3600))
    token = issue_token(
        palabra.config.secret,
        conference=conference.id,
        role=str(body["role"]),
        name=str(body["name"]),
        delegation=body.get("delegation"),
        ttl=ttl,
        participant=body.get("participant"),
    )
    # Check it the way a join will, so a bad role or delegation fails here, not later.
    try:
        conference.participant_from(verify_token(palabra.config.secret, token))
    except JoinRefused as exc:
        return problem(400, exc.code, exc.message)
    return web.json_response(
        {
            "token": token,
            "url": f"{public_base(request, palabra.config)}/c/{conference.id}?t={token}",
            "expires_at": time.time() + ttl,
        },
        status=201,
    )


def _staff_refusal(request: web.Request, conference: LiveConference) -> web.Response | None:
    """None when the request's token (``?t=``) is a chair's or technician's of this conference."""
    try:
        grant = verify_token(palabra_of(request.app).config.secret, request.query.get("t", ""))
    except TokenError as exc:
        return problem(401, exc.code, exc.message)
    if grant.conference != conference.id:
        return problem(403, "wrong_conference", "the token is for another conference")
    if grant.role not in ("chair", "technician"):
        return problem(403, "forbidden", "this is for the chair and technicians")
    return None


async def minutes(request: web.Request) -> web.Response:
    """``GET /c/<conference>/minutes?t=<token>&format=json|csv|md``: chair or technician."""
    conference = _conference(request)
    refusal = _staff_refusal(request, conference)
    if refusal is not None:
        return refusal
    form = request.query.get("format", "json")
    if form not in MINUTES_FORMATS:
        return problem(400, "invalid_argument", f"format must be one of {sorted(MINUTES_FORMATS)}")
    events = [stored.event for stored in await conference.store.read(conference.id)]
    record = build_minutes(events, now=time.time())
    text = {
        "json": lambda: json.dumps(record.to_dict(), ensure_ascii=False, indent=2),
        "csv": record.to_csv,
        "md": record.to_markdown,
    }[form]()
    return web.Response(
        text=text, content_type=MINUTES_FORMATS[form].split(";")[0], charset="utf-8"
    )


async def recordings(request: web.Request) -> web.Response:
    """``GET /c/<conference>/recordings?t=<token>``: the recorded interventions."""
    conference = _conference(request)
    refusal = _staff_refusal(request, conference)
    if refusal is not None:
        return refusal
    return web.json_response({"recordings": conference.recorder.index()})


async def recording_file(request: web.Request) -> web.StreamResponse:
    """``GET /c/<conference>/recordings/<name>?t=<token>``: one file."""
    conference = _conference(request)
    refusal = _staff_refusal(request, conference)
    if refusal is not None:
        return refusal
    path = conference.recorder.file(request.match_info["name"])
    if path is None or not path.exists():
        return problem(404, "not_found", "no such recording")
    return web.FileResponse(path, headers={"Content-Type": "video/x-matroska"})


def add_routes(app: web.Application) -> None:
    app.middlewares.append(admin_guard)
    app.router.add_get("/api/conferences", list_conferences)
    app.router.add_post("/api/conferences", create_conference)
    app.router.add_get("/api/conferences/{conference}", show_conference)
    app.router.add_post("/api/conferences/{conference}/delegations", add_delegation)
    app.router.add_post("/api/conferences/{conference}/tokens", create_token)
    app.router.add_get("/c/{conference}/minutes", minutes)
    app.router.add_get("/c/{conference}/recordings", recordings)
    app.router.add_get("/c/{conference}/recordings/{name}", recording_file)
