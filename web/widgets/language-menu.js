// The listener's language menu: the floor (the original) or an open
// interpretation channel, and the original's volume while a channel plays.
// The choice is remembered per seat (this browser, this conference, this
// participant) and said again to the server after a reconnection.

import {h, setText} from '../dom.js';
import {t} from '../i18n.js';
import {ChannelMixer} from '../interpretation-audio.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../protocol.js').RoomState} RoomState */

const FLOOR = '';
const DEFAULT_FLOOR_VOLUME = 20; // percent

export class LanguageMenu {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private */ this._mixer = new ChannelMixer(ctx.remote);
    /** @private */ this._key = `palabra.listen.${ctx.conferenceId}.${ctx.conn.you?.id ?? ''}`;
    const saved = this._load();
    /** The channel chosen ('' for the floor only). */
    this.channel = saved.channel;
    /** @private */ this._volume = saved.volume;
    /** Whether the server has been told the saved choice on this connection. @private */
    this._told = false;
    /** @private */ this._label = h('span', {class: 'language-menu-label'});
    /** @private */ this._select = /** @type {HTMLSelectElement} */ (h('select', {
      class: 'language-select', attrs: {'data-testid': 'language-select'},
      on: {change: () => void this.choose(this._select.value)},
    }));
    /** @private */ this._volumeLabel = h('span', {class: 'language-volume-label'});
    /** @private */ this._slider = /** @type {HTMLInputElement} */ (h('input', {
      type: 'range', min: '0', max: '100', step: '5', value: String(this._volume),
      attrs: {'data-testid': 'original-volume'},
      on: {input: () => this._setVolume(Number(this._slider.value))},
    }));
    this.element = h('div', {class: 'language-menu', hidden: true},
      h('label', {}, this._label, this._select),
      h('label', {class: 'language-volume'}, this._volumeLabel, this._slider));
    /** @private */ this._rejoined = () => {
      this._told = false;
    };
    ctx.conn.addEventListener('welcome', this._rejoined);
    this.retranslate();
  }

  /** @param {RoomState | null} room */
  update(room) {
    const channels = (room?.interpretation?.channels ?? []).filter((c) => c.open).map((c) => c.language);
    this.element.hidden = channels.length === 0;
    const options = [FLOOR, ...channels];
    const current = [...this._select.options].map((o) => o.value);
    if (current.join() !== options.join()) {
      this._select.replaceChildren(...options.map((value) => h('option', {value})));
      this._labelOptions();
    }
    if (this.channel && !channels.includes(this.channel)) {
      this._apply(FLOOR); // the channel closed: the floor only
    } else if (this.channel && !this._told) {
      void this.choose(this.channel, {quiet: true});
    }
    this._select.value = this.channel;
  }

  /**
   * @param {string} channel  a language, or '' for the floor only
   * @param {{quiet?: boolean}} [options]
   */
  async choose(channel, {quiet = false} = {}) {
    this._mixer.resume();
    try {
      await this._ctx.conn.listen(channel || null);
      this._told = true;
      this._apply(channel);
      this._save();
    } catch (e) {
      if (!quiet) this._ctx.toast(t('interp.listenFailed'), 'error');
      this._select.value = this.channel;
    }
  }

  /** @private @param {string} channel */
  _apply(channel) {
    this.channel = channel;
    this._select.value = channel;
    this._mixer.set(channel !== FLOOR, this._volume / 100);
    this._slider.disabled = channel === FLOOR;
  }

  /** @private @param {number} percent */
  _setVolume(percent) {
    this._volume = percent;
    this._mixer.set(this.channel !== FLOOR, percent / 100);
    this._save();
  }

  /** @private */
  _load() {
    try {
      const raw = JSON.parse(localStorage.getItem(this._key) ?? '{}');
      return {channel: typeof raw.channel === 'string' ? raw.channel : FLOOR,
        volume: Number.isFinite(raw.volume) ? raw.volume : DEFAULT_FLOOR_VOLUME};
    } catch {
      return {channel: FLOOR, volume: DEFAULT_FLOOR_VOLUME};
    }
  }

  /** @private */
  _save() {
    try {
      localStorage.setItem(this._key, JSON.stringify({channel: this.channel, volume: this._volume}));
    } catch {
      // Private browsing: not remembered.
    }
  }

  /** @private */
  _labelOptions() {
    for (const option of this._select.options) {
      option.textContent = option.value === FLOOR ? t('interp.floor') : languageName(option.value);
    }
  }

  retranslate() {
    setText(this._label, t('interp.listenTo'));
    setText(this._volumeLabel, t('interp.originalVolume'));
    this._labelOptions();
  }

  destroy() {
    this._ctx.conn.removeEventListener('welcome', this._rejoined);
    this._mixer.destroy();
    this.element.remove();
  }
}

/**
 * A language's own name in the page's language ("English", "inglés").
 * @param {string} code  ISO 639-1
 */
export function languageName(code) {
  try {
    const names = new Intl.DisplayNames([document.documentElement.lang || 'es'], {type: 'language'});
    return names.of(code) ?? code;
  } catch {
    return code;
  }
}
