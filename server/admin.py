"""HTTP endpoints outside the signaling WebSocket.

- the REST admin API, guarded by the admin token (``Authorization: Bearer``),
  its own credential, not the token signing key: conferences, delegations
  and join tokens; every refusal a typed JSON error;
- the minutes of a conference, for a chair or technician join token.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from typing import Any

from aiohttp import web

from cluster.redis_store import StoreUnavailable
from conference.live import LiveConference
from conference.member import JoinRefused
from conference.plans import ConferencePlan, DelegationPlan
from rooms import (
    SYSTEM,
    AddAgendaItem,
    Command,
    Conference,
    InscribeSpeaker,
    QuorumRule,
    RoomError,
    SetQuorum,
    Settings,
    build_minutes,
)
from rooms.minutes_words import LANGUAGES as MINUTES_LANGUAGES

from .https import public_base
from .palabra import PlacedElsewhere, palabra_of
from .tokens import TokenError, check_ttl, issue_token, verify_token

CONFERENCE_ID = re.compile(r"[a-z0-9_-]{1,64}")
MINUTES_FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",  # printable; the PDF is the browser's print of it
}


# The CSV's tables (``table=``): one row per intervention, per delegation, per item and delegation.
MINUTES_TABLES = {"interventions": "to_csv", "totals": "totals_csv", "items": "items_csv"}


def problem(status: int, code: str, message: str) -> web.Response:
    """Every refusal of these endpoints: a status and a typed JSON error."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def bearer_matches(request: web.Request, expected: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <expected>``."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.encode(errors="replace"), expected.encode()
    )


MAX_DEPTH = 8  # of nesting in a request body; the API's own bodies need 3


class BadRequest(Exception):
    """A request body that is not what the endpoint takes (400 ``invalid_argument``)."""


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise BadRequest("body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    if _too_deep(body):
        raise BadRequest(f"body nests deeper than {MAX_DEPTH} levels")
    return body


def _too_deep(value: object, depth: int = 1) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_too_deep(v, depth + 1) for v in value)
    return False


def _text(body: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    """A string field; missing only if ``optional``."""
    if name not in body or (optional and body[name] is None):
        if optional:
            return None
        raise BadRequest(f"missing field {name!r}")
    value = body[name]
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def _required(body: dict[str, Any], name: str) -> str:
    value = _text(body, name)
    assert value is not None
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    """A boolean field, false when missing."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value


def _delegation(body: dict[str, Any]) -> DelegationPlan:
    """``{id, name, code, observer?}``: an observer speaks on items open to observers only."""
    return DelegationPlan(
        _required(body, "id"),
        _required(body, "name"),
        _required(body, "code"),
        observer=_flag(body, "observer"),
    )


def _objects(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BadRequest(f"{name} must be a list of objects")
    return value


# HTTP refusals aiohttp raises itself (unknown path, wrong method, body too large).
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def admin_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        if not bearer_matches(request, palabra_of(request.app).config.admin_token):
            return problem(401, "unauthorized", "the admin API needs the admin token")
        try:
            response: web.StreamResponse = await handler(request)
        except BadRequest as exc:
            return problem(400, "invalid_argument", str(exc))
        except web.HTTPException as exc:
            if exc.content_type == "application/json":
                raise
            code = _HTTP_CODES.get(exc.status, "bad_request")
            return problem(exc.status, code, exc.reason)
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


_AGENDA_FIELDS = frozenset({"items", "quorum"})
_ITEM_FIELDS = frozenset(
    {"item_id", "titles", "planned_duration", "budget", "speakers", "observers", "parent"}
)


def _agenda(body: dict[str, Any]) -> list[Command]:
    """``agenda: {quorum?: {count|fraction}, items: [{item_id, titles, ..., speakers?}]}``.

    The same commands the chair would send (their values checked the same way),
    issued by the service when the conference is created.
    """
    agenda = body.get("agenda", {})
    if not isinstance(agenda, dict):
        raise BadRequest("agenda must be an object")
    if set(agenda) - _AGENDA_FIELDS:
        raise BadRequest(f"agenda takes only {sorted(_AGENDA_FIELDS)}")
    commands: list[Command] = []
    quorum = agenda.get("quorum")
    if quorum is not None:
        if not isinstance(quorum, dict):
            raise BadRequest("agenda.quorum must be an object")
        quorum_set = Command.from_dict({**quorum, "kind": SetQuorum.kind})
        assert isinstance(quorum_set, SetQuorum)
        if quorum_set.rule != QuorumRule():  # the default needs no event
            commands.append(quorum_set)
    for number, item in enumerate(_objects(agenda, "items"), start=1):
        where = f"agenda.items[{number}]"  # 1 first, as the chair counts them
        if set(item) - _ITEM_FIELDS:
            unknown = ", ".join(sorted(set(item) - _ITEM_FIELDS))
            raise BadRequest(
                f"{where}: unknown key(s) {unknown}; an item takes {sorted(_ITEM_FIELDS)}"
            )
        speakers = item.get("speakers", [])
        if not isinstance(speakers, list) or not all(isinstance(d, str) for d in speakers):
            raise BadRequest(f"{where}.speakers must be a list of delegation ids")
        fields = {k: v for k, v in item.items() if k != "speakers"}
        try:
            added = Command.from_dict({**fields, "kind": AddAgendaItem.kind})
            assert isinstance(added, AddAgendaItem)
            inscribed = [InscribeSpeaker(added.item_id, d) for d in speakers]
        except RoomError as exc:
            raise BadRequest(f"{where}: {exc.message}") from None
        commands += [added, *inscribed]
    return commands


def conference_plan(body: dict[str, Any]) -> ConferencePlan:
    """A conference from ``{id, title, delegations?, settings?, agenda?}``, checked whole.

    The admin API's body and a conference file (``--conference-file``) alike.
    BadRequest names the bad key; a plan the core refuses (an unknown
    delegation among the speakers, an item twice) raises its RoomError, so that
    nothing is created.
    """
    unknown = set(body) - {"id", "title", "delegations", "settings", "agenda"}
    if unknown:
        raise BadRequest(f"unknown key(s) {', '.join(sorted(unknown))}")
    delegations = [_delegation(d) for d in _objects(body, "delegations")]
    conference_id = _required(body, "id")
    if not CONFERENCE_ID.fullmatch(conference_id):
        raise BadRequest("id must be 1-64 of a-z, 0-9, '-' and '_'")
    settings = body.get("settings", {})
    if not isinstance(settings, dict):
        raise BadRequest("settings must be an object")
    try:
        checked = Settings.from_dict(settings)
    except RoomError as exc:
        raise BadRequest(f"settings: {exc.message}") from None
    plan = ConferencePlan(
        conference_id, _required(body, "title"), delegations, checked, setup=_agenda(body)
    )
    trial = Conference(plan.id)
    for command in plan.commands():
        trial.execute(command, SYSTEM, time.time())
    return plan


async def create_conference(request: web.Request) -> web.Response:
    """``{id, title, delegations?: [{id, name, code, observer?}], settings?, agenda?}``."""
    plan = conference_plan(await _body(request))
    palabra = palabra_of(request.app)
    if plan.id in palabra.conferences:
        return problem(409, "already_exists", f"conference {plan.id!r} exists")
    conference = await palabra.open_conference(plan)
    return web.json_response(conference.state.snapshot(), status=201)


async def show_conference(request: web.Request) -> web.Response:
    conference = _conference(request)
    return web.json_response({**conference.state.snapshot(), "seq": conference.seq})


async def add_delegation(request: web.Request) -> web.Response:
    """``{id, name, code, observer?}``."""
    conference = _conference(request)
    body = await _body(request)
    command = _delegation(body).command()
    await conference.execute(command, SYSTEM)
    return web.json_response(conference.state.snapshot(), status=201)


async def create_token(request: web.Request) -> web.Response:
    """``{role, name, delegation?, ttl?, participant?}`` -> ``{token, url, expires_at}``."""
    conference = _conference(request)
    palabra = palabra_of(request.app)
    body = await _body(request)
    ttl = check_ttl(body.get("ttl", 24 * 3600))
    token = issue_token(
        palabra.config.secret,
        conference=conference.id,
        role=_required(body, "role"),
        name=_required(body, "name"),
        delegation=_text(body, "delegation", optional=True),
        ttl=ttl,
        participant=_text(body, "participant", optional=True),
    )
    # Check it the way a join will, so a bad role or delegation fails here, not later.
    try:
        conference.participant_from(verify_token(palabra.config.secret, token))
    except (TokenError, JoinRefused) as exc:
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
    """``GET /c/<conference>/minutes?t=<token>&format=json|csv|md|html&lang=es|en&table=...``.

    For staff. ``table`` chooses the CSV's rows: interventions (default), totals, items.
    """
    conference = _conference(request)
    refusal = _staff_refusal(request, conference)
    if refusal is not None:
        return refusal
    form = request.query.get("format", "json")
    if form not in MINUTES_FORMATS:
        return problem(400, "invalid_argument", f"format must be one of {sorted(MINUTES_FORMATS)}")
    language = request.query.get("lang", "en")
    if language not in MINUTES_LANGUAGES:
        return problem(400, "invalid_argument", f"lang must be one of {list(MINUTES_LANGUAGES)}")
    table = request.query.get("table", "interventions")
    if table not in MINUTES_TABLES:
        return problem(400, "invalid_argument", f"table must be one of {list(MINUTES_TABLES)}")
    events = [stored.event for stored in await conference.store.read(conference.id)]
    record = build_minutes(events, now=time.time(), language=language)
    text = {
        "json": lambda: json.dumps(record.to_dict(), ensure_ascii=False, indent=2),
        "csv": getattr(record, MINUTES_TABLES[table]),
        "md": record.to_markdown,
        "html": record.to_html,
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
