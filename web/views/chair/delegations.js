// The chair's compact grid of delegations: one small cell per delegation
// (code, name, and what matters at a glance: has the floor, on the list,
// reconnecting, absent, muted) with a speaking indicator that lights while
// sound comes from a delegation whose microphone the floor has opened.
// Made for 20-40 delegations, where a video tile each would not fit.

import {h, keyedList, setAttr, setText} from '../../dom.js';
import {t} from '../../i18n.js';
import {SPEAKING_ROLES, openRequest} from '../../room.js';
import {badge, updateBadge} from '../../widgets/badge.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomState} RoomState */
/** @typedef {import('../../protocol.js').RoomDelegation} RoomDelegation */

/** RMS level (0..1) above which a microphone counts as speaking. */
const SPEAKING_LEVEL = 0.01;
/** How often the levels are read, ms. */
const LISTEN_EVERY = 200;

export class DelegationGrid {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {RoomState | null} */ this._state = null;
    this.element = h('ul', {class: 'delegation-grid', id: 'delegation-grid'});
    /** Level probes of the open microphones, by participant id. @private
     * @type {Map<string, {track: MediaStreamTrack, source: MediaStreamAudioSourceNode, analyser: AnalyserNode}>} */
    this._probes = new Map();
    /** @private @type {AudioContext | null} */ this._audio = null;
    /** @private @type {Float32Array} */ this._samples = new Float32Array(512);
    /** @private */ this._timer = setInterval(() => this._listen(), LISTEN_EVERY);
    /** @private */ this._resume = () => void this._audio?.resume().catch(() => {});
    document.addEventListener('click', this._resume);
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  render() {
    const state = this._state;
    if (!state) return;
    keyedList(this.element, state.delegations, (d) => d.delegation_id,
      (d) => h('li', {class: 'delegation-cell', dataset: {delegationId: d.delegation_id}},
        badge(null), h('span', {class: 'cell-name'}),
        h('span', {class: 'speaking', attrs: {'aria-hidden': 'true'}}, h('i'), h('i'), h('i')),
        h('span', {class: 'cell-status'})),
      (li, d) => this._fill(li, d));
    this.element.dataset.count = String(state.delegations.length);
  }

  retranslate() {
    this.render();
  }

  destroy() {
    clearInterval(this._timer);
    document.removeEventListener('click', this._resume);
    for (const probe of this._probes.values()) probe.source.disconnect();
    this._probes.clear();
    void this._audio?.close().catch(() => {});
    this.element.remove();
  }

  /**
   * @private
   * @param {HTMLElement} li
   * @param {RoomDelegation} d
   */
  _fill(li, d) {
    const state = /** @type {RoomState} */ (this._state);
    const members = state.participants.filter((p) => p.delegation_id === d.delegation_id && SPEAKING_ROLES.has(p.role));
    const request = openRequest(state, d.delegation_id);
    const holds = request?.status === 'granted';
    const presences = new Set(members.map((p) => p.presence ?? 'connected'));
    const presence = members.length === 0 ? 'absent' : presences.has('connected') ? 'connected'
      : presences.has('reconnecting') ? 'reconnecting' : 'disconnected';
    const audible = members.some((p) => p.audible);
    const muted = members.length > 0 && members.every((p) => p.muted);
    updateBadge(/** @type {HTMLElement} */ (li.querySelector('.badge')), this._ctx.people.delegation(d.delegation_id));
    setText(/** @type {HTMLElement} */ (li.querySelector('.cell-name')), d.name);
    /** @type {string[]} */
    const words = [];
    if (holds) words.push(t('speakers.speaking'));
    else if (request?.status === 'accepted') words.push(t('grid.onList', {position: request.position ?? ''}));
    else if (request) words.push(t('speakers.pending'));
    if (presence === 'absent') words.push(t('grid.absent'));
    else if (presence !== 'connected') words.push(t(`presence.${presence}`));
    if (muted) words.push(t('mic.muted.short'));
    setText(/** @type {HTMLElement} */ (li.querySelector('.cell-status')), words.join(' · '));
    li.dataset.presence = presence;
    li.dataset.floor = holds ? 'holding' : request ? 'requested' : '';
    li.dataset.audible = String(audible);
    li.dataset.muted = String(muted);
    if (!audible) li.dataset.speaking = 'false';
    setAttr(li, 'title', [d.name, ...words].join(' · '));
  }

  /**
   * Reads the level of every open microphone of a delegation (the server
   * forwards nothing else) and lights its cell while it carries sound.
   * @private
   */
  _listen() {
    const state = this._state;
    if (!state) return;
    const you = this._ctx.conn.you?.id;
    const open = state.participants.filter((p) => p.audible && p.delegation_id && p.participant_id !== you);
    /** @type {Map<string, number>} */
    const levels = new Map();
    for (const p of open) {
      const level = this._level(p.participant_id);
      const id = /** @type {string} */ (p.delegation_id);
      levels.set(id, Math.max(levels.get(id) ?? 0, level));
    }
    for (const [pid, probe] of this._probes) {
      if (!open.some((p) => p.participant_id === pid)) {
        probe.source.disconnect();
        this._probes.delete(pid);
      }
    }
    for (const li of /** @type {HTMLElement[]} */ ([...this.element.children])) {
      const speaking = (levels.get(li.dataset.delegationId ?? '') ?? 0) > SPEAKING_LEVEL;
      li.dataset.speaking = String(speaking);
    }
  }

  /**
   * @private
   * @param {string} participantId
   * @returns {number} RMS level 0..1 of its audio now (0 when none)
   */
  _level(participantId) {
    const track = this._ctx.remote.of(participantId).audio?.track ?? null;
    let probe = this._probes.get(participantId);
    if (probe && probe.track !== track) {
      probe.source.disconnect();
      this._probes.delete(participantId);
      probe = undefined;
    }
    if (!track) return 0;
    if (!probe) {
      try {
        this._audio ??= new AudioContext();
        const source = this._audio.createMediaStreamSource(new MediaStream([track]));
        const analyser = this._audio.createAnalyser();
        analyser.fftSize = 1024;
        source.connect(analyser);
        probe = {track, source, analyser};
        this._probes.set(participantId, probe);
      } catch (e) {
        console.warn('cannot measure the level of', participantId, e);
        return 0;
      }
    }
    probe.analyser.getFloatTimeDomainData(this._samples);
    let sum = 0;
    for (const v of this._samples) sum += v * v;
    return Math.sqrt(sum / this._samples.length);
  }
}
