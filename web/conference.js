// The page every join link opens: /c/<conference_id>?t=<token>.
//
// The shell: it connects, explains failures, shows the reconnecting banner,
// the connection quality and the language switch, plays everyone's audio,
// and mounts the view for the participant's role once `welcome` says it:
//   chair                       -> views/chair.js (chair console)
//   technician                  -> views/technician.js (monitoring dashboard)
//   interpreter                 -> views/interpreter.js (interpreter console)
//   head, delegate, observer... -> views/prejoin.js, then views/delegation.js

import {PalabraConnection, PalabraError} from './protocol.js';
import {Directory} from './people.js';
import {LocalMedia, captureFailure} from './local-media.js';
import {RemoteMedia} from './remote-media.js';
import {QualityMonitor} from './quality.js';
import {admitted} from './room.js';
import {forgetSeat, loadSeat, saveSeat} from './seat.js';
import {byId, h} from './dom.js';
import {has, initialLang, lang, onLangChange, setLang, t} from './i18n.js';
import {QualityIndicator} from './widgets/quality-indicator.js';
import {createPrejoinView} from './views/prejoin.js';
import {createDelegationView} from './views/delegation.js';
import {createChairView} from './views/chair.js';
import {createTechnicianView} from './views/technician.js';
import {createInterpreterView} from './views/interpreter.js';
import {LanguageMenu} from './widgets/language-menu.js';
import {MessagesPanel} from './views/messages.js';

/** @typedef {import('./protocol.js').ProtocolError} ProtocolError */
/** @typedef {import('./protocol.js').CloseInfo} CloseInfo */
/** @typedef {import('./protocol.js').RoomUpdate} RoomUpdate */
/** @typedef {import('./protocol.js').ReconnectInfo} ReconnectInfo */
/** @typedef {import('./protocol.js').Welcome} Welcome */
/** @typedef {import('./i18n.js').StringKey} StringKey */

/**
 * What a view is: an element in #view that follows the room.
 * @typedef {object} View
 * @property {string} name
 * @property {HTMLElement} element
 * @property {(update: RoomUpdate | null) => void} update   room state changed (null: not yet known)
 * @property {() => void} retranslate
 * @property {() => void} destroy
 * @property {() => void} [rejoined]   the connection came back after a drop
 */

/**
 * What the shell gives a view.
 * @typedef {object} ViewContext
 * @property {PalabraConnection} conn
 * @property {LocalMedia} local
 * @property {RemoteMedia} remote
 * @property {Directory} people
 * @property {string} token
 * @property {string} conferenceId
 * @property {(text: string | (() => string), assertive?: boolean) => void} announce
 *   screen-reader announcement (a function: said again in the new language after a switch)
 * @property {(text: string, level?: 'info' | 'error' | 'cue') => void} toast
 *   `cue`: a moment of the floor, larger and longer
 * @property {(type: string, fields?: Record<string, unknown>) => Promise<boolean>} act
 *   sends a room command; on an error, shows it and resolves false
 * @property {(on: boolean) => void} wantPublish  publish camera and microphone whenever allowed
 * @property {() => Promise<import('./local-media.js').CaptureFailure | null>} startCapture
 *   starts the camera and microphone; resolves null, or why it failed
 * @property {() => void} leave  asks to confirm, then leaves
 * @property {(view: View) => void} show  replaces the current view
 */

/** Error codes that mean "this link cannot be used". */
const LINK_ERRORS = new Set(['invalid_token', 'token_expired', 'wrong_conference']);
/** Roles that send camera and microphone. */
const PUBLISHING_ROLES = new Set(['chair', 'head', 'delegate', 'interpreter']);

const ui = {
  title: byId('conference-title'),
  roleChip: byId('role-chip'),
  qualitySlot: byId('quality-slot'),
  status: byId('status'),
  langSwitch: byId('lang-switch'),
  banner: byId('banner'),
  bannerText: byId('banner-text'),
  bannerAction: /** @type {HTMLButtonElement} */ (byId('banner-action')),
  notice: byId('notice'),
  noticeText: byId('notice-text'),
  noticeAction: /** @type {HTMLButtonElement} */ (byId('notice-action')),
  noticeClose: /** @type {HTMLButtonElement} */ (byId('notice-close')),
  view: byId('view'),
  fatal: byId('fatal'),
  fatalTitle: byId('fatal-title'),
  fatalText: byId('fatal-text'),
  fatalAction: /** @type {HTMLButtonElement} */ (byId('fatal-action')),
  toasts: byId('toasts'),
  politeLive: byId('announce-polite'),
  assertiveLive: byId('announce-assertive'),
  audioSink: byId('audio-sink'),
  leaveDialog: /** @type {HTMLDialogElement} */ (byId('leave-dialog')),
};

/**
 * Page state, also exposed as `window.palabra` for tests and debugging.
 */
const page = {
  /** @type {PalabraConnection | null} */ connection: null,
  /** @type {LocalMedia | null} */ local: null,
  /** @type {RemoteMedia | null} */ remote: null,
  /** @type {View | null} */ view: null,
  /** The listener's interpretation channel menu, in the top bar. @type {LanguageMenu | null} */
  languageMenu: null,
  /** The seat's private message threads (top-bar button and side panel). @type {MessagesPanel | null} */
  messages: null,
  conferenceId: '',
  /** The join token of the link. */
  token: '',
  /** @type {ProtocolError[]} */ errors: [],
  ended: false,
  leaving: false,
  /** @type {CloseInfo | null} */ closeInfo: null,
  /** Why the server sent us away, from the room events (lobby.rejected, participant.removed). */
  /** @type {string | null} */ sentAway: null,
  publishWanted: false,
  publishing: false,
  /** @type {{code: string, message: string} | null} */ publishError: null,
  quality: new QualityIndicator(),
  lang,
  setLang,
  t,
  /** @returns {import('./protocol.js').RoomState | null} */
  get room() { return page.connection?.room ?? null; },
};
/** @type {any} */ (window).palabra = page;

// ------------------------------------------------------------ messages

/**
 * A text that follows the language: a string key, or a function for texts
 * built from other strings.
 * @typedef {StringKey | (() => string)} Text
 */

/** @param {Text} text */
const say = (text) => (typeof text === 'function' ? text() : t(text));

/**
 * @param {string} text
 * @param {'connecting' | 'ok' | 'warning' | 'error'} level
 */
function setStatus(text, level) {
  ui.status.textContent = text;
  ui.status.dataset.state = level;
}

/** The notice shown, kept to redraw it in another language. */
/** @type {{text: Text, action: {label: Text, run: () => void} | null} | null} */
let notice = null;

/**
 * A message that stays until dismissed, with an optional action.
 * @param {Text} text
 * @param {{label: Text, run: () => void} | null} [action]
 */
function showNotice(text, action = null) {
  notice = {text, action};
  ui.noticeAction.hidden = !action;
  ui.noticeAction.onclick = null;
  if (action) {
    ui.noticeAction.onclick = () => {
      hideNotice();
      action.run();
    };
  }
  renderNotice();
  ui.notice.hidden = false;
}

function renderNotice() {
  if (!notice) return;
  ui.noticeText.textContent = say(notice.text);
  if (notice.action) ui.noticeAction.textContent = say(notice.action.label);
}

function hideNotice() {
  notice = null;
  ui.notice.hidden = true;
}
ui.noticeClose.addEventListener('click', hideNotice);

/**
 * A short message that goes away by itself.
 * @param {string} text
 * @param {'info' | 'error' | 'cue'} [level]
 */
function toast(text, level = 'info') {
  const el = h('div', {class: `toast ${level}`, text, attrs: {role: level === 'error' ? 'alert' : null}});
  // A new moment of the floor replaces the last one (granted, then revoked: only "revoked").
  if (level === 'cue') for (const old of ui.toasts.querySelectorAll('.toast.cue')) old.remove();
  ui.toasts.append(el);
  // A few at a time: older ones make way.
  while (ui.toasts.children.length > 2) ui.toasts.firstElementChild?.remove();
  setTimeout(() => el.remove(), level === 'info' ? 5000 : 8000);
}

/** The last announcement of each live region, to put it in the new language after a switch. */
const announced = new Map(/** @type {Array<[HTMLElement, () => string]>} */ ([]));

/**
 * @param {string | (() => string)} text
 * @param {boolean} [assertive]
 */
function announce(text, assertive = false) {
  const region = assertive ? ui.assertiveLive : ui.politeLive;
  const words = typeof text === 'function' ? text : () => text;
  announced.set(region, words);
  // Clearing first makes screen readers repeat an identical announcement.
  region.textContent = '';
  setTimeout(() => { if (announced.get(region) === words) region.textContent = words(); }, 50);
}

/**
 * An error's server message with the participant and delegation ids in it
 * replaced by their names (a toast never shows "demo-head-cr").
 * @param {{code: string, message: string}} err
 * @param {Directory} people
 */
function named(err, people) {
  const room = page.connection?.room;
  const ids = [...(room?.participants ?? []), ...(room?.lobby ?? [])].map((p) => p.participant_id);
  let message = err.message;
  for (const id of ids.sort((a, b) => b.length - a.length)) message = message.split(id).join(people.name(id));
  for (const d of room?.delegations ?? []) {
    message = message.replace(new RegExp(`(?<![\\w-])${d.delegation_id.replace(/[^\w]/g, '\\$&')}(?![\\w-])`, 'g'), d.name);
  }
  return {code: err.code, message};
}

/** The final message shown, kept to redraw it in another language. */
/** @type {{title: Text, text: Text, action: {label: Text, run: () => void} | null} | null} */
let fatal = null;

/**
 * Replaces the page with a final message (the session is over).
 * @param {Text} title
 * @param {Text} text
 * @param {{label: Text, run: () => void} | null} [action]
 */
function showFatal(title, text, action = null) {
  page.ended = true;
  fatal = {title, text, action};
  setStatus(t('status.closed'), 'error');
  hideNotice();
  hideBanner();
  page.view?.destroy();
  page.view = null;
  page.messages?.destroy();
  page.messages = null;
  ui.view.hidden = true;
  ui.fatal.hidden = false;
  renderFatal();
  ui.fatalAction.hidden = !action;
  if (action) {
    ui.fatalAction.onclick = action.run;
    ui.fatalAction.focus();
  } else {
    ui.fatal.setAttribute('tabindex', '-1');
    ui.fatal.focus();
  }
  page.local?.stop();
  for (const audio of page.remote?.audio.values() ?? []) audio.remove();
}

function renderFatal() {
  if (!fatal) return;
  ui.fatalTitle.textContent = say(fatal.title);
  ui.fatalText.textContent = say(fatal.text);
  if (fatal.action) ui.fatalAction.textContent = say(fatal.action.label);
}

const reloadAction = () => ({label: /** @type {Text} */ ('rejoin'), run: () => location.reload()});
const againAction = () => ({label: /** @type {Text} */ ('reconnect.again'), run: () => location.reload()});

/**
 * Readable text for a protocol error code.
 * @param {{code: string, message: string}} err
 * @returns {string}
 */
export function errorText(err) {
  const key = `error.${err.code}`;
  if (has(key)) return t(/** @type {StringKey} */ (key));
  return t('error.other', {code: err.code, message: err.message});
}

/**
 * The final screen for a join refused with `code`.
 * @param {{code: string, message: string}} err
 */
function showRefusal(err) {
  if (err.code === 'token_expired') showFatal('fatal.expiredTitle', 'error.token_expired');
  else if (LINK_ERRORS.has(err.code)) showFatal('fatal.invalidLinkTitle', 'error.invalid_token');
  else if (err.code === 'room_locked') {
    showFatal('fatal.lockedTitle', 'error.room_locked', {label: 'retry', run: () => location.reload()});
  } else {
    showFatal('fatal.closedTitle', () => errorText(err), againAction());
  }
}

// ------------------------------------------------------------ banner

/** @type {ReturnType<typeof setInterval> | undefined} */
let bannerTimer;

/** @param {ReconnectInfo} info */
function showReconnecting(info) {
  const until = Date.now() + info.delay;
  const render = () => {
    const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    const params = {seconds, attempt: info.attempt};
    if (info.unavailable) {
      ui.bannerText.textContent = seconds > 0
        ? t('reconnect.unavailableIn', params)
        : t('reconnect.unavailableTrying', params);
      return;
    }
    ui.bannerText.textContent = seconds > 0
      ? t('reconnect.in', params)
      : t('reconnect.trying', params);
  };
  clearInterval(bannerTimer);
  bannerTimer = setInterval(render, 500);
  render();
  ui.banner.hidden = false;
  setStatus(t('status.reconnecting'), 'warning');
}

function hideBanner() {
  clearInterval(bannerTimer);
  ui.banner.hidden = true;
}
ui.bannerAction.addEventListener('click', () => page.connection?.reconnectNow());

// ------------------------------------------------------------ status

function updateStatus() {
  const conn = page.connection;
  if (!conn || page.ended) return;
  const {signaling, publisher, subscriber, mediaReconnecting} = conn.states;
  if (signaling === 'new' || signaling === 'connecting') {
    setStatus(t('status.connecting'), 'connecting');
    return;
  }
  if (signaling === 'reconnecting') {
    setStatus(t('status.reconnecting'), 'warning');
    return;
  }
  if (signaling === 'closed') {
    setStatus(t('status.closed'), 'error');
    return;
  }
  if (conn.room && conn.you && !admitted(conn.room, conn.you.id)) {
    setStatus(t('status.lobby'), 'connecting');
    return;
  }
  const peers = [publisher, subscriber].filter((s) => s !== 'none');
  if (mediaReconnecting) {
    // ICE failed: new peer connections are being made (seat and floor kept).
    setStatus(t('status.mediaReconnecting'), 'warning');
  } else if (peers.includes('disconnected')) {
    setStatus(t('status.mediaUnstable'), 'warning');
  } else if (peers.some((s) => s === 'new' || s === 'connecting')) {
    setStatus(t('status.mediaConnecting'), 'connecting');
  } else {
    const count = conn.room?.participants.length ?? conn.participants.size + 1;
    setStatus(count === 1 ? t('status.connectedOne') : t('status.connected', {count}), 'ok');
  }
}

const quality = new QualityMonitor();
ui.qualitySlot.append(page.quality.element);
setInterval(async () => {
  const conn = page.connection;
  if (!conn || page.ended) return;
  if (conn.state !== 'joined') {
    page.quality.set({level: 'unknown', rttMs: null, loss: null, jitterMs: null});
    quality.reset();
    return;
  }
  try {
    page.quality.set(await quality.sample(conn.publisher, conn.subscriber));
  } catch (e) {
    console.warn('quality sample failed', e);
  }
}, 2000);

// ------------------------------------------------------------ publishing

/**
 * Publishes camera and microphone when the view wants it, the capture runs,
 * the role may publish and the participant is in the room (not the lobby).
 * Called whenever one of those changes; after a rejoin it publishes again.
 */
async function reconcilePublishing() {
  const conn = page.connection;
  const stream = page.local?.stream;
  if (!conn || !stream || !page.publishWanted || page.publishing || page.ended) return;
  if (conn.state !== 'joined' || !conn.you || !PUBLISHING_ROLES.has(conn.you.role)) return;
  if (conn.room && !admitted(conn.room, conn.you.id)) return;
  if (conn.published) return;
  page.publishing = true;
  try {
    await conn.publish(stream);
    page.publishError = null;
  } catch (e) {
    const err = e instanceof PalabraError ? {code: e.code, message: e.message}
      : {code: 'internal', message: String(e)};
    // A drop or a lobby race: the next welcome or admission publishes again.
    if (err.code !== 'closed' && err.code !== 'in_lobby') {
      console.error('publish failed', e);
      page.publishError = err;
      showNotice(() => t('media.publishFailed', {detail: errorText(err)}), {
        label: 'retry', run: () => void reconcilePublishing(),
      });
    }
  } finally {
    page.publishing = false;
  }
  updateStatus();
}

/**
 * Starts camera and microphone; resolves null, or why capture failed.
 * @returns {Promise<import('./local-media.js').CaptureFailure | null>}
 */
async function startCapture() {
  const local = /** @type {LocalMedia} */ (page.local);
  try {
    await local.start();
    // Capturing lets Chromium play sound: retry what autoplay refused.
    void page.remote?.resume();
    if (local.choice.audiooutput) void page.remote?.setOutput(local.choice.audiooutput);
    void reconcilePublishing();
    return null;
  } catch (e) {
    console.warn('getUserMedia failed', e);
    return captureFailure(e);
  }
}

// ------------------------------------------------------------ connection

/** @param {CloseInfo} info */
function onClose(info) {
  page.closeInfo = info;
  // Left, sent away or refused: a reload must not come back to that seat.
  if (page.leaving || info.code === 4003 || info.code === 4001) forgetSeat(page.token);
  if (page.ended) return;
  const lastError = page.errors.at(-1);
  if (lastError && (LINK_ERRORS.has(lastError.code) || lastError.code === 'room_locked') &&
      (info.code === 4001 || !page.connection?.you)) {
    showRefusal(lastError);
  } else if (page.leaving) {
    showFatal('fatal.leftTitle', 'fatal.leftText', reloadAction());
  } else if (info.code === 4003) {
    const rejected = page.sentAway === 'lobby.rejected' || /refus|reject/i.test(info.reason);
    if (rejected) showFatal('fatal.rejectedTitle', 'fatal.rejectedText');
    else showFatal('fatal.removedTitle', 'fatal.removedText');
  } else if (info.code === 4004) {
    showFatal('fatal.disconnectedTitle', 'fatal.disconnectedText', reloadAction());
  } else if (info.code === 4001 && lastError) {
    showRefusal(lastError);
  } else if (info.code === 4009) {
    showFatal('fatal.closedTitle', 'fatal.replaced', {label: 'fatal.useHere', run: () => location.reload()});
  } else if (page.connection?.room?.closed) {
    showFatal('fatal.endedTitle', 'fatal.endedText');
  } else if (!page.connection?.you) {
    showFatal('fatal.unreachableTitle', 'fatal.unreachableText', againAction());
  } else {
    showFatal('fatal.closedTitle', 'fatal.lost', againAction());
  }
}

/** @param {RoomUpdate} update */
function onRoom(update) {
  const me = page.connection?.you?.id;
  for (const event of update.events) {
    if (event.participant_id === me && (event.type === 'lobby.rejected' || event.type === 'participant.removed')) {
      page.sentAway = event.type;
    }
  }
  page.view?.update(update);
  page.languageMenu?.update(update.state);
  page.messages?.update(update);
  updateStatus();
  void reconcilePublishing();
}

/**
 * @param {View} view
 */
function show(view) {
  const hadFocus = ui.view.contains(document.activeElement);
  page.view?.destroy();
  page.view = view;
  ui.view.replaceChildren(view.element);
  // The focused control went with the old view: start the new one from its top.
  if (hadFocus) ui.view.focus({preventScroll: true});
  ui.view.dataset.view = view.name;
  document.body.dataset.view = view.name;
  const conn = page.connection;
  view.update(conn?.room ? {
    seq: conn.roomSeq, events: [], state: conn.room, serverTime: conn.serverNow(), receivedAt: Date.now() / 1000,
  } : null);
}

/**
 * @param {PalabraConnection} conn
 * @param {string} token
 * @returns {ViewContext}
 */
function makeContext(conn, token) {
  const people = new Directory(conn);
  return {
    conn,
    local: /** @type {LocalMedia} */ (page.local),
    remote: /** @type {RemoteMedia} */ (page.remote),
    people,
    token,
    conferenceId: page.conferenceId,
    announce,
    toast,
    async act(type, fields = {}) {
      try {
        await conn.command(type, fields);
        return true;
      } catch (e) {
        const err = e instanceof PalabraError ? {code: e.code, message: e.message}
          : {code: 'internal', message: String(e)};
        toast(errorText(named(err, people)), 'error');
        return false;
      }
    },
    wantPublish(on) {
      page.publishWanted = on;
      void reconcilePublishing();
    },
    startCapture,
    leave: askToLeave,
    show,
  };
}

/**
 * @param {ViewContext} ctx
 * @param {Welcome} welcome
 * @returns {View}
 */
function viewFor(ctx, welcome) {
  switch (welcome.you.role) {
    case 'chair':
      return createChairView(ctx);
    case 'technician':
      return createTechnicianView(ctx);
    case 'interpreter':
      return createInterpreterView(ctx);
    default: {
      const enter = () => {
        saveSeat(ctx.token, {entered: true});
        show(createDelegationView(ctx));
      };
      // Back from a reload in a seat that had entered: straight in once the
      // room confirms the seat (no second click on "enter").
      return createPrejoinView(ctx, enter, {entered: loadSeat(ctx.token).entered});
    }
  }
}

function askToLeave() {
  if (!page.connection || page.ended) return;
  ui.leaveDialog.returnValue = '';
  ui.leaveDialog.showModal();
}

ui.leaveDialog.addEventListener('close', () => {
  if (ui.leaveDialog.returnValue !== 'leave' || !page.connection) return;
  page.leaving = true;
  void page.connection.leave();
});

// Closing or reloading the page is not leaving: the seat, its place on the
// speakers list and the floor wait for the resume grace (the tab keeps the
// resume token). Only the Leave button sends `leave`.
window.addEventListener('pagehide', () => {
  const conn = page.connection;
  if (!conn || page.ended) return;
  page.ended = true;
  conn.close(1000, 'page closed');
});
// Back from the back-forward cache with a closed connection: join again.
window.addEventListener('pageshow', (e) => {
  if (e.persisted && page.connection?.state === 'closed') location.reload();
});

// ------------------------------------------------------------ language

function renderLangSwitch() {
  for (const button of ui.langSwitch.querySelectorAll('button[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.getAttribute('data-lang') === lang()));
  }
}

ui.langSwitch.addEventListener('click', (e) => {
  const button = /** @type {HTMLElement} */ (e.target).closest('button[data-lang]');
  if (!button) return;
  setLang(/** @type {import('./i18n.js').Lang} */ (button.getAttribute('data-lang')));
});

onLangChange(() => {
  renderLangSwitch();
  const conn = page.connection;
  if (conn?.you) ui.roleChip.textContent = t(/** @type {StringKey} */ (`role.${conn.you.role}`));
  if (!conn?.conference) ui.title.textContent = t('untitled');
  page.quality.render();
  page.view?.retranslate();
  page.languageMenu?.retranslate();
  page.messages?.retranslate();
  // What screen readers last heard, now in the new language.
  for (const [region, words] of announced) region.textContent = words();
  renderFatal();
  renderNotice();
  if (page.ended) setStatus(t('status.closed'), 'error');
  else updateStatus();
});

// ------------------------------------------------------------ start

async function main() {
  setLang(initialLang(), {persist: false});
  renderLangSwitch();
  const match = /^\/c\/([^/]+)\/?$/.exec(location.pathname);
  page.conferenceId = match ? decodeURIComponent(match[1]) : '';
  const token = new URLSearchParams(location.search).get('t') ?? '';
  ui.title.textContent = t('untitled');
  if (!page.conferenceId || !token) {
    showFatal('fatal.invalidLinkTitle', 'error.invalid_token');
    return;
  }

  page.token = token;
  const conn = new PalabraConnection({token, resumeToken: loadSeat(token).resume});
  page.connection = conn;
  conn.addEventListener('welcome', () => {
    if (conn.resumeToken) saveSeat(token, {resume: conn.resumeToken});
  });
  page.local = new LocalMedia();
  page.remote = new RemoteMedia(conn, ui.audioSink);
  page.remote.addEventListener('audioblocked', () => {
    const resume = () => {
      void page.remote?.resume().then((ok) => { if (ok && notice?.text === 'audio.blocked') hideNotice(); });
    };
    showNotice('audio.blocked', {label: 'audio.enable', run: resume});
    // On click, not pointerdown: hiding the notice moves the page up, and a
    // notice gone between pointerdown and pointerup would swallow that click
    // (the chair's first "Admit" would do nothing).
    document.addEventListener('click', resume, {once: true});
    document.addEventListener('keydown', resume, {once: true});
  });

  conn.addEventListener('connectionstatechange', updateStatus);
  conn.addEventListener('error', (e) => {
    const err = /** @type {CustomEvent<ProtocolError>} */ (e).detail;
    console.warn('palabra error', err);
    page.errors.push(err);
  });
  conn.addEventListener('close', (e) => onClose(/** @type {CustomEvent<CloseInfo>} */ (e).detail));
  conn.addEventListener('room', (e) => onRoom(/** @type {CustomEvent<RoomUpdate>} */ (e).detail));
  conn.addEventListener('participantjoined', updateStatus);
  conn.addEventListener('participantleft', updateStatus);
  conn.addEventListener('reconnecting', (e) => {
    showReconnecting(/** @type {CustomEvent<ReconnectInfo>} */ (e).detail);
  });
  conn.addEventListener('reconnected', () => {
    hideBanner();
    announce(t('reconnect.done'));
    toast(t('reconnect.done'));
    page.view?.rejoined?.();
    void reconcilePublishing();
    updateStatus();
  });
  page.local.addEventListener('tracks', () => {
    // A device switch: replace the published tracks (no renegotiation).
    const stream = page.local?.stream;
    if (stream && conn.published) void conn.publish(stream).catch((err) => console.warn('republish failed', err));
  });

  let welcome;
  try {
    welcome = await conn.connect();
  } catch (e) {
    console.warn('join failed', e);
    if (!page.ended) {
      const err = e instanceof PalabraError ? {code: e.code, message: e.message}
        : {code: 'internal', message: String(e)};
      if (err.code === 'closed') showFatal('fatal.unreachableTitle', 'fatal.unreachableText', againAction());
      else showRefusal(err);
    }
    conn.close();
    return;
  }
  if (welcome.conference.id !== page.conferenceId) {
    page.errors.push({code: 'wrong_conference', message: 'the link and the token name different conferences'});
    page.ended = true;
    await conn.leave();
    showFatal('fatal.invalidLinkTitle', 'error.invalid_token');
    return;
  }
  const title = welcome.conference.title || t('untitled');
  ui.title.textContent = title;
  document.title = `${title} — Palabra`;
  ui.roleChip.textContent = t(/** @type {StringKey} */ (`role.${welcome.you.role}`));
  ui.roleChip.hidden = false;
  updateStatus();
  const ctx = makeContext(conn, token);
  if (welcome.you.role !== 'interpreter' && welcome.you.role !== 'technician') {
    page.languageMenu = new LanguageMenu(ctx);
    ui.langSwitch.before(page.languageMenu.element);
    if (conn.room) page.languageMenu.update(conn.room);
  }
  page.messages = new MessagesPanel(ctx);
  ui.langSwitch.before(page.messages.toggle);
  ui.view.after(page.messages.drawer);
  show(viewFor(ctx, welcome));
}

main().catch((e) => {
  console.error(e);
  const message = String(e instanceof Error ? e.message : e);
  showFatal('fatal.closedTitle', () => message);
});
