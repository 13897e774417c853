// The page a join link opens: /c/<conference_id>?t=<token>.
// Connects, publishes camera and microphone, shows every other participant.

import {PalabraConnection, PalabraError} from '/web/protocol.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').RemoteStream} RemoteStream */
/** @typedef {import('./protocol.js').ProtocolError} ProtocolError */
/** @typedef {import('./protocol.js').CloseInfo} CloseInfo */

/** Every user-visible string, per language. `{name}` placeholders are filled by t(). */
const STRINGS = {
  es: {
    participantsRegion: 'Participantes',
    controlsRegion: 'Controles de la reunión',
    microphone: 'Micrófono',
    camera: 'Cámara',
    on: 'activado',
    off: 'desactivado',
    leave: 'Salir',
    leaveConfirmTitle: '¿Salir de la reunión?',
    leaveConfirmText: 'Dejará de ver y escuchar la sesión. Podrá volver a entrar con el mismo enlace.',
    leaveConfirm: 'Salir de la reunión',
    cancel: 'Cancelar',
    you: 'Usted',
    untitled: 'Reunión',

    statusConnecting: 'Conectando con el servidor…',
    statusAskingMedia: 'Solicitando acceso a la cámara y al micrófono…',
    statusMediaConnecting: 'Estableciendo audio y vídeo…',
    statusConnected: 'Conectado · {count} participantes',
    statusConnectedOne: 'Conectado · 1 participante',
    statusMediaUnstable: 'Conexión de audio y vídeo inestable, reintentando…',
    statusMediaFailed: 'Se perdió la conexión de audio y vídeo',
    statusClosed: 'Desconectado',

    invalidLinkTitle: 'Enlace no válido',
    invalidLink: 'El enlace no es válido o ha caducado. Solicite un nuevo enlace a la secretaría de la conferencia.',
    mediaDenied: 'No se pudo acceder a la cámara o al micrófono. Compruebe que el navegador tiene permiso para usarlos y que ninguna otra aplicación los está utilizando.',
    mediaNotFound: 'No se pudo acceder a la cámara o al micrófono: no se encontró ningún dispositivo.',
    audioOnly: 'No se pudo acceder a la cámara; participa solo con el micrófono.',
    retry: 'Reintentar',
    publishFailed: 'No se pudo enviar su audio y vídeo: {detail}',
    audioBlocked: 'El navegador ha bloqueado el sonido de la reunión.',
    enableAudio: 'Activar sonido',

    closedTitle: 'Conexión finalizada',
    leftTitle: 'Ha salido de la reunión',
    leftText: 'Puede volver a entrar con el mismo enlace mientras siga vigente.',
    rejoin: 'Volver a entrar',
    reconnect: 'Volver a conectar',
    closedLost: 'Se perdió la conexión con el servidor.',
    closedShutdown: 'El servidor se está reiniciando. Vuelva a conectar en unos instantes.',
    closedReplaced: 'Se ha conectado con este enlace desde otra ventana o dispositivo.',
    closedHeartbeat: 'La conexión dejó de responder.',
    closedHandshakeTimeout: 'El servidor no recibió la identificación a tiempo.',
    closedRemoved: 'La conexión fue cerrada por el servidor ({code}).',

    errVersion: 'Esta página no es compatible con la versión del servidor. Recargue la página.',
    errForbidden: 'Su función en la reunión no permite esta acción.',
    errMedia: 'El navegador y el servidor no acordaron un formato de audio y vídeo compatible.',
    errInternal: 'Error interno del servidor. Si persiste, contacte con el equipo técnico.',
    errProtocol: 'Error de comunicación con el servidor ({code}): {message}',

    roles: {
      chair: 'Presidencia',
      head: 'Jefatura de delegación',
      delegate: 'Delegación',
      observer: 'Observación',
      technician: 'Equipo técnico',
      interpreter: 'Interpretación',
    },
  },
};

const LANG = 'es';
const S = STRINGS[LANG];

/**
 * @param {Exclude<keyof typeof S, 'roles'>} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
function t(key, vars = {}) {
  return S[key].replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** Error codes that mean "this link cannot be used". */
const LINK_ERRORS = new Set(['invalid_token', 'token_expired', 'wrong_conference']);
/** Roles that send camera and microphone. */
const PUBLISHING_ROLES = new Set(['chair', 'head', 'delegate']);

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

const ui = {
  title: byId('conference-title'),
  status: byId('status'),
  notice: byId('notice'),
  noticeText: byId('notice-text'),
  noticeAction: /** @type {HTMLButtonElement} */ (byId('notice-action')),
  grid: byId('grid'),
  fatal: byId('fatal'),
  fatalTitle: byId('fatal-title'),
  fatalText: byId('fatal-text'),
  fatalAction: /** @type {HTMLButtonElement} */ (byId('fatal-action')),
  audioSink: byId('audio-sink'),
  controls: byId('controls'),
  mic: /** @type {HTMLButtonElement} */ (byId('btn-mic')),
  cam: /** @type {HTMLButtonElement} */ (byId('btn-cam')),
  leave: /** @type {HTMLButtonElement} */ (byId('btn-leave')),
  leaveDialog: /** @type {HTMLDialogElement} */ (byId('leave-dialog')),
};

/**
 * Page state, also exposed as `window.palabra` for tests and debugging.
 * @type {{
 *   connection: PalabraConnection | null,
 *   localStream: MediaStream | null,
 *   conferenceId: string,
 *   errors: ProtocolError[],
 *   ended: boolean,
 *   leaving: boolean,
 *   closeInfo: CloseInfo | null,
 *   strings: typeof S,
 *   tiles: Map<string, HTMLElement>,
 * }}
 */
const page = {
  connection: null,
  localStream: null,
  conferenceId: '',
  errors: [],
  ended: false,
  leaving: false,
  closeInfo: null,
  strings: S,
  tiles: new Map(),
};
/** @type {any} */ (window).palabra = page;

/** Audio elements by producer id. @type {Map<string, HTMLAudioElement>} */
const audioElements = new Map();
/** Per video attachment: detaches the track's listeners. @type {WeakMap<HTMLVideoElement, AbortController>} */
const videoListeners = new WeakMap();

// ------------------------------------------------------------------ helpers

function applyStaticStrings() {
  document.documentElement.lang = LANG;
  for (const el of document.querySelectorAll('[data-i18n]')) {
    el.textContent = t(/** @type {any} */ (el.getAttribute('data-i18n')));
  }
  for (const el of document.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(/** @type {any} */ (el.getAttribute('data-i18n-label'))));
  }
}

/**
 * @param {string} text
 * @param {'connecting' | 'ok' | 'warning' | 'error'} level
 */
function setStatus(text, level) {
  ui.status.textContent = text;
  ui.status.dataset.state = level;
}

/**
 * A non-fatal message with an optional action button.
 * @param {string} text
 * @param {{label: string, run: () => void} | null} [action]
 */
function showNotice(text, action = null) {
  ui.noticeText.textContent = text;
  ui.noticeAction.hidden = !action;
  ui.noticeAction.onclick = null;
  if (action) {
    ui.noticeAction.textContent = action.label;
    ui.noticeAction.onclick = () => {
      hideNotice();
      action.run();
    };
  }
  ui.notice.hidden = false;
}

function hideNotice() {
  ui.notice.hidden = true;
}

/**
 * Replaces the stage with a final message (the session is over).
 * @param {string} title
 * @param {string} text
 * @param {{label: string, run: () => void} | null} [action]
 */
function showFatal(title, text, action = null) {
  page.ended = true;
  setStatus(t('statusClosed'), 'error');
  hideNotice();
  ui.grid.hidden = true;
  ui.fatal.hidden = false;
  ui.fatalTitle.textContent = title;
  ui.fatalText.textContent = text;
  ui.fatalAction.hidden = !action;
  if (action) {
    ui.fatalAction.textContent = action.label;
    ui.fatalAction.onclick = action.run;
    ui.fatalAction.focus();
  }
  ui.controls.hidden = true;
  releaseMedia();
}

function releaseMedia() {
  for (const track of page.localStream?.getTracks() ?? []) track.stop();
  for (const tile of page.tiles.values()) tile.remove();
  page.tiles.clear();
  for (const audio of audioElements.values()) audio.remove();
  audioElements.clear();
  byIdOptional('tile-local')?.remove();
  layoutGrid();
}

/** Near-square grid for the number of tiles (see .grid in styles.css). */
function layoutGrid() {
  const count = Math.max(1, ui.grid.querySelectorAll('.tile').length);
  const cols = Math.ceil(Math.sqrt(count));
  ui.grid.style.setProperty('--cols', String(cols));
  ui.grid.style.setProperty('--rows', String(Math.ceil(count / cols)));
}

/** @param {string} id */
function byIdOptional(id) {
  return document.getElementById(id);
}

const reload = {label: t('rejoin'), run: () => location.reload()};

/**
 * Readable text for a protocol error code.
 * @param {ProtocolError} err
 * @returns {string}
 */
function errorText(err) {
  if (LINK_ERRORS.has(err.code)) return t('invalidLink');
  switch (err.code) {
    case 'unsupported_version': return t('errVersion');
    case 'forbidden': return t('errForbidden');
    case 'bad_sdp':
    case 'unsupported_codec': return t('errMedia');
    case 'internal': return t('errInternal');
    default: return t('errProtocol', {code: err.code, message: err.message});
  }
}

/**
 * @param {Participant} p
 * @returns {string}
 */
function describe(p) {
  const role = S.roles[/** @type {keyof typeof S.roles} */ (p.role)] ?? p.role;
  return p.delegation ? `${p.delegation.name} · ${role}` : role;
}

/**
 * Short text for the badge and the no-video placeholder.
 * @param {Participant} p
 * @returns {string}
 */
function initials(p) {
  if (p.delegation?.code) return p.delegation.code.toUpperCase();
  return p.name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]).join('').toUpperCase();
}

// -------------------------------------------------------------------- tiles

/**
 * Builds a tile: video (or placeholder) and a caption with name, delegation
 * badge and role.
 * @param {Participant} p
 * @param {boolean} local
 * @returns {HTMLElement}
 */
function buildTile(p, local) {
  const tile = document.createElement('article');
  tile.className = local ? 'tile local' : 'tile';
  tile.dataset.participantId = p.id;
  tile.setAttribute('aria-label', `${p.name} — ${describe(p)}`);

  const media = document.createElement('div');
  media.className = 'media';
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // audio plays from separate <audio> elements
  const placeholder = document.createElement('div');
  placeholder.className = 'placeholder';
  placeholder.setAttribute('aria-hidden', 'true');
  placeholder.textContent = initials(p);
  media.append(video, placeholder);

  const caption = document.createElement('div');
  caption.className = 'caption';
  if (p.delegation) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.title = p.delegation.name;
    badge.textContent = p.delegation.code.toUpperCase();
    caption.append(badge);
  }
  const text = document.createElement('div');
  text.className = 'caption-text';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = p.name;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = local ? `${t('you')} · ${describe(p)}` : describe(p);
  text.append(name, meta);
  caption.append(text);

  tile.append(media, caption);
  return tile;
}

/**
 * The participant's tile, created if needed.
 * @param {Participant} p
 * @param {boolean} [provisional]  p is a stand-in built from a stream (details not known yet)
 * @returns {HTMLElement}
 */
function ensureTile(p, provisional = false) {
  let tile = page.tiles.get(p.id);
  if (tile && !provisional && tile.dataset.provisional) {
    // Media arrived before the participant's details: rebuild the caption,
    // keep the playing video.
    const fresh = buildTile(p, false);
    const media = tile.querySelector('.media');
    if (media) fresh.querySelector('.media')?.replaceWith(media);
    fresh.classList.toggle('has-video', tile.classList.contains('has-video'));
    tile.replaceWith(fresh);
    tile = fresh;
    page.tiles.set(p.id, tile);
  }
  if (!tile) {
    tile = buildTile(p, false);
    if (provisional) tile.dataset.provisional = 'true';
    page.tiles.set(p.id, tile);
    ui.grid.append(tile);
    layoutGrid();
  }
  return tile;
}

/** @param {string} participantId */
function removeTile(participantId) {
  const tile = page.tiles.get(participantId);
  if (!tile) return;
  const video = tile.querySelector('video');
  if (video) detachVideo(video);
  tile.remove();
  page.tiles.delete(participantId);
  layoutGrid();
}

/**
 * @param {HTMLVideoElement} video
 * @param {MediaStreamTrack} track
 * @param {string} producerId
 */
function attachVideo(video, track, producerId) {
  detachVideo(video);
  const listeners = new AbortController();
  videoListeners.set(video, listeners);
  const {signal} = listeners;
  const showing = () => {
    video.closest('.tile')?.classList.toggle('has-video', !track.muted && video.videoWidth > 0);
  };
  track.addEventListener('mute', showing, {signal});
  track.addEventListener('unmute', showing, {signal});
  video.addEventListener('resize', showing, {signal});
  video.addEventListener('loadeddata', showing, {signal});
  video.dataset.producerId = producerId;
  video.srcObject = new MediaStream([track]);
  video.play().catch(() => {}); // muted video may always autoplay
}

/** @param {HTMLVideoElement} video */
function detachVideo(video) {
  videoListeners.get(video)?.abort();
  videoListeners.delete(video);
  video.srcObject = null;
  delete video.dataset.producerId;
  video.closest('.tile')?.classList.remove('has-video');
}

/**
 * Plays a remote audio element. Browsers may refuse sound before the user
 * has interacted with the page: then ask for a click (any click or key
 * press on the page also does it).
 * @param {HTMLAudioElement} audio
 */
function playAudio(audio) {
  audio.play().catch(() => {
    showNotice(t('audioBlocked'), {label: t('enableAudio'), run: resumeAudio});
    document.addEventListener('pointerdown', resumeAudio, {once: true});
    document.addEventListener('keydown', resumeAudio, {once: true});
  });
}

function resumeAudio() {
  const paused = [...audioElements.values()].filter((a) => a.paused);
  Promise.all(paused.map((a) => a.play())).then(() => {
    if (ui.noticeText.textContent === t('audioBlocked')) hideNotice();
  }, () => {});
}

/** @param {RemoteStream} s */
function onStream(s) {
  if (s.kind === 'video') {
    const known = page.connection?.participants.get(s.participant_id) ?? s.participant;
    const tile = known ? ensureTile(known) : ensureTile({
      id: s.participant_id, name: '…', role: 'delegate', delegation: null,
    }, true);
    const video = /** @type {HTMLVideoElement} */ (tile.querySelector('video'));
    attachVideo(video, s.track, s.producer_id);
  } else {
    audioElements.get(s.producer_id)?.remove();
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.producerId = s.producer_id;
    audio.dataset.participantId = s.participant_id;
    audio.srcObject = new MediaStream([s.track]);
    ui.audioSink.append(audio);
    audioElements.set(s.producer_id, audio);
    playAudio(audio);
  }
}

/** @param {RemoteStream} s */
function onStreamEnded(s) {
  if (s.kind === 'video') {
    const video = page.tiles.get(s.participant_id)?.querySelector('video');
    if (video && video.dataset.producerId === s.producer_id) detachVideo(video);
  } else {
    const audio = audioElements.get(s.producer_id);
    if (audio && audio.srcObject instanceof MediaStream && audio.srcObject.getTracks()[0] === s.track) {
      audio.srcObject = null;
      audio.remove();
      audioElements.delete(s.producer_id);
    }
  }
}

// ------------------------------------------------------------------- status

function updateStatus() {
  const conn = page.connection;
  if (!conn || page.ended) return;
  const {signaling, publisher, subscriber} = conn.states;
  if (signaling === 'new' || signaling === 'connecting') {
    setStatus(t('statusConnecting'), 'connecting');
    return;
  }
  if (signaling === 'closed') {
    setStatus(t('statusClosed'), 'error');
    return;
  }
  const peers = [publisher, subscriber].filter((s) => s !== 'none');
  if (peers.includes('failed')) {
    setStatus(t('statusMediaFailed'), 'error');
  } else if (peers.includes('disconnected')) {
    setStatus(t('statusMediaUnstable'), 'warning');
  } else if (peers.some((s) => s === 'new' || s === 'connecting')) {
    setStatus(t('statusMediaConnecting'), 'connecting');
  } else {
    const count = conn.participants.size + 1;
    setStatus(count === 1 ? t('statusConnectedOne') : t('statusConnected', {count}), 'ok');
  }
}

// -------------------------------------------------------------------- media

/**
 * Camera and microphone, or the microphone alone if there is no usable camera.
 * @returns {Promise<MediaStream>}
 */
async function getLocalMedia() {
  const video = {width: {ideal: 1280}, height: {ideal: 720}, frameRate: {ideal: 30}};
  try {
    return await navigator.mediaDevices.getUserMedia({audio: true, video});
  } catch (e) {
    const name = e instanceof DOMException ? e.name : '';
    if (name === 'NotFoundError' || name === 'NotReadableError' || name === 'OverconstrainedError') {
      const stream = await navigator.mediaDevices.getUserMedia({audio: true});
      showNotice(t('audioOnly'));
      return stream;
    }
    throw e;
  }
}

/** @param {Participant} you */
async function startMedia(you) {
  const conn = page.connection;
  if (!conn || page.ended) return;
  setStatus(t('statusAskingMedia'), 'connecting');
  /** @type {MediaStream} */
  let stream;
  try {
    stream = await getLocalMedia();
  } catch (e) {
    console.warn('getUserMedia failed', e);
    const notFound = e instanceof DOMException && e.name === 'NotFoundError';
    showNotice(notFound ? t('mediaNotFound') : t('mediaDenied'), {
      label: t('retry'),
      run: () => void startMedia(you),
    });
    updateStatus();
    return;
  }
  if (page.ended) {
    for (const track of stream.getTracks()) track.stop();
    return;
  }
  page.localStream = stream;
  // Chromium allows sound once the page captures: retry what autoplay refused.
  resumeAudio();
  showLocalPreview(you, stream);
  updateStatus();
  try {
    await conn.publish(stream);
  } catch (e) {
    console.error('publish failed', e);
    // Server errors already show through the `error` event.
    if (!(e instanceof PalabraError)) {
      showNotice(t('publishFailed', {detail: e instanceof Error ? e.message : String(e)}));
    }
  }
}

/**
 * @param {Participant} you
 * @param {MediaStream} stream
 */
function showLocalPreview(you, stream) {
  byIdOptional('tile-local')?.remove();
  const tile = buildTile(you, true);
  tile.id = 'tile-local';
  const video = /** @type {HTMLVideoElement} */ (tile.querySelector('video'));
  ui.grid.prepend(tile);
  layoutGrid();
  const track = stream.getVideoTracks()[0];
  if (track) attachVideo(video, track, 'local');
  delete video.dataset.producerId;
  setToggle(ui.mic, stream.getAudioTracks()[0]);
  setToggle(ui.cam, track);
}

/**
 * Wires a mute toggle to a local track (disabled if there is none).
 * @param {HTMLButtonElement} button
 * @param {MediaStreamTrack | undefined} track
 */
function setToggle(button, track) {
  button.disabled = !track;
  const stateText = button.querySelector('.toggle-state');
  const render = () => {
    const on = Boolean(track?.enabled);
    button.setAttribute('aria-pressed', String(on));
    if (stateText) stateText.textContent = on ? t('on') : t('off');
  };
  button.onclick = () => {
    if (!track) return;
    track.enabled = !track.enabled;
    render();
    if (button === ui.cam) byIdOptional('tile-local')?.classList.toggle('camera-off', !track.enabled);
  };
  render();
}

// ------------------------------------------------------------- connection

/** @param {CloseInfo} info */
function onClose(info) {
  page.closeInfo = info;
  if (page.ended) return;
  setStatus(t('statusClosed'), 'error');
  const lastError = page.errors.at(-1);
  if (lastError && LINK_ERRORS.has(lastError.code)) {
    showFatal(t('invalidLinkTitle'), t('invalidLink'));
  } else if (page.leaving) {
    showFatal(t('leftTitle'), t('leftText'), reload);
  } else if (info.code === 4001 && lastError) {
    showFatal(t('closedTitle'), errorText(lastError));
  } else if (info.code === 4009) {
    showFatal(t('closedTitle'), t('closedReplaced'));
  } else if (info.code === 1001) {
    showFatal(t('closedTitle'), t('closedShutdown'), {label: t('reconnect'), run: () => location.reload()});
  } else if (info.code === 4008) {
    showFatal(t('closedTitle'), t('closedHeartbeat'), {label: t('reconnect'), run: () => location.reload()});
  } else if (info.code === 4002) {
    showFatal(t('closedTitle'), t('closedHandshakeTimeout'), {label: t('reconnect'), run: () => location.reload()});
  } else if (info.code === 1000) {
    showFatal(t('closedTitle'), t('closedRemoved', {code: info.code}), reload);
  } else {
    showFatal(t('closedTitle'), t('closedLost'), {label: t('reconnect'), run: () => location.reload()});
  }
}

async function main() {
  applyStaticStrings();
  const match = /^\/c\/([^/]+)\/?$/.exec(location.pathname);
  page.conferenceId = match ? decodeURIComponent(match[1]) : '';
  const token = new URLSearchParams(location.search).get('t') ?? '';
  ui.title.textContent = t('untitled');
  if (!page.conferenceId || !token) {
    setStatus(t('statusClosed'), 'error');
    showFatal(t('invalidLinkTitle'), t('invalidLink'));
    return;
  }

  const conn = new PalabraConnection({token});
  page.connection = conn;
  conn.addEventListener('connectionstatechange', updateStatus);
  conn.addEventListener('error', (e) => {
    const err = /** @type {CustomEvent<ProtocolError>} */ (e).detail;
    console.warn('palabra error', err);
    page.errors.push(err);
    if (!LINK_ERRORS.has(err.code) && conn.state === 'joined') showNotice(errorText(err));
  });
  conn.addEventListener('close', (e) => onClose(/** @type {CustomEvent<CloseInfo>} */ (e).detail));
  conn.addEventListener('participantjoined', (e) => {
    ensureTile(/** @type {CustomEvent<{participant: Participant}>} */ (e).detail.participant);
    updateStatus();
  });
  conn.addEventListener('participantleft', (e) => {
    removeTile(/** @type {CustomEvent<{participant_id: string}>} */ (e).detail.participant_id);
    updateStatus();
  });
  conn.addEventListener('stream', (e) => onStream(/** @type {CustomEvent<RemoteStream>} */ (e).detail));
  conn.addEventListener('streamended', (e) => {
    onStreamEnded(/** @type {CustomEvent<RemoteStream>} */ (e).detail);
  });

  let welcome;
  try {
    welcome = await conn.connect();
  } catch (e) {
    console.warn('join failed', e);
    // A refusal (`error` before the server closes) is explained here; a
    // closed socket has already been explained by onClose.
    if (!page.ended) {
      const err = e instanceof PalabraError ? {code: e.code, message: e.message} : {code: 'internal', message: String(e)};
      if (LINK_ERRORS.has(err.code)) showFatal(t('invalidLinkTitle'), t('invalidLink'));
      else showFatal(t('closedTitle'), errorText(err), {label: t('reconnect'), run: () => location.reload()});
    }
    conn.close();
    return;
  }
  if (welcome.conference.id !== page.conferenceId) {
    page.errors.push({code: 'wrong_conference', message: 'the link and the token name different conferences'});
    await conn.leave();
    return;
  }
  ui.title.textContent = welcome.conference.title || t('untitled');
  document.title = `${welcome.conference.title || t('untitled')} — Palabra`;
  for (const p of conn.participants.values()) ensureTile(p);
  updateStatus();
  if (PUBLISHING_ROLES.has(welcome.you.role)) await startMedia(welcome.you);
}

ui.leave.addEventListener('click', () => {
  if (!page.connection || page.ended) return;
  ui.leaveDialog.returnValue = '';
  ui.leaveDialog.showModal();
});
ui.leaveDialog.addEventListener('close', () => {
  if (ui.leaveDialog.returnValue !== 'leave' || !page.connection) return;
  page.leaving = true;
  void page.connection.leave();
});
window.addEventListener('pagehide', () => {
  const conn = page.connection;
  if (!conn || page.ended) return;
  page.leaving = true;
  try {
    if (conn.state === 'joined') conn.send({type: 'leave'});
  } finally {
    conn.close(1000, 'page closed');
  }
});

main().catch((e) => {
  console.error(e);
  showFatal(t('closedTitle'), String(e instanceof Error ? e.message : e));
});
