"""Reaching the meeting from locked-down networks, in real Chromium.

The server serves HTTPS and WSS with a certificate from the test's own CA
(installed in the browser's NSS database, no --ignore-certificate-errors);
a real coturn relays media over TURN/UDP and TURN/TLS with the credential
each seat gets in its welcome; the floor is still enforced on relayed media.
The "locked-down ministry" drops, with nftables in the test's namespace,
every UDP datagram that does not come from or go to the relay's port range.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiortc import AudioStreamTrack
from playwright.async_api import Browser, Route, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from client import PalabraClient
from server.tokens import issue_token
from signaling import MonitorStats
from tests.pki import Pki, make_pki
from tests.turn_server import TurnServer, coturn

from .harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    REPO,
    BrowserPage,
    eventually,
    free_port,
    wait_healthy,
)

pytestmark = pytest.mark.e2e

NFT = shutil.which("nft") or "/usr/sbin/nft"
CERTUTIL = shutil.which("certutil")


@dataclass(frozen=True)
class SecureServer:
    port: int
    secret: str
    turn: TurnServer

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"wss://localhost:{self.port}/ws"

    def token(self, role: str, name: str, delegation: str | None, participant: str) -> str:
        return issue_token(
            self.secret,
            conference="demo",
            role=role,
            name=name,
            delegation=delegation,
            participant=participant,
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TurnServer]:
    with coturn(tmp_path_factory.mktemp("coturn"), pki) as server:
        yield server


@pytest.fixture(scope="module")
def trusting_ca(pki: Pki) -> Iterator[None]:
    """This process (the aiortc chair, its TURN/TLS) trusts the test's CA."""
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(pki.ca_cert)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = previous


@pytest.fixture(scope="module")
def server(pki: Pki, turn: TurnServer, trusting_ca: None) -> Iterator[SecureServer]:
    """`palabra serve` over HTTPS with the TURN URLs in a config file."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    secret = f"e2e-{secrets.token_hex(16)}"
    folder = pki.cert.parent
    (folder / "turn-secret").write_text(turn.secret)
    config = folder / "palabra.toml"
    config.write_text(
        "\n".join(
            [
                'host = "127.0.0.1"',
                f"port = {port}",
                'media_address = ["127.0.0.1"]',
                f'tls_cert = "{pki.cert}"',
                f'tls_key = "{pki.key}"',
                f"turn_url = {json.dumps([turn.udp_url, turn.tls_url])}",
                f'turn_secret_file = "{folder / "turn-secret"}"',
                "demo = true",
            ]
        )
        + "\n"
    )
    log_path = ARTIFACTS / f"e2e-reach-server-{port}.log"
    env = {**os.environ, "PALABRA_SECRET": secret, "SSL_CERT_FILE": str(pki.ca_cert)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--config", str(config)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_healthy(proc, f"https://localhost:{port}/healthz", log_path)
        yield SecureServer(port, secret, turn)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert turn.secret not in log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def browser_home(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Path:
    """A HOME whose NSS database trusts the test's CA (Chromium reads ~/.pki/nssdb)."""
    if CERTUTIL is None:
        pytest.skip("certutil is missing (apt-get install libnss3-tools)")
    home = tmp_path_factory.mktemp("home")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{db}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [CERTUTIL, "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", "palabra-ca", "-i", pki.ca_cert],
        check=True,
    )
    return home


@pytest.fixture
async def browser(browser_home: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_FLAGS,
            headless=True,
            env={**os.environ, "HOME": str(browser_home)},
        )
        try:
            yield browser
        finally:
            await browser.close()


# Records every peer connection; with `only`, keeps just those TURN URLs and
# allows relayed candidates only (iceTransportPolicy "relay").
RECORD_PEERS = """
(only) => {
  const Native = window.RTCPeerConnection;
  window.__peers = [];
  const Wrapped = function (config = {}, ...rest) {
    if (only) {
      const servers = (config.iceServers || []).map((s) => ({
        ...s, urls: [].concat(s.urls).filter((u) => u.startsWith(only)),
      }));
      config = {...config, iceServers: servers, iceTransportPolicy: 'relay'};
    }
    const pc = new Native(config, ...rest);
    window.__peers.push(pc);
    return pc;
  };
  Wrapped.prototype = Native.prototype;
  Object.setPrototypeOf(Wrapped, Native);
  window.RTCPeerConnection = Wrapped;
}
"""

# For the failure message: every peer connection's state and candidates.
PEER_STATES = """
async () => Promise.all((window.__peers || []).map(async (pc) => {
  const candidates = [];
  (await pc.getStats()).forEach((r) => {
    if (r.type.endsWith('candidate')) {
      candidates.push(`${r.type} ${r.candidateType} ${r.relayProtocol || r.protocol} ${r.port}`);
    }
  });
  return {state: pc.connectionState, candidates};
}))
"""

SELECTED_PAIRS = """
async () => {
  const out = [];
  for (const pc of window.__peers || []) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId) {
        pair = stats.get(r.selectedCandidatePairId);
      }
    });
    if (!pair) continue;
    const local = stats.get(pair.localCandidateId);
    out.push({type: local.candidateType, protocol: local.relayProtocol || local.protocol,
              sent: pair.bytesSent, received: pair.bytesReceived});
  }
  return out;
}
"""


async def delegation_page(
    browser: Browser,
    server: SecureServer,
    only: str | None,
    seat: tuple[str, str, str] = ("Jefatura — Guatemala", "gt", "p-gt"),
) -> BrowserPage:
    context = await browser.new_context(
        permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
    )
    await context.add_init_script(f"({RECORD_PEERS})({json.dumps(only)})")
    page = BrowserPage(await context.new_page())
    page.listen()
    name, delegation, participant = seat
    token = server.token("head", name, delegation, participant)
    await page.page.goto(f"{server.base_url}/c/demo?t={token}")
    return page


@contextlib.asynccontextmanager
async def chair(
    server: SecureServer, prefer_turn: str | None = None
) -> AsyncIterator[PalabraClient]:
    """An aiortc chair on the same network as the delegation."""
    client = PalabraClient(
        server.ws_url,
        server.token("chair", "Presidencia", None, "p-chair"),
        media_addresses=["127.0.0.1"],
        prefer_turn=prefer_turn,
    )
    try:
        await client.join()
        # The chair is always heard: the delegation's subscriber connection carries it.
        await client.publish(audio=AudioStreamTrack())
        yield client
    finally:
        await client.close()


async def relayed_pairs(page: BrowserPage, protocol: str) -> list[dict[str, Any]]:
    """Both peer connections connected through the relay over ``protocol``."""

    async def probe() -> list[dict[str, Any]] | None:
        pairs: list[dict[str, Any]] = await page.js(SELECTED_PAIRS)
        ok = len(pairs) == 2 and all(
            p["type"] == "relay" and p["protocol"] == protocol and p["received"] > 0 for p in pairs
        )
        return pairs if ok else None

    deadline = 30
    for _ in range(deadline * 4):
        pairs = await probe()
        if pairs:
            return pairs
        await page.page.wait_for_timeout(250)
    states = json.dumps(await page.js(PEER_STATES), indent=1)
    pytest.fail(f"no relayed {protocol} pairs: {await page.js(SELECTED_PAIRS)}\n{states}")


def heard_frames(chair: PalabraClient, owner: str) -> int:
    return sum(
        s.frames for s in chair.streams.values() if s.participant_id == owner and s.kind == "audio"
    )


async def enters(page: BrowserPage, boss: PalabraClient, participant: str = "p-gt") -> None:
    """Admitted from the lobby by the chair, the delegation enters the room."""
    await boss.wait_for(
        lambda: any(p["participant_id"] == participant for p in boss.room.get("lobby", [])), 15
    )
    await boss.command("lobby.admit", participant_id=participant)
    await page.page.get_by_text("La Presidencia le ha admitido").wait_for()
    for _ in range(5):  # (a click while the lobby view re-renders can be lost)
        await page.page.locator("#btn-enter").click()
        with contextlib.suppress(PlaywrightTimeout):
            await page.page.locator(".prejoin").wait_for(state="detached", timeout=2000)
            break


async def joins_and_is_heard_only_with_the_floor(
    server: SecureServer, page: BrowserPage, boss: PalabraClient, protocol: str
) -> None:
    await enters(page, boss)
    await relayed_pairs(page, protocol)
    await boss.wait_for(
        lambda: any(
            s.participant_id == "p-gt" and s.kind == "video" and s.frames > 5
            for s in boss.streams.values()
        ),
        20,
    )

    # The technicians' feed (the chair receives it too) shows the relayed path.
    def relayed_in_the_feed() -> bool:
        for message in reversed(boss.messages):
            if isinstance(message, MonitorStats):
                paths = {
                    (s["direction"], s.get("subscriber_id")): s.get("path")
                    for s in message.streams
                    if s["participant_id"] == "p-gt" or s.get("subscriber_id") == "p-gt"
                }
                # A peer's checks may reach the server before its SDP names
                # the relay (on either connection, e.g. a subscriber answer
                # that follows a renegotiation): aioice then learns the relay
                # address as prflx. The browser's own stats (relayed_pairs)
                # prove the relay; here the feed must show a remote path.
                remote = ("relay udp", "prflx udp")
                return paths.get(("in", None)) in remote and paths.get(("out", "p-gt")) in remote
        return False

    await boss.wait_for(relayed_in_the_feed, 10)
    # Without the floor the delegation's microphone is not forwarded.
    await page.page.wait_for_timeout(1500)
    assert heard_frames(boss, "p-gt") == 0
    update = await boss.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    await boss.command("floor.grant", request_id=request["request_id"], unlimited=True)
    await eventually(lambda: heard_frames(boss, "p-gt") > 25, 15, "the delegation heard")
    await boss.command("floor.revoke", request_id=request["request_id"])


@pytest.mark.parametrize(("only", "protocol"), [("turn:", "udp"), ("turns:", "tls")])
async def test_media_through_the_relay_over_https(
    server: SecureServer, browser: Browser, only: str, protocol: str
) -> None:
    async with chair(server) as boss:
        page = await delegation_page(browser, server, only)
        try:
            assert await page.js("() => location.protocol") == "https:"
            await joins_and_is_heard_only_with_the_floor(server, page, boss, protocol)
            assert not page.errors
            await page.screenshot(f"reach-relay-{protocol}")
        finally:
            await boss.command("participant.remove", participant_id="p-gt")
            page.save_log(f"reach-relay-{protocol}")
            await page.page.context.close()


@contextlib.contextmanager
def locked_down(turn: TurnServer) -> Iterator[None]:
    """Only UDP from or to the relay's port range passes; TCP (TLS) goes through."""
    first, last = turn.relay_ports
    rules = f"""
table inet ministry {{
  chain input {{
    type filter hook input priority 0; policy accept;
    udp sport {first}-{last} accept
    udp dport {first}-{last} accept
    meta l4proto udp counter drop
  }}
}}
"""
    subprocess.run([NFT, "-f", "-"], input=rules, text=True, check=True)
    try:
        yield
    finally:
        subprocess.run([NFT, "delete", "table", "inet", "ministry"], check=True)


def dropped_datagrams() -> int:
    out = subprocess.run(
        [NFT, "-j", "list", "table", "inet", "ministry"], capture_output=True, text=True, check=True
    ).stdout
    for item in json.loads(out)["nftables"]:
        for expr in item.get("rule", {}).get("expr", []):
            if "counter" in expr:
                packets: int = expr["counter"]["packets"]
                return packets
    return 0


async def test_locked_down_ministry_joins_through_turn_over_tls(
    server: SecureServer, browser: Browser
) -> None:
    if shutil.which("nft") is None and not Path(NFT).exists():
        pytest.skip("nft is missing (apt-get install nftables)")
    with locked_down(server.turn):
        async with chair(server, prefer_turn="turns:") as boss:
            page = await delegation_page(browser, server, None)
            try:
                await joins_and_is_heard_only_with_the_floor(server, page, boss, "tls")
                assert dropped_datagrams() > 0  # the direct paths were tried, and blocked
                await page.screenshot("reach-locked-down")
            finally:
                await boss.command("participant.remove", participant_id="p-gt")
                page.save_log("reach-locked-down")
                await page.page.context.close()


async def check_page(browser: Browser, url: str) -> BrowserPage:
    context = await browser.new_context(permissions=["camera", "microphone"])
    page = BrowserPage(await context.new_page())
    page.listen()
    await page.page.goto(url)
    await page.wait_js("() => document.body.dataset.checked === 'true'", timeout=60)
    return page


async def statuses(page: BrowserPage) -> dict[str, str]:
    found: dict[str, str] = await page.js(
        "() => Object.fromEntries([...document.querySelectorAll('.check-step')]"
        ".map((r) => [r.dataset.step, r.dataset.status]))"
    )
    return found


def technician_reports(server: SecureServer, pki: Pki) -> list[dict[str, Any]]:
    import ssl
    import urllib.request

    token = server.token("technician", "Técnico", None, "p-tech")
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    with urllib.request.urlopen(
        f"{server.base_url}/check/reports?t={token}", context=context, timeout=5
    ) as answer:
        reports: list[dict[str, Any]] = json.loads(answer.read())["reports"]
        return reports


async def test_connectivity_check_on_an_open_network(
    server: SecureServer, browser: Browser, pki: Pki
) -> None:
    token = server.token("head", "Jefatura — Costa Rica", "cr", "p-cr")
    page = await check_page(browser, f"{server.base_url}/check?t={token}")
    try:
        found = await statuses(page)
        assert found == {
            "https": "green",
            "websocket": "green",
            "udp": "green",
            "turnUdp": "green",
            "turnTls": "green",
            "rtt": "green",
            "rate": "green",
            "devices": "green",
        }, found
        assert await page.js("() => document.querySelector('#check-summary').dataset.status") == (
            "green"
        )
        await page.screenshot("check-open-network")
        await page.page.locator("#check-send").click()
        await page.wait_js("() => document.querySelector('#check-sent').dataset.sent === 'true'")
        [report] = [r for r in technician_reports(server, pki) if r["participant_id"] == "p-cr"]
        assert report["steps"]["turnTls"] == "green" and report["delegation"] == "cr"
        # English, with the same results.
        await page.page.locator("[data-lang=en]").click()
        assert await page.js("() => document.querySelector('h1').textContent") == (
            "Connectivity check"
        )
        assert not page.errors
    finally:
        page.save_log("check-open-network")
        await page.page.context.close()


async def test_connectivity_check_in_the_locked_down_ministry(
    server: SecureServer, browser: Browser
) -> None:
    token = server.token("head", "Jefatura — El Salvador", "sv", "p-sv")
    with locked_down(server.turn):
        page = await check_page(browser, f"{server.base_url}/check?t={token}")
    try:
        found = await statuses(page)
        assert found["udp"] == "amber" and found["turnUdp"] == "amber", found
        assert found["turnTls"] == "green" and found["websocket"] == "green", found
        assert await page.js("() => document.querySelector('#check-summary').dataset.status") == (
            "amber"
        )
        advice = await page.js(
            "() => document.querySelector('[data-step=turnUdp] .check-advice').textContent"
        )
        assert "3478" in advice
        await page.screenshot("check-locked-down")
    finally:
        page.save_log("check-locked-down")
        await page.page.context.close()


async def test_connectivity_check_without_a_link(server: SecureServer, browser: Browser) -> None:
    page = await check_page(browser, f"{server.base_url}/check")
    try:
        found = await statuses(page)
        assert found["https"] == "green" and found["devices"] == "green", found
        assert found["turnTls"] == "amber" and found["udp"] == "amber", found
        advice = await page.js(
            "() => document.querySelector('[data-step=turnTls] .check-advice').textContent"
        )
        assert "enlace de su invitación" in advice
    finally:
        await page.page.context.close()


async def technician_page(
    browser: Browser, server: SecureServer, reports: Callable[[Route], Awaitable[None]]
) -> BrowserPage:
    """The technician's page; ``reports`` handles its fetches of /check/reports."""
    context = await browser.new_context(
        permissions=["camera", "microphone"], viewport={"width": 1366, "height": 768}
    )
    await context.route("**/check/reports?*", reports)
    page = BrowserPage(await context.new_page())
    page.listen()
    token = server.token("technician", "Técnico de sala", None, "p-path-tech")
    await page.page.goto(f"{server.base_url}/c/demo?t={token}")
    await page.wait_js("() => document.body.dataset.view === 'technician'", timeout=20)
    return page


PATH_BADGE = """
(participant) => {
  const badge = document.querySelector(
    `#streams-table tbody[data-participant-id="${participant}"] .path-badge`);
  return badge && {path: badge.dataset.path, transport: badge.dataset.transport,
                   text: badge.textContent, title: badge.title,
                   shown: badge.closest('tbody').getClientRects().length > 0};
}
"""

CHECK_CARD = """
(participant) => {
  const card = document.querySelector(`#check-reports li[data-participant-id="${participant}"]`);
  return card && {
    status: card.dataset.status,
    name: card.querySelector('.name').textContent,
    steps: Object.fromEntries([...card.querySelectorAll('.check-chip')]
      .map((c) => [c.dataset.step, c.dataset.status])),
    advice: [...card.querySelectorAll('.check-advice-list li')].map((li) => li.textContent),
  };
}
"""


# The badge from the feed's path and the participant's check report.
CLASSIFY = """
async (cases) => {
  const {classifyPath} = await import('/web/views/technician/paths.js');
  return cases.map(([raw, steps]) => {
    const report = steps && {participant_id: 'p', name: 'n', delegation: null, at: 0, steps};
    const view = classifyPath(raw, report || undefined);
    return `${view.kind} ${view.transport}`.trim();
  });
}
"""
LOCKED = {"udp": "amber", "turnUdp": "amber", "turnTls": "green"}
OPEN = {"udp": "green", "turnUdp": "green", "turnTls": "green"}
CLASSIFY_CASES: list[tuple[str, dict[str, str] | None, str]] = [
    ("host udp", None, "direct"),
    ("host tcp", OPEN, "direct"),
    ("srflx udp", None, "nat"),
    ("prflx udp", None, "nat"),
    ("prflx udp", OPEN, "nat"),  # direct UDP works: a prflx is a NAT mapping
    ("prflx udp", LOCKED, "relay tls"),  # direct UDP blocked: it can only be the relay
    ("relay udp", None, "relay"),  # no check: the relay's transport is unknown
    ("relay udp", OPEN, "relay udp"),  # browsers prefer the UDP relay
    ("relay udp", LOCKED, "relay tls"),
    ("relay udp", {"udp": "amber", "turnUdp": "red", "turnTls": "red"}, "relay"),
    ("", None, "unknown"),
]


async def test_technician_sees_the_relayed_path_and_the_check_report(
    server: SecureServer, browser: Browser
) -> None:
    """El Salvador checks from a ministry that lets only TLS out, sends the
    results while the technician watches, then joins through TURN over TLS:
    the technician's page shows the report live and the seat as "relé TLS"."""
    if shutil.which("nft") is None and not Path(NFT).exists():
        pytest.skip("nft is missing (apt-get install nftables)")
    seat = ("Jefatura — El Salvador", "sv", "p-path-sv")
    token = server.token("head", *seat)
    with locked_down(server.turn):
        check = await check_page(browser, f"{server.base_url}/check?t={token}")
    # The page's fetches of /check/reports: let through until told to refuse them.
    fetches: list[str] = []
    refuse = False

    async def reports(route: Route) -> None:
        fetches.append(route.request.url)
        await (route.abort() if refuse else route.continue_())

    tech = await technician_page(browser, server, reports)
    page: BrowserPage | None = None
    async with chair(server) as boss:
        try:
            await eventually(lambda: fetches, 10, "the checks panel's first fetch")
            assert await tech.js(CHECK_CARD, "p-path-sv") is None
            # Sent while the technician's page is open: pushed (check.report),
            # since its fetches are refused from now on.
            refuse = True
            await check.page.locator("#check-send").click()
            await check.wait_js(
                "() => document.querySelector('#check-sent').dataset.sent === 'true'"
            )
            await tech.wait_js(f"() => ({CHECK_CARD})('p-path-sv')", timeout=20)
            card = await tech.js(CHECK_CARD, "p-path-sv")
            assert card["status"] == "amber" and card["name"] == "Jefatura — El Salvador", card
            assert card["steps"]["udp"] == "amber" and card["steps"]["turnUdp"] == "amber", card
            assert card["steps"]["turnTls"] == "green", card
            assert any("3478" in advice for advice in card["advice"]), card

            page = await delegation_page(browser, server, "turns:", seat)
            await enters(page, boss, "p-path-sv")
            await relayed_pairs(page, "tls")
            await tech.wait_js(f"() => ({PATH_BADGE})('p-path-sv')?.path === 'relay'", timeout=20)
            badge = await tech.js(PATH_BADGE, "p-path-sv")
            assert badge["transport"] == "tls" and badge["text"] == "relé TLS", badge
            # The raw value the server sees is in the tooltip.
            assert "relay udp" in badge["title"] or "prflx udp" in badge["title"], badge
            await tech.wait_js(f"() => ({PATH_BADGE})('p-chair')?.path === 'direct'", timeout=20)
            assert await tech.js("() => document.querySelector('#figure-relayed').textContent") == (
                "1"
            )

            # Only those on the relay: the chair's direct connection is hidden.
            await tech.page.locator("#relay-only").check()
            assert (await tech.js(PATH_BADGE, "p-chair"))["shown"] is False
            assert (await tech.js(PATH_BADGE, "p-path-sv"))["shown"] is True
            await tech.page.locator("#relay-only").uncheck()
            assert (await tech.js(PATH_BADGE, "p-chair"))["shown"] is True

            await tech.screenshot("technician-paths-1366x768")
            await tech.page.locator("#checks-panel").scroll_into_view_if_needed()
            await tech.screenshot("technician-checks-1366x768")
            await tech.page.set_viewport_size({"width": 1920, "height": 1080})
            await tech.screenshot("technician-paths-1920x1080")

            await tech.page.get_by_role("button", name="EN", exact=True).click()
            await tech.page.get_by_role("heading", name="Connectivity checks").wait_for()
            assert (await tech.js(PATH_BADGE, "p-path-sv"))["text"] == "relay TLS"
            await tech.screenshot("technician-paths-english-1920x1080")

            # Reopened, the page fetches the reports it missed: the same card and badge.
            refuse = False
            await tech.page.reload()
            await tech.wait_js("() => document.body.dataset.view === 'technician'", timeout=20)
            await tech.wait_js(f"() => ({CHECK_CARD})('p-path-sv')", timeout=10)
            await tech.wait_js(
                f"() => ({PATH_BADGE})('p-path-sv')?.text === 'relay TLS'", timeout=20
            )
            assert await tech.js(CLASSIFY, CLASSIFY_CASES) == [c[2] for c in CLASSIFY_CASES]
            assert not tech.errors and not check.errors and not page.errors
        finally:
            with contextlib.suppress(Exception):
                await boss.command("participant.remove", participant_id="p-path-sv")
            tech.save_log("technician-paths")
            await tech.page.context.close()
            await check.page.context.close()
            if page is not None:
                page.save_log("technician-paths-delegation")
                await page.page.context.close()
