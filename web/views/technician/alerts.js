// The technician's alerts: frozen video, packet loss, high round-trip time,
// a publisher gone. Raised alerts are cards that stand out; each new one is
// announced at once.

import {h, keyedList, setText} from '../../dom.js';
import {num, t} from '../../i18n.js';
import {clock} from '../../room.js';
import {badge, updateBadge} from '../../widgets/badge.js';
import {icon} from '../../widgets/icons.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').Alert} Alert */

/**
 * The measured value of an alert, with its unit.
 * @param {Alert} alert
 * @returns {string}
 */
export function alertValue(alert) {
  if (alert.value === null || alert.value === undefined) return '';
  switch (alert.kind) {
    case 'loss': return `${num(alert.value * 100, 1)} %`;
    case 'rtt': return `${num(alert.value)} ms`;
    case 'freeze':
    case 'publisher_gone': return `${num(alert.value, 1)} s`;
    case 'log_lost': return num(alert.value);
    case 'bandwidth_limited': return `${num(alert.value)} kbit/s`;
    default: return num(alert.value, 2);
  }
}

export class AlertsPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** Raised alerts, by id. @type {Map<string, Alert>} */
    this.raised = new Map();
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'alerts-heading'});
    /** @private */ this._count = h('span', {class: 'count'});
    /** @private */ this._list = h('ul', {class: 'alerts', id: 'alerts-list'});
    /** @private */ this._empty = h('p', {class: 'all-clear'}, icon('check'), h('span'));
    this.element = h('section', {class: 'panel alerts-panel', id: 'alerts-panel', attrs: {'aria-labelledby': 'alerts-heading'}},
      h('div', {class: 'panel-head'}, this._heading, this._count), this._list, this._empty);
    /** @private */ this._tick = setInterval(() => this.render(), 1000);
    this.retranslate();
  }

  /**
   * The full set from `monitor.stats` (authoritative).
   * @param {Alert[]} alerts
   */
  replace(alerts) {
    const before = new Set(this.raised.keys());
    this.raised = new Map(alerts.map((a) => [a.id, a]));
    for (const a of alerts) if (!before.has(a.id)) this._announce(a);
    this.render();
  }

  /**
   * One change from `monitor.alert`.
   * @param {Alert} alert
   * @param {'raised' | 'cleared'} state
   */
  change(alert, state) {
    if (state === 'raised') {
      if (!this.raised.has(alert.id)) this._announce(alert);
      this.raised.set(alert.id, alert);
    } else {
      this.raised.delete(alert.id);
    }
    this.render();
  }

  retranslate() {
    setText(this._heading, t('tech.alerts'));
    setText(/** @type {HTMLElement} */ (this._empty.lastElementChild), t('tech.noAlerts'));
    this.render();
  }

  render() {
    const alerts = [...this.raised.values()].sort((a, b) => a.since - b.since);
    setText(this._count, String(alerts.length));
    this.element.classList.toggle('raised', alerts.length > 0);
    this._empty.hidden = alerts.length > 0;
    const now = this._ctx.conn.serverNow();
    keyedList(this._list, alerts, (a) => a.id,
      (a) => h('li', {class: 'alert-card', dataset: {alertId: a.id, kind: a.kind}},
        icon('alert', 'alert-icon'),
        h('div', {class: 'alert-body'},
          h('p', {class: 'alert-title'}), h('p', {class: 'alert-who'}, badge(null), h('span')),
          h('p', {class: 'alert-detail'}))),
      (li, a) => {
        const person = this._ctx.people.person(a.participant_id);
        const [title, who, detail] = /** @type {HTMLElement[]} */ ([...(/** @type {HTMLElement} */ (li.children[1])).children]);
        const value = alertValue(a);
        setText(title, `${t(/** @type {any} */ (`alert.kind.${a.kind}`))}${value ? ` · ${value}` : ''}`);
        updateBadge(/** @type {HTMLElement} */ (who.firstElementChild), person.delegation);
        const toward = a.subscriber_id ? ` → ${this._ctx.people.name(a.subscriber_id)}` : '';
        setText(/** @type {HTMLElement} */ (who.lastElementChild), `${person.name}${toward}`);
        setText(detail, t('tech.since', {time: clock(Math.max(0, now - a.since))}));
        li.title = a.message;
      });
  }

  destroy() {
    clearInterval(this._tick);
  }

  /**
   * @private
   * @param {Alert} a
   */
  _announce(a) {
    const text = t('tech.alertRaised', {
      kind: t(/** @type {any} */ (`alert.kind.${a.kind}`)), name: this._ctx.people.name(a.participant_id),
    });
    this._ctx.announce(text, true);
  }
}
