// The technicians' connectivity checks: the results each participant sent
// from the check page (web/check.html), newest first, each step green,
// amber or red with its measure and the advice the participant was given.
// Pushed as they arrive (`check.report`); also fetched from `/check/reports`
// with the technician's own token on opening and every so often, for those
// sent to another node or while this page was reconnecting.

import {h, keyedList, setAttr, setText} from '../../dom.js';
import {has, t, timeOfDay} from '../../i18n.js';
import {badge, updateBadge} from '../../widgets/badge.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('./paths.js').CheckReport} CheckReport */

/** Seconds between two fetches of the reports (the push brings new ones at once). */
export const POLL_EVERY = 30;

/** The steps in the check page's order (others, from a newer page, follow). */
const STEPS = ['https', 'websocket', 'udp', 'turnUdp', 'turnTls', 'rtt', 'rate', 'devices'];

/**
 * The overall result, as the check page summarises it: media needs one
 * working path (direct UDP or a relay), the page and its WebSocket, and the
 * devices.
 * @param {Record<string, string>} steps
 * @returns {'green' | 'amber' | 'red'}
 */
export function overall(steps) {
  const path = ['udp', 'turnUdp', 'turnTls'].some((s) => steps[s] === 'green');
  if (!path || ['https', 'websocket', 'devices'].some((s) => steps[s] === 'red')) return 'red';
  return Object.values(steps).every((s) => s === 'green') ? 'green' : 'amber';
}

/** @param {Record<string, string>} steps */
function ordered(steps) {
  const names = Object.keys(steps);
  return [...STEPS.filter((s) => names.includes(s)), ...names.filter((s) => !STEPS.includes(s))];
}

/** @param {string} step */
function stepName(step) {
  const key = `check.${step}`;
  return has(key) ? t(key) : step;
}

export class ChecksPanel {
  /**
   * @param {ViewContext} ctx
   * @param {(reports: Map<string, CheckReport>) => void} onChange  when a report arrives or changes
   */
  constructor(ctx, onChange) {
    /** @private */ this._ctx = ctx;
    /** @private */ this._onChange = onChange;
    /** Each participant's latest report. @type {Map<string, CheckReport>} */
    this.reports = new Map();
    /** @private */ this._first = true;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'checks-heading'});
    /** @private */ this._count = h('span', {class: 'count'});
    /** @private */ this._list = h('ul', {class: 'check-reports', id: 'check-reports'});
    /** @private */ this._empty = h('p', {class: 'empty', id: 'checks-empty'});
    this.element = h('section', {class: 'panel checks-panel', id: 'checks-panel', attrs: {'aria-labelledby': 'checks-heading'}},
      h('div', {class: 'panel-head'}, this._heading, this._count), this._empty, this._list);
    /** @private */ this._timer = setInterval(() => void this.refresh(), POLL_EVERY * 1000);
    /** @private */ this._onPush = (/** @type {Event} */ e) => {
      this._merge([/** @type {CustomEvent<CheckReport>} */ (e).detail], true);
    };
    ctx.conn.addEventListener('checkreport', this._onPush);
    this.retranslate();
    void this.refresh();
  }

  /** Fetch the reports; a failed fetch keeps the last ones (the next one retries). */
  async refresh() {
    /** @type {CheckReport[]} */
    let reports;
    try {
      const answer = await fetch(`/check/reports?t=${encodeURIComponent(this._ctx.token)}`, {cache: 'no-store'});
      if (!answer.ok) return;
      reports = (await answer.json()).reports;
      if (!Array.isArray(reports)) return;
    } catch {
      return;
    }
    this._merge(reports, !this._first);
    this._first = false;
  }

  /**
   * @private
   * @param {CheckReport[]} reports
   * @param {boolean} announce  new ones are read out (not those found on opening)
   */
  _merge(reports, announce) {
    let changed = false;
    for (const r of reports) {
      if (typeof r?.participant_id !== 'string' || !r.steps || typeof r.steps !== 'object') continue;
      const before = this.reports.get(r.participant_id);
      if (before && before.at >= r.at) continue;
      this.reports.set(r.participant_id, r);
      changed = true;
      if (announce) {
        this._ctx.announce(t('tech.checks.arrived', {name: r.name, result: t(`check.status.${overall(r.steps)}`)}));
      }
    }
    if (!changed) return;
    this.render();
    this._onChange(this.reports);
  }

  retranslate() {
    setText(this._heading, t('tech.checks'));
    setText(this._empty, t('tech.checks.none'));
    this.render();
  }

  render() {
    const reports = [...this.reports.values()].sort((a, b) => b.at - a.at);
    setText(this._count, String(reports.length));
    this._empty.hidden = reports.length > 0;
    keyedList(this._list, reports, (r) => r.participant_id, (r) => this._card(r), (li, r) => this._fill(li, r));
  }

  destroy() {
    clearInterval(this._timer);
    this._ctx.conn.removeEventListener('checkreport', this._onPush);
  }

  /**
   * @private
   * @param {CheckReport} r
   */
  _card(r) {
    return h('li', {class: 'check-report', dataset: {participantId: r.participant_id}},
      h('div', {class: 'check-report-head'},
        badge(null), h('span', {class: 'name'}), h('span', {class: 'check-overall'}), h('time', {class: 'check-time'})),
      h('ul', {class: 'check-chips'}),
      h('ul', {class: 'check-advice-list'}));
  }

  /**
   * @private
   * @param {HTMLElement} li
   * @param {CheckReport} r
   */
  _fill(li, r) {
    const [head, chips, advice] = /** @type {HTMLElement[]} */ ([...li.children]);
    const [flag, name, result, time] = /** @type {HTMLElement[]} */ ([...head.children]);
    const status = overall(r.steps);
    li.dataset.status = status;
    li.dataset.at = String(r.at);
    updateBadge(flag, this._ctx.people.delegation(r.delegation));
    setText(name, r.name);
    setText(result, t(`check.status.${status}`));
    result.dataset.status = status;
    setText(time, timeOfDay(r.at));
    setAttr(time, 'datetime', new Date(r.at * 1000).toISOString());
    const steps = ordered(r.steps);
    keyedList(chips, steps, (s) => s, (s) => h('li', {class: 'check-chip', dataset: {step: s}},
      h('span', {class: 'check-dot', attrs: {'aria-hidden': 'true'}}), h('span', {class: 'check-chip-name'}),
      h('span', {class: 'check-chip-detail'})),
    (chip, s) => {
      const state = r.steps[s];
      chip.dataset.status = state;
      const [, label, detail] = /** @type {HTMLElement[]} */ ([...chip.children]);
      setText(label, stepName(s));
      setText(detail, r.details?.[s] ?? '');
      const word = has(`check.status.${state}`) ? t(/** @type {any} */ (`check.status.${state}`)) : state;
      const measured = r.details?.[s];
      setAttr(chip, 'title', `${stepName(s)}: ${word}${measured ? ` · ${measured}` : ''}`);
    });
    // The advice shown on the page (its key), else the step's usual one.
    const adviceKey = (/** @type {string} */ s) => r.advice?.[s] ?? `check.${s}.${r.steps[s]}`;
    const advised = steps.filter((s) => r.steps[s] !== 'green' && has(adviceKey(s)));
    keyedList(advice, advised, (s) => s, (s) => h('li', {dataset: {step: s}}, h('strong'), h('span')),
      (item, s) => {
        item.dataset.status = r.steps[s];
        setText(/** @type {HTMLElement} */ (item.firstElementChild), `${stepName(s)}: `);
        setText(/** @type {HTMLElement} */ (item.lastElementChild), t(/** @type {any} */ (adviceKey(s))));
      });
  }
}
