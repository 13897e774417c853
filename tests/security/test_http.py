"""The HTTP surface: admin API errors, CSV minutes, security headers, /metrics, Origin.

Each through real HTTP (or a real WebSocket, or real Chromium) against a real server.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from playwright.async_api import async_playwright

from client import PalabraClient
from server.tokens import issue_token
from tests.e2e.harness import CHROMIUM, CHROMIUM_FLAGS

from ._http import ADMIN_TOKEN, METRICS_TOKEN, SECRET, RunningServer, call, hello, serve


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with serve(tmp_path) as running:
        yield running


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as session:
        yield session


# --- admin API: every refusal a typed JSON error -------------------------------------

TOKENS = "/api/conferences/demo/tokens"
ADMIN_REFUSALS: dict[str, tuple[str, str, Any, int, str]] = {
    "deeply nested JSON": ("POST", TOKENS, "[" * 100_000 + "]" * 100_000, 400, "invalid_argument"),
    "nested object": ("POST", TOKENS, '{"a":' * 50 + "1" + "}" * 50, 400, "invalid_argument"),
    "not JSON": ("POST", TOKENS, "{role:", 400, "invalid_argument"),
    "not an object": ("POST", TOKENS, "[1, 2]", 400, "invalid_argument"),
    "empty role": ("POST", TOKENS, {"role": "", "name": "X"}, 400, "invalid_token"),
    "empty name": ("POST", TOKENS, {"role": "chair", "name": ""}, 400, "invalid_argument"),
    "integer name": ("POST", TOKENS, {"role": "chair", "name": 7}, 400, "invalid_argument"),
    "integer delegation": (
        "POST", TOKENS, {"role": "head", "name": "X", "delegation": 5}, 400, "invalid_argument",
    ),
    "negative ttl": ("POST", TOKENS, {"role": "chair", "name": "X", "ttl": -1}, 400,
                     "invalid_argument"),
    "zero ttl": ("POST", TOKENS, {"role": "chair", "name": "X", "ttl": 0}, 400,
                 "invalid_argument"),
    "infinite ttl": ("POST", TOKENS, '{"role":"chair","name":"X","ttl":1e309}', 400,
                     "invalid_argument"),
    "NaN ttl": ("POST", TOKENS, '{"role":"chair","name":"X","ttl":NaN}', 400,
                "invalid_argument"),
    "boolean ttl": ("POST", TOKENS, {"role": "chair", "name": "X", "ttl": True}, 400,
                    "invalid_argument"),
    "string ttl": ("POST", TOKENS, {"role": "chair", "name": "X", "ttl": "1"}, 400,
                   "invalid_argument"),
    "missing role": ("POST", TOKENS, {"name": "X"}, 400, "invalid_argument"),
    "delegations not a list": (
        "POST", "/api/conferences", {"id": "x", "title": "X", "delegations": 3}, 400,
        "invalid_argument",
    ),
    "delegation not an object": (
        "POST", "/api/conferences", {"id": "x", "title": "X", "delegations": [3]}, 400,
        "invalid_argument",
    ),
    "integer title": ("POST", "/api/conferences", {"id": "x", "title": 3}, 400,
                      "invalid_argument"),
    "settings not an object": (
        "POST", "/api/conferences", {"id": "x", "title": "X", "settings": []}, 400,
        "invalid_argument",
    ),
    "integer delegation id": (
        "POST", "/api/conferences/demo/delegations", {"id": 1, "name": "X", "code": "MX"}, 400,
        "invalid_argument",
    ),
    "too large": ("POST", TOKENS, '{"name":"' + "x" * (2 * 1024 * 1024) + '"}', 413,
                  "too_large"),
    "unknown path": ("GET", "/api/nothing-here", None, 404, "not_found"),
    "unknown conference": ("GET", "/api/conferences/nope", None, 404, "not_found"),
    "wrong method": ("DELETE", "/api/conferences", None, 405, "method_not_allowed"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"), ADMIN_REFUSALS.values(), ids=ADMIN_REFUSALS.keys()
)
async def test_admin_api_refusals_are_typed_json_errors(
    server: RunningServer,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    seq = server.palabra.conferences["demo"].seq
    raw = body if isinstance(body, str) else None
    got, content_type, answer = await call(
        http, method, path, body=None if raw is not None else body, data=raw
    )
    assert (got, content_type) == (status, "application/json"), answer
    assert answer["error"]["code"] == code
    assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]
    assert "Traceback" not in json.dumps(answer)
    assert server.palabra.conferences["demo"].seq == seq
    assert set(server.palabra.conferences) == {"demo"}


async def test_the_admin_api_wants_its_own_token_not_the_signing_key(
    http: aiohttp.ClientSession,
) -> None:
    status, _, answer = await call(
        http, "GET", "/api/conferences", headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert (status, answer["error"]["code"]) == (401, "unauthorized")
    status, _, _ = await call(
        http, "GET", "/api/conferences", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert status == 200


# --- CSV minutes: no formulas -----------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


async def test_csv_minutes_neutralise_formulas_in_names_and_reasons(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    chair = PalabraClient(
        server.ws_url, server.token("chair", "Presidencia", None), media_addresses=["127.0.0.1"]
    )
    await chair.join()
    try:
        for index, text in enumerate(FORMULAS):
            speaker = PalabraClient(
                server.ws_url,
                server.token("head", text, "gt", participant=f"p-{index}"),
                media_addresses=["127.0.0.1"],
            )
            await speaker.join()
            try:
                update = await speaker.command("floor.request", delegation_id="gt")
                [request] = [e for e in update.events if e["type"] == "floor.requested"]
                rid = request["request_id"]
                await chair.command("floor.grant", request_id=rid, unlimited=True)
                await chair.command("floor.revoke", request_id=rid, reason=text)
            finally:
                await speaker.leave()
                await speaker.close()
    finally:
        await chair.close()
    token = issue_token(SECRET, conference="demo", role="chair", name="P")
    async with http.get(f"/c/demo/minutes?t={token}&format=csv") as response:
        assert response.status == 200
        text = await response.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["speaker"] for row in rows] == ["'" + f for f in FORMULAS]
    assert [row["end_reason"] for row in rows] == ["'" + f for f in FORMULAS]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    # The JSON minutes keep the names as they are.
    async with http.get(f"/c/demo/minutes?t={token}&format=json") as response:
        record = await response.json()
    assert [i["speaker"] for i in record["interventions"]] == FORMULAS


# --- security headers ------------------------------------------------------------------


async def test_every_page_carries_the_security_headers(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    chair = issue_token(SECRET, conference="demo", role="chair", name="P")
    for path in ("/", f"/c/demo?t={chair}", "/web/conference.js", "/web/styles.css",
                 f"/c/demo/minutes?t={chair}", f"/c/demo/recordings?t={chair}",
                 "/api/conferences", "/healthz", "/nothing-here"):  # fmt: skip
        async with http.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as answer:
            headers = answer.headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        server_header = headers.get("Server", "")
        assert "aiohttp" not in server_header.lower() and "python" not in server_header.lower()
        if path.startswith(("/c/", "/api/")):
            assert headers["Cache-Control"] == "no-store", path


def test_the_pages_have_no_inline_script_style_or_handler() -> None:
    root = Path(__file__).resolve().parents[2] / "web"
    for page in root.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        for tag in html.split("<script")[1:]:
            assert "src=" in tag.split(">")[0], f"inline script in {page.name}"
        assert "<style" not in html and " style=" not in html, page.name
        assert " onclick=" not in html and " onload=" not in html, page.name


# --- /metrics --------------------------------------------------------------------------


async def test_metrics_need_the_metrics_token(http: aiohttp.ClientSession) -> None:
    for headers in ({}, {"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    {"Authorization": f"Bearer {SECRET}"}):  # fmt: skip
        async with http.get("/metrics", headers=headers) as answer:
            assert answer.status == 401
            assert "demo" not in await answer.text()
    async with http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as ok:
        assert ok.status == 200
        assert 'conference="demo"' in await ok.text()


# --- WebSocket Origin ------------------------------------------------------------------


async def test_a_page_of_another_origin_may_not_open_the_socket(server: RunningServer) -> None:
    here = f"http://127.0.0.1:{server.port}"
    reply, _ = await hello(server.ws_url, server.token(), {"Origin": here})
    assert reply["type"] == "welcome"
    reply, _ = await hello(server.ws_url, server.token())  # not a browser: no Origin
    assert reply["type"] == "welcome"
    for origin in ("https://evil.example", f"http://127.0.0.1:{server.port + 1}", "null"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await hello(server.ws_url, server.token(), {"Origin": origin})
        assert refused.value.response.status_code == 403


async def test_with_a_public_url_only_its_origin_may_connect(tmp_path: Path) -> None:
    public = "https://palabra.example.org"
    async with serve(
        tmp_path, public_url=public + "/", allowed_origins=["https://backup.example.org"]
    ) as server:
        for origin in (public, "https://backup.example.org", "HTTPS://Palabra.Example.org"):
            reply, _ = await hello(server.ws_url, server.token(), {"Origin": origin})
            assert reply["type"] == "welcome", origin
        for origin in (f"http://127.0.0.1:{server.port}", "http://palabra.example.org"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await hello(server.ws_url, server.token(), {"Origin": origin})
            assert refused.value.response.status_code == 403


# --- the client under the policy, in real Chromium --------------------------------------

CSP_WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is missing")
async def test_the_client_runs_under_the_policy_in_chromium(server: RunningServer) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            context = await browser.new_context(permissions=["camera", "microphone"])
            await context.add_init_script(CSP_WATCH)
            console: list[str] = []
            pages = []
            for role, name, delegation in (
                ("chair", "Presidencia", None),
                ("head", "Canciller", "gt"),
            ):
                page = await context.new_page()
                page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
                page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
                token = server.token(role, name, delegation)
                await page.goto(f"http://127.0.0.1:{server.port}/c/demo?t={token}")
                await page.wait_for_function(
                    "() => window.palabra?.connection?.state === 'joined'", timeout=15_000
                )
                pages.append(page)
            chair, head = pages
            await chair.wait_for_function("() => document.body.dataset.view === 'chair'")
            await head.get_by_role("button", name="Entrar a la reunión").click()
            await head.wait_for_function("() => document.body.dataset.view === 'delegation'")
            await chair.wait_for_function(
                "() => document.querySelectorAll('video').length > 0", timeout=15_000
            )
            for page in pages:
                assert await page.evaluate("() => window.__violations") == []
            refused = [line for line in console if "Content Security Policy" in line]
            assert refused == [] and not any("[pageerror]" in line for line in console), console
        finally:
            await browser.close()
