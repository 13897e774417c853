// The chair's interpretation panel: the floor languages, each channel open or
// closed with who is on air, the booths' interpreters, and seating an
// interpreter who has joined.

import {busy, h, keyedList, setText} from '../../dom.js';
import {t} from '../../i18n.js';
import {languageName} from '../../widgets/language-menu.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomState} RoomState */
/** @typedef {import('../../protocol.js').InterpretationChannel} InterpretationChannel */

export class BoothsPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'booths-heading'});
    /** @private */ this._languagesLabel = h('label', {class: 'field-label', htmlFor: 'floor-languages'});
    /** @private */ this._languages = /** @type {HTMLInputElement} */ (h('input', {id: 'floor-languages',
      type: 'text', placeholder: 'es, en, pt', attrs: {'data-testid': 'floor-languages'}}));
    /** @private */ this._setLanguages = /** @type {HTMLButtonElement} */ (h('button', {class: 'button', type: 'button',
      on: {click: () => void busy(this._setLanguages, () => ctx.act('interpretation.set_languages', {
        languages: this._languages.value.split(/[\s,]+/).filter(Boolean).map((l) => l.toLowerCase()),
      }))}}));
    /** @private */ this._channels = h('ul', {class: 'booth-list', attrs: {'data-testid': 'booths'}});
    /** @private */ this._assignHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._who = /** @type {HTMLSelectElement} */ (h('select', {attrs: {'data-testid': 'assign-who'}}));
    /** @private */ this._booth = /** @type {HTMLSelectElement} */ (h('select', {attrs: {'data-testid': 'assign-booth'}}));
    /** @private */ this._working = /** @type {HTMLInputElement} */ (h('input', {type: 'text',
      placeholder: 'en, es', attrs: {'data-testid': 'assign-languages'}}));
    /** @private */ this._assign = /** @type {HTMLButtonElement} */ (h('button', {class: 'button', type: 'button',
      on: {click: () => void busy(this._assign, () => this._seat())}}));
    /** @private */ this._slowDown = h('p', {class: 'hint', attrs: {role: 'status'}});
    this.element = h('section', {class: 'panel booths-panel', hidden: true,
      attrs: {'aria-labelledby': 'booths-heading'}},
    this._heading,
    h('div', {class: 'field inline'}, this._languagesLabel, this._languages, this._setLanguages),
    this._channels, this._slowDown,
    this._assignHeading,
    h('div', {class: 'field inline'}, this._who, this._booth, this._working, this._assign));
    this.retranslate();
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  /** @param {import('../../protocol.js').RoomEvent[]} events */
  events(events) {
    for (const event of events) {
      if (event.type !== 'interpretation.slow_down_asked') continue;
      const text = t('interp.slowDownAsked', {name: this._ctx.people.name(event.participant_id),
        language: languageName(event.booth)});
      setText(this._slowDown, text);
      this._ctx.toast(text);
      this._ctx.announce(text, true);
    }
  }

  /** @private */
  async _seat() {
    const working = this._working.value.split(/[\s,]+/).filter(Boolean).map((l) => l.toLowerCase());
    const booth = this._booth.value;
    if (booth && !working.includes(booth)) working.unshift(booth);
    return this._ctx.act('interpretation.assign', {participant_id: this._who.value, booth,
      working_languages: working});
  }

  render() {
    const state = this._state;
    const interp = state?.interpretation;
    const interpreters = state?.participants.filter((p) => p.role === 'interpreter') ?? [];
    this.element.hidden = !interp || (interp.languages.length === 0 && interpreters.length === 0);
    if (!state || !interp) return;
    if (document.activeElement !== this._languages) this._languages.value = interp.languages.join(', ');
    const ctx = this._ctx;
    const channels = interp.languages.map((language) => interp.channels.find((c) => c.language === language) ??
      /** @type {InterpretationChannel} */ ({language, open: false, active: null, since: null, handover_to: null,
        interpreters: []}));
    keyedList(this._channels, channels, (c) => c.language, (c) => {
      const toggle = h('button', {class: 'button small', type: 'button', dataset: {action: 'toggle-channel'}});
      toggle.addEventListener('click', () => void busy(toggle, () => {
        const open = toggle.dataset.open === 'true';
        return ctx.act(open ? 'interpretation.close_channel' : 'interpretation.open_channel', {language: c.language});
      }));
      return h('li', {class: 'booth', dataset: {language: c.language}},
        h('span', {class: 'booth-name'}), h('span', {class: 'booth-air'}), toggle, h('ul', {class: 'booth-seats'}));
    }, (el, c) => {
      setText(/** @type {HTMLElement} */ (el.querySelector('.booth-name')), languageName(c.language));
      setText(/** @type {HTMLElement} */ (el.querySelector('.booth-air')), !c.open ? t('interp.closed')
        : c.active ? t('interp.onAirName', {name: ctx.people.name(c.active)}) : t('interp.silent'));
      const toggle = /** @type {HTMLElement} */ (el.querySelector('button'));
      toggle.dataset.open = String(c.open);
      setText(toggle, c.open ? t('interp.closeChannel') : t('interp.openChannel'));
      const seats = /** @type {HTMLElement} */ (el.querySelector('.booth-seats'));
      keyedList(seats, c.interpreters, (s) => s.participant_id, () => h('li', {}), (li, s) => {
        setText(li, `${ctx.people.name(s.participant_id)} (${s.working_languages.join(', ')})` +
          (s.active ? ` — ${t('interp.onAir')}` : ''));
      });
    });
    const seated = new Set(interp.channels.flatMap((c) => c.interpreters.map((s) => s.participant_id)));
    const free = interpreters.filter((p) => !seated.has(p.participant_id));
    this._who.replaceChildren(...free.map((p) => h('option', {value: p.participant_id, text: p.name})));
    const booths = interp.languages;
    if ([...this._booth.options].map((o) => o.value).join() !== booths.join()) {
      this._booth.replaceChildren(...booths.map((l) => h('option', {value: l, text: languageName(l)})));
    }
    this._assign.disabled = free.length === 0 || booths.length === 0;
  }

  retranslate() {
    setText(this._heading, t('interp.title'));
    setText(this._languagesLabel, t('interp.floorLanguages'));
    setText(this._setLanguages, t('interp.setLanguages'));
    setText(this._assignHeading, t('interp.seat'));
    setText(this._assign, t('interp.assign'));
    this.render();
  }
}
