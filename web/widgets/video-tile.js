// A participant's tile: video (or initials), a caption with delegation badge,
// name and role, and the microphone state decided by the server.

import {h, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {badge, updateBadge} from './badge.js';
import {icon} from './icons.js';

/** @typedef {import('../people.js').Person} Person */

/**
 * @typedef {object} TileState
 * @property {boolean} [audible]   heard now (the server forwards the microphone)
 * @property {boolean} [muted]     muted by the chair or a technician
 * @property {boolean} [floor]     the delegation holds the floor
 * @property {boolean} [queued]    the delegation is on the speakers list
 * @property {import('../protocol.js').Presence} [presence]  whether its connection is live
 */

/**
 * Text under the name: the delegation and the role.
 * @param {Person} p
 * @returns {string}
 */
export function describePerson(p) {
  const role = t(/** @type {any} */ (`role.${p.role}`));
  return p.delegation ? `${p.delegation.name} · ${role}` : role;
}

/**
 * Initials for the placeholder: the delegation code, else the name's.
 * @param {Person} p
 * @returns {string}
 */
export function initials(p) {
  if (p.delegation?.code) return p.delegation.code.toUpperCase();
  const words = p.name.match(/\p{L}+/gu) ?? [];
  return words.slice(0, 2).map((w) => w[0]).join('').toUpperCase();
}

export class VideoTile {
  /**
   * @param {Person} person
   * @param {{local?: boolean, className?: string, onPin?: () => void}} [options]
   *   onPin: show a button that asks for this video in higher quality (or back)
   */
  constructor(person, {local = false, className = '', onPin} = {}) {
    this.person = person;
    this.local = local;
    /** @private */ this._video = h('video', {autoplay: true, playsInline: true, muted: true});
    /** @private */ this._initials = h('span', {class: 'initials'});
    /** @private */ this._pausedName = h('span', {class: 'paused-name'});
    /** @private */ this._pausedNote = h('span', {class: 'paused-note'});
    /** @private */ this._placeholder = h('div', {class: 'placeholder', attrs: {'aria-hidden': 'true'}},
      this._initials, this._pausedName, this._pausedNote);
    /** @private */ this._paused = false;
    /** @private */ this._mic = h('span', {class: 'mic-state', hidden: true});
    /** @private */ this._presence = h('span', {class: 'presence-state', hidden: true});
    /** @private */ this._badge = badge(person.delegation);
    /** @private */ this._name = h('span', {class: 'name'});
    /** @private */ this._meta = h('span', {class: 'meta'});
    /** @private @type {AbortController | null} */ this._listeners = null;
    /** @private @type {MediaStreamTrack | null} */ this._track = null;
    /** @private @type {TileState} */ this._state = {};
    /** @private */ this._pinned = false;
    /** @private */ this._pin = onPin ? h('button', {class: 'icon-button pin-toggle', type: 'button',
      attrs: {'aria-pressed': 'false'}, on: {click: () => onPin()}}, icon('up')) : null;
    this.element = h('article', {class: `tile ${local ? 'local' : ''} ${className}`.trim(),
      dataset: {participantId: person.id}},
    h('div', {class: 'media'}, this._video, this._placeholder, this._mic, this._presence),
    h('div', {class: 'caption'}, this._badge,
      h('div', {class: 'caption-text'}, this._name, this._meta), this._pin));
    this.retranslate();
  }

  /** @param {Person} person */
  setPerson(person) {
    this.person = person;
    this.element.dataset.participantId = person.id;
    this.retranslate();
  }

  /**
   * Shows a video track (null: the initials).
   * @param {MediaStreamTrack | null} track
   * @param {string} [producerId]
   */
  setTrack(track, producerId = '') {
    if (track === this._track) return;
    this._listeners?.abort();
    this._listeners = null;
    this._track = track;
    const video = this._video;
    if (!track) {
      video.srcObject = null;
      delete video.dataset.producerId;
      this.element.classList.remove('has-video');
      return;
    }
    const listeners = new AbortController();
    this._listeners = listeners;
    const {signal} = listeners;
    const showing = () => {
      this.element.classList.toggle('has-video', !track.muted && video.videoWidth > 0);
    };
    track.addEventListener('mute', showing, {signal});
    track.addEventListener('unmute', showing, {signal});
    video.addEventListener('resize', showing, {signal});
    video.addEventListener('loadeddata', showing, {signal});
    if (producerId) video.dataset.producerId = producerId;
    else delete video.dataset.producerId;
    video.srcObject = new MediaStream([track]);
    video.play().catch(() => {}); // muted video may always autoplay
  }

  /**
   * The server holds this video for us (our downlink, or last-N): a name tile.
   * @param {boolean} paused
   */
  setVideoPaused(paused) {
    this._paused = paused;
    this.element.classList.toggle('video-paused', paused);
    if (paused) this.setTrack(null);
  }

  /**
   * Whether this video is pinned (sent in higher quality).
   * @param {boolean} pinned
   */
  setPinned(pinned) {
    this._pinned = pinned;
    this.element.classList.toggle('pinned', pinned);
    this._renderPin();
  }

  /** @param {boolean} off */
  setCameraOff(off) {
    this.element.classList.toggle('camera-off', off);
  }

  /** @param {TileState} state */
  setState(state) {
    this._state = state;
    this.element.classList.toggle('audible', Boolean(state.audible));
    this.element.classList.toggle('floor', Boolean(state.floor));
    setAttr(this.element, 'data-audible', state.audible ? 'true' : 'false');
    this.element.dataset.presence = state.presence ?? 'connected';
    this._renderMic();
    this._renderPresence();
  }

  retranslate() {
    const p = this.person;
    updateBadge(this._badge, p.delegation);
    setText(this._initials, initials(p));
    setText(this._pausedName, p.name);
    setText(this._pausedNote, t('tile.videoPaused'));
    setText(this._name, p.name);
    setAttr(this._name, 'title', p.name);
    setText(this._meta, this.local ? `${t('you')} · ${describePerson(p)}` : describePerson(p));
    this._renderMic();
    this._renderPresence();
    this._renderPin();
  }

  destroy() {
    this.setTrack(null);
    this.element.remove();
  }

  /** @private */
  _renderPresence() {
    const p = this.person;
    const presence = this._state.presence ?? 'connected';
    const away = presence !== 'connected';
    this._presence.hidden = !away;
    this._presence.className = `presence-state ${presence}`;
    setText(this._presence, away ? t(`presence.${presence}`) : '');
    const label = `${p.name} — ${describePerson(p)}`;
    setAttr(this.element, 'aria-label', away ? `${label} — ${t(`presence.${presence}`)}` : label);
  }

  /** @private */
  _renderPin() {
    const pin = this._pin;
    if (!pin) return;
    const label = t(this._pinned ? 'tile.unpin' : 'tile.pin', {name: this.person.name});
    setAttr(pin, 'aria-label', label);
    setAttr(pin, 'title', label);
    setAttr(pin, 'aria-pressed', this._pinned ? 'true' : 'false');
    pin.replaceChildren(icon(this._pinned ? 'down' : 'up'));
  }

  /** @private */
  _renderMic() {
    const {audible, muted} = this._state;
    const el = this._mic;
    el.replaceChildren();
    el.hidden = !audible && !muted;
    if (el.hidden) return;
    el.className = `mic-state ${muted ? 'muted' : 'open'}`;
    el.append(icon(muted ? 'micOff' : 'mic'), h('span', {text: muted ? t('mic.mutedShort') : t('mic.openShort')}));
  }
}
