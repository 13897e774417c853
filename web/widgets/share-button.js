// The "Share screen" switch of the bottom bar: offered to the chair and to
// the delegation holding the floor; the server decides in the end.

import {h, setAttr, setText} from '../dom.js';
import {has, t} from '../i18n.js';
import {mayShare} from '../screen-share.js';
import {icon} from './icons.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../screen-share.js').ScreenShare} ScreenShare */
/** @typedef {import('../protocol.js').RoomState} RoomState */

export class ShareButton {
  /**
   * @param {ViewContext} ctx
   * @param {ScreenShare} share
   */
  constructor(ctx, share) {
    /** @private */ this._ctx = ctx;
    /** @private */ this._share = share;
    /** @private */ this._label = h('span');
    /** @private @type {RoomState | null} */ this._state = ctx.conn.room;
    this.element = h('button', {id: 'btn-share', class: 'button toggle share-toggle', type: 'button',
      hidden: true, on: {click: () => void this._toggle()}}, icon('screen'), this._label);
    /** @private */ this._onChange = () => this.render();
    share.addEventListener('change', this._onChange);
    this.render();
  }

  /** @param {RoomState | null} state */
  update(state) {
    this._state = state;
    this.render();
  }

  render() {
    const you = this._ctx.conn.you;
    const active = this._share.active;
    this.element.hidden = !active && !(you && mayShare(this._state, you));
    this.element.disabled = active && !this._share.track; // the picker is open
    setAttr(this.element, 'aria-pressed', String(active));
    setText(this._label, active ? t('share.stop') : t('share.start'));
  }

  /** @private */
  async _toggle() {
    if (this._share.active) {
      await this._share.stop().catch((e) => console.warn('stopping the share failed', e));
      return;
    }
    try {
      await this._share.start();
    } catch (e) {
      const name = e instanceof DOMException ? e.name : '';
      if (name === 'NotAllowedError' || name === 'AbortError') return; // the picker was cancelled
      const code = /** @type {{code?: string}} */ (e).code ?? '';
      const key = `share.error.${code}`;
      this._ctx.toast(has(key) ? t(/** @type {any} */ (key)) : t('share.error.other'), 'error');
    }
  }

  destroy() {
    this._share.removeEventListener('change', this._onChange);
    this.element.remove();
  }
}
