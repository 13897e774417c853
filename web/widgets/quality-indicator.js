// Connection-quality indicator for the top bar: three bars and a word, with
// the measurements in the tooltip.

import {h, setAttr, setText} from '../dom.js';
import {num, t} from '../i18n.js';

/** @typedef {import('../quality.js').QualitySample} QualitySample */

export class QualityIndicator {
  constructor() {
    /** @private */ this._text = h('span', {class: 'quality-text'});
    this.element = h('span', {class: 'quality', dataset: {level: 'unknown'}},
      h('span', {class: 'bars', attrs: {'aria-hidden': 'true'}}, h('i'), h('i'), h('i')),
      this._text);
    /** @private @type {QualitySample} */
    this._sample = {level: 'unknown', rttMs: null, loss: null, jitterMs: null};
    this.render();
  }

  /** @param {QualitySample} sample */
  set(sample) {
    this._sample = sample;
    this.render();
  }

  render() {
    const s = this._sample;
    this.element.dataset.level = s.level;
    this.element.hidden = s.level === 'unknown';
    setText(this._text, t(`quality.${s.level}`));
    const parts = [];
    if (s.rttMs !== null) parts.push(t('quality.rtt', {ms: num(s.rttMs)}));
    if (s.loss !== null) parts.push(t('quality.loss', {pct: num(s.loss * 100, 1)}));
    if (s.jitterMs !== null) parts.push(t('quality.jitter', {ms: num(s.jitterMs)}));
    const detail = parts.join(' · ');
    setAttr(this.element, 'title', detail ? `${t(`quality.${s.level}`)} — ${detail}` : t(`quality.${s.level}`));
  }
}
