// The speaking-time countdown of a floor holder: large digits, a bar that
// empties, and the phase (normal, warning, overtime) as colour and words.
// Ticks on its own against the server's clock; the owner announces phase
// changes (see `onPhase`).

import {h, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {clock, paused, phase, remaining, spoken} from '../room.js';

/** @typedef {import('../protocol.js').FloorRequest} FloorRequest */
/** @typedef {ReturnType<typeof phase>} Phase */

export class Countdown {
  /**
   * @param {() => number} serverNow  the server's clock, unix seconds
   * @param {{size?: 'large' | 'small', onPhase?: (phase: Phase, holder: FloorRequest) => void}} [options]
   */
  constructor(serverNow, {size = 'large', onPhase} = {}) {
    /** @private */ this._now = serverNow;
    /** @private */ this._onPhase = onPhase ?? (() => {});
    /** @private @type {FloorRequest | null} */ this._holder = null;
    /** @private @type {Phase | null} */ this._phase = null;
    /** @private */ this._digits = h('span', {class: 'countdown-digits'});
    /** @private */ this._label = h('span', {class: 'countdown-label'});
    /** @private */ this._fill = h('span', {class: 'countdown-fill'});
    this.element = h('div', {class: `countdown ${size}`, attrs: {role: 'timer'}, hidden: true},
      this._label, this._digits, h('span', {class: 'countdown-bar', attrs: {'aria-hidden': 'true'}}, this._fill));
    /** @private */ this._timer = setInterval(() => this.tick(), 250);
  }

  /**
   * Follows a holder (null: nobody has the floor).
   * @param {FloorRequest | null} holder
   */
  set(holder) {
    const changed = holder?.request_id !== this._holder?.request_id;
    this._holder = holder;
    if (changed) this._phase = null;
    this.tick();
  }

  tick() {
    const holder = this._holder;
    this.element.hidden = !holder;
    if (!holder) return;
    const now = this._now();
    const left = remaining(holder, now);
    const p = phase(holder, now);
    const limit = holder.turn?.time_limit ?? null;
    this.element.dataset.paused = String(paused(holder));
    if (left === null) {
      setText(this._digits, clock(spoken(holder, now)));
      this._fill.style.width = '100%';
      this.element.dataset.remaining = '';
    } else if (p === 'overtime') {
      const revokeAt = holder.turn?.revoke_at ?? now;
      setText(this._digits, clock(Math.min(0, left)));
      const grace = Math.max(0, revokeAt - now);
      this._fill.style.width = '0%';
      this.element.dataset.remaining = String(Math.round(left));
      this.element.dataset.grace = String(Math.ceil(grace));
    } else {
      setText(this._digits, clock(left));
      this._fill.style.width = `${limit ? Math.max(0, Math.min(100, (left / limit) * 100)) : 100}%`;
      this.element.dataset.remaining = String(Math.max(0, Math.round(left)));
    }
    this.element.dataset.phase = p;
    const label = paused(holder) ? t('countdown.paused') : t(`countdown.${p}`);
    setText(this._label, label);
    setAttr(this.element, 'aria-label', `${label} ${this._digits.textContent}`);
    if (p !== this._phase) {
      const first = this._phase === null;
      this._phase = p;
      if (!first || p === 'warning' || p === 'overtime') this._onPhase(p, holder);
    }
  }

  retranslate() {
    this.tick();
  }

  destroy() {
    clearInterval(this._timer);
    this.element.remove();
  }
}
