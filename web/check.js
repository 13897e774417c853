// The connectivity check: /check?t=<join token>, linked from the lobby and
// usable on its own before the meeting. Step by step: HTTPS, the signaling
// WebSocket, UDP to the server (a data channel to an echo peer), TURN/UDP and
// TURN/TLS (a relayed candidate with the seat's credential), round-trip time,
// download and upload rate, camera and microphone. Each step ends green, amber
// or red with what to ask the ministry's IT for; the results can be sent to
// the conference's technicians.

import {initialLang, onLangChange, setLang, t} from './i18n.js';

/** @typedef {'running' | 'green' | 'amber' | 'red'} Status */
/** @typedef {{status: Status, detail: string, key: string, advice: string}} Result */

const STEPS = /** @type {const} */ (
  ['https', 'websocket', 'udp', 'turnUdp', 'turnTls', 'rtt', 'rate', 'devices']);
const token = new URLSearchParams(location.search).get('t') ?? '';
const query = `t=${encodeURIComponent(token)}`;

/** @type {Record<string, Result>} */
const results = {};
/** @type {Record<string, {row: HTMLElement, status: HTMLElement, detail: HTMLElement, advice: HTMLElement}>} */
const rows = {};
/** @type {RTCIceServer[] | null} */
let iceServers = null;

function el(tag, cls) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  return node;
}

function build() {
  const list = /** @type {HTMLElement} */ (document.getElementById('check-steps'));
  list.replaceChildren();
  for (const step of STEPS) {
    const row = el('li', 'check-step');
    row.dataset.step = step;
    const name = el('span', 'check-name');
    name.dataset.i18n = `check.${step}`;
    const status = el('span', 'check-status');
    const detail = el('span', 'check-detail');
    const advice = el('p', 'check-advice');
    row.append(status, name, detail, advice);
    list.append(row);
    rows[step] = {row, status, detail, advice};
  }
}

/**
 * @param {string} step
 * @param {Status} status
 * @param {string} [detail]
 * @param {string} [adviceKey]  a string key; default check.<step>.<status> when not green
 */
function show(step, status, detail = '', adviceKey) {
  const key = status === 'green' || status === 'running' ? '' : adviceKey ?? `check.${step}.${status}`;
  results[step] = {status, detail, key, advice: key ? t(/** @type {any} */ (key)) : ''};
  render(step);
}

function render(step) {
  const r = results[step];
  const row = rows[step];
  if (!r || !row) return;
  row.row.dataset.status = r.status;
  row.status.textContent = t(/** @type {any} */ (`check.status.${r.status}`));
  row.status.dataset.status = r.status;
  row.detail.textContent = r.detail;
  row.advice.textContent = r.advice;
}

function rerender() {
  for (const step of STEPS) {
    const r = results[step];
    if (r && r.key) r.advice = t(/** @type {any} */ (r.key));
    const row = rows[step];
    if (r && row) {
      row.status.textContent = t(/** @type {any} */ (`check.status.${r.status}`));
      row.advice.textContent = r.advice;
    }
  }
  summarize();
}

/** @param {number} ms */
const timeout = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function checkHttps() {
  if (location.protocol === 'https:') show('https', 'green', location.host);
  else if (['localhost', '127.0.0.1', '[::1]'].includes(location.hostname)) show('https', 'amber', location.host);
  else show('https', 'red', location.host);
}

async function checkWebSocket() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const started = performance.now();
  const opened = await new Promise((resolve) => {
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    const timer = setTimeout(() => { ws.close(); resolve(false); }, 8000);
    ws.onopen = () => { clearTimeout(timer); ws.close(1000); resolve(true); };
    ws.onerror = () => { clearTimeout(timer); resolve(false); };
  });
  if (opened) show('websocket', 'green', `${Math.round(performance.now() - started)} ms`);
  else show('websocket', 'red');
}

async function fetchServers() {
  if (!token) return null;
  try {
    const answer = await fetch(`/check/servers?${query}`, {cache: 'no-store'});
    if (!answer.ok) return null;
    return /** @type {RTCIceServer[]} */ ((await answer.json()).ice_servers);
  } catch {
    return null;
  }
}

async function checkUdp() {
  if (!token) { show('udp', 'amber', '', 'check.noToken'); return; }
  const pc = new RTCPeerConnection({iceServers: []});
  try {
    const channel = pc.createDataChannel('check');
    await pc.setLocalDescription(await pc.createOffer());
    await Promise.race([gathered(pc), timeout(5000)]);
    const answer = await fetch(`/check/offer?${query}`, {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({sdp: pc.localDescription?.sdp}),
    });
    if (!answer.ok) { show('udp', 'red'); return; }
    await pc.setRemoteDescription({type: 'answer', sdp: (await answer.json()).sdp});
    const open = await Promise.race([
      new Promise((resolve) => channel.addEventListener('open', () => resolve(true))),
      timeout(8000).then(() => false),
    ]);
    if (!open) { show('udp', 'amber'); return; }
    const rtts = [];
    for (let i = 0; i < 5; i++) {
      const sent = performance.now();
      const echo = Promise.race([
        new Promise((resolve) => channel.addEventListener('message', () => resolve(true), {once: true})),
        timeout(2000).then(() => false),
      ]);
      channel.send(`ping ${i}`);
      if (await echo) rtts.push(performance.now() - sent);
    }
    const path = await selectedPath(pc);
    show('udp', 'green', `${path} · ${rtts.length ? Math.round(median(rtts)) : '?'} ms`);
  } catch {
    show('udp', 'amber');
  } finally {
    pc.close();
  }
}

/** @param {RTCPeerConnection} pc */
function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve(undefined);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve(undefined);
    });
  });
}

/** @param {RTCPeerConnection} pc */
async function selectedPath(pc) {
  const stats = await pc.getStats();
  let text = '';
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) {
      const pair = stats.get(r.selectedCandidatePairId);
      const local = pair && stats.get(pair.localCandidateId);
      if (local) text = `${local.candidateType} ${local.relayProtocol ?? local.protocol}`;
    }
  });
  return text;
}

/**
 * A relayed candidate from the TURN URLs starting with `prefix` proves the
 * allocation works over that transport.
 * @param {'turnUdp' | 'turnTls'} step
 * @param {(url: string) => boolean} wanted
 */
async function checkTurn(step, wanted) {
  if (!token || iceServers === null) { show(step, 'amber', '', 'check.noToken'); return; }
  const servers = iceServers
    .map((s) => ({...s, urls: [].concat(/** @type {any} */ (s.urls)).filter(wanted)}))
    .filter((s) => s.urls.length);
  if (!servers.length) { show(step, 'amber', '', 'check.turnMissing'); return; }
  const pc = new RTCPeerConnection({iceServers: servers, iceTransportPolicy: 'relay'});
  try {
    pc.createDataChannel('check');
    const relay = new Promise((resolve) => {
      pc.addEventListener('icecandidate', (e) => {
        if (e.candidate && e.candidate.type === 'relay') resolve(e.candidate.protocol ?? 'udp');
      });
    });
    const started = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    const found = await Promise.race([relay, timeout(10000).then(() => null)]);
    if (found) show(step, 'green', `${Math.round(performance.now() - started)} ms`);
    else show(step, step === 'turnTls' ? 'red' : 'amber');
  } finally {
    pc.close();
  }
}

/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function checkRtt() {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    try {
      await fetch(`/healthz?${i}`, {cache: 'no-store'});
      times.push(performance.now() - started);
    } catch { /* counted as missing */ }
  }
  if (!times.length) { show('rtt', 'red'); return; }
  const rtt = median(times);
  show('rtt', rtt < 150 ? 'green' : rtt < 400 ? 'amber' : 'red', `${Math.round(rtt)} ms`);
}

async function checkRate() {
  if (!token) { show('rate', 'amber', '', 'check.noToken'); return; }
  try {
    let started = performance.now();
    const down = await (await fetch(`/check/download?${query}`, {cache: 'no-store'})).arrayBuffer();
    const downMbps = (down.byteLength * 8) / ((performance.now() - started) * 1000);
    const body = new Uint8Array(1024 * 1024);
    started = performance.now();
    await fetch(`/check/upload?${query}`, {method: 'POST', body});
    const upMbps = (body.byteLength * 8) / ((performance.now() - started) * 1000);
    const worst = Math.min(downMbps, upMbps);
    const status = worst >= 2 ? 'green' : worst >= 0.8 ? 'amber' : 'red';
    show('rate', status, `↓ ${downMbps.toFixed(1)} · ↑ ${upMbps.toFixed(1)} Mbit/s`);
  } catch {
    show('rate', 'red');
  }
}

async function checkDevices() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    const labels = stream.getTracks().map((track) => track.label).join(' · ');
    for (const track of stream.getTracks()) track.stop();
    show('devices', 'green', labels);
  } catch (e) {
    const name = /** @type {any} */ (e)?.name;
    show('devices', name === 'NotAllowedError' ? 'red' : 'amber', String(name ?? ''));
  }
}

function summarize() {
  const statuses = STEPS.map((s) => results[s]?.status);
  const summary = /** @type {HTMLElement} */ (document.getElementById('check-summary'));
  if (statuses.includes('running') || statuses.includes(undefined)) {
    summary.textContent = t('check.summary.running');
    summary.dataset.status = 'running';
    return;
  }
  // Media needs one working path: UDP to the server or one TURN transport.
  const path = ['udp', 'turnUdp', 'turnTls'].some((s) => results[s]?.status === 'green');
  const overall = !path || results.https.status === 'red' || results.websocket.status === 'red'
    || results.devices.status === 'red' ? 'red'
    : statuses.every((s) => s === 'green') ? 'green' : 'amber';
  summary.dataset.status = overall;
  summary.textContent = t(/** @type {any} */ (`check.summary.${overall}`));
}

async function run() {
  for (const step of STEPS) show(step, 'running');
  summarize();
  checkHttps();
  await checkWebSocket();
  iceServers = await fetchServers();
  await checkUdp();
  await checkTurn('turnUdp', (u) => u.startsWith('turn:') && !u.includes('transport=tcp'));
  await checkTurn('turnTls', (u) => u.startsWith('turns:'));
  await checkRtt();
  await checkRate();
  await checkDevices();
  summarize();
  document.body.dataset.checked = 'true';
}

async function send() {
  const sent = /** @type {HTMLElement} */ (document.getElementById('check-sent'));
  if (!token) { sent.textContent = t('check.noToken'); return; }
  const steps = Object.fromEntries(STEPS.map((s) =>
    [s, {status: results[s]?.status, detail: results[s]?.detail, advice: results[s]?.key}]));
  const answer = await fetch(`/check/report?${query}`, {
    method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({steps}),
  });
  sent.textContent = t(answer.ok ? 'check.sent' : answer.status === 429 ? 'check.tooSoon' : 'check.notSent');
  sent.dataset.sent = String(answer.ok);
}

build();
setLang(initialLang(), {persist: false});
onLangChange(rerender);
for (const button of document.querySelectorAll('[data-lang]')) {
  button.addEventListener('click', () => setLang(/** @type {any} */ (button.getAttribute('data-lang'))));
}
document.getElementById('check-again')?.addEventListener('click', () => { void run(); });
document.getElementById('check-send')?.addEventListener('click', () => { void send(); });
void run();
