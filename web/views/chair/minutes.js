// The minutes so far: speaking time per delegation and the interventions,
// from GET /c/<conference>/minutes (format=json), refreshed after every floor
// change; a running intervention counts up locally between refreshes.

import {h, keyedList, setAttr, setText} from '../../dom.js';
import {lang, num, t, timeOfDay} from '../../i18n.js';
import {clock} from '../../room.js';
import {badge, updateBadge} from '../../widgets/badge.js';
import {icon} from '../../widgets/icons.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomUpdate} RoomUpdate */

/**
 * The JSON minutes (rooms/minutes.py `Minutes.to_dict()`), the parts shown.
 * @typedef {object} MinutesData
 * @property {Array<{number: number, request_id: string, delegation_id: string, delegation: string,
 *   country_code: string, speaker: string | null, priority: string, start: number, end: number | null,
 *   duration: number | null, time_limit: number | null, overtime: boolean, ended: string | null,
 *   end_reason: string | null, ended_by: string | null, disconnected_since?: number | null}>} interventions
 * @property {Array<{delegation_id: string, delegation: string, country_code: string,
 *   interventions: number, speaking_time: number}>} totals
 */

/** Events after which the minutes change in a way the panel shows. */
const FLOOR_CHANGES = new Set(['floor.granted', 'floor.released', 'floor.revoked', 'floor.time_changed', 'floor.overtime',
  'floor.paused', 'floor.resumed']);

/** Why the core ended a floor by itself (SystemReason), in words. */
const SYSTEM_ENDINGS = /** @type {Record<string, import('../../i18n.js').StringKey>} */ ({
  time_limit: 'minutes.timeUp',
  delegation_absent: 'minutes.absent',
  conference_closed: 'minutes.sessionClosed',
});

/**
 * How a revoked intervention ended, saying truthfully who ended it.
 * @param {{end_reason: string | null, ended_by: string | null}} i
 * @returns {string}
 */
function revokedText(i) {
  const reason = i.end_reason ? SYSTEM_ENDINGS[i.end_reason] : undefined;
  if (reason) return t(reason);
  return i.ended_by ? t('minutes.revokedBy', {name: i.ended_by}) : t('minutes.revokedSystem');
}

/**
 * The minutes URL for a conference and a chair or technician token.
 * @param {string} conferenceId
 * @param {string} token
 * @param {'json' | 'csv' | 'md' | 'html'} format
 */
export function minutesUrl(conferenceId, token, format) {
  return `/c/${encodeURIComponent(conferenceId)}/minutes?t=${encodeURIComponent(token)}&format=${format}&lang=${lang()}`;
}

export class MinutesPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {MinutesData | null} */ this._data = null;
    /** @private */ this._fetchedAt = 0;
    /** @private */ this._failed = false;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'minutes-heading'});
    /** @private */ this._caption = h('caption', {class: 'visually-hidden'});
    /** @private */ this._headDelegation = h('th', {scope: 'col'});
    /** @private */ this._headCount = h('th', {scope: 'col', class: 'num'});
    /** @private */ this._headTime = h('th', {scope: 'col', class: 'num'});
    /** @private */ this._rows = h('tbody', {id: 'minutes-totals'});
    /** @private */ this._table = h('table', {class: 'table minutes-table'}, this._caption,
      h('thead', {}, h('tr', {}, this._headDelegation, this._headCount, this._headTime)), this._rows);
    /** @private */ this._listHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._list = h('ol', {class: 'interventions', id: 'minutes-interventions'});
    /** @private */ this._status = h('p', {class: 'empty'});
    /** @private */ this._md = h('a', {class: 'link', href: minutesUrl(ctx.conferenceId, ctx.token, 'md'),
      download: 'acta.md'}, icon('download'), h('span'));
    /** @private */ this._csv = h('a', {class: 'link', href: minutesUrl(ctx.conferenceId, ctx.token, 'csv'),
      download: 'acta.csv'}, icon('download'), h('span'));
    // The printable page opens in a tab of its own (print it for the PDF).
    /** @private */ this._html = h('a', {class: 'link', href: minutesUrl(ctx.conferenceId, ctx.token, 'html'),
      target: '_blank', rel: 'noopener noreferrer', dataset: {format: 'html'}}, icon('download'), h('span'));
    this.element = h('section', {class: 'panel minutes-panel', id: 'minutes-panel', attrs: {'aria-labelledby': 'minutes-heading'}},
      this._heading, this._table, this._status, this._listHeading, this._list,
      h('p', {class: 'downloads'}, this._md, this._csv, this._html));
    /** @private */ this._tick = setInterval(() => this.render(), 1000);
    this.retranslate();
    void this.refresh();
  }

  /** @param {RoomUpdate} update */
  update(update) {
    if (update.events.some((e) => FLOOR_CHANGES.has(e.type))) void this.refresh();
  }

  async refresh() {
    try {
      const response = await fetch(minutesUrl(this._ctx.conferenceId, this._ctx.token, 'json'), {cache: 'no-store'});
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this._data = await response.json();
      this._fetchedAt = Date.now() / 1000;
      this._failed = false;
    } catch (e) {
      console.warn('minutes unavailable', e);
      this._failed = true;
    }
    this.render();
  }

  retranslate() {
    // The downloads come in the language of the page.
    this._md.setAttribute('href', minutesUrl(this._ctx.conferenceId, this._ctx.token, 'md'));
    this._csv.setAttribute('href', minutesUrl(this._ctx.conferenceId, this._ctx.token, 'csv'));
    this._html.setAttribute('href', minutesUrl(this._ctx.conferenceId, this._ctx.token, 'html'));
    setText(this._heading, t('minutes.title'));
    setText(this._caption, t('minutes.caption'));
    setText(this._headDelegation, t('minutes.delegation'));
    setText(this._headCount, t('minutes.count'));
    setText(this._headTime, t('minutes.time'));
    setText(this._listHeading, t('minutes.interventions'));
    setText(/** @type {HTMLElement} */ (this._md.lastElementChild), t('minutes.downloadMd'));
    setText(/** @type {HTMLElement} */ (this._csv.lastElementChild), t('minutes.downloadCsv'));
    setText(/** @type {HTMLElement} */ (this._html.lastElementChild), t('minutes.printable'));
    this.render();
  }

  render() {
    const data = this._data;
    const now = Date.now() / 1000;
    /** Seconds spoken in a running intervention (not while its holder is disconnected). */
    const live = (/** @type {{end: number | null, duration: number | null, start: number, disconnected_since?: number | null}} */ i) => {
      if (i.end !== null) return i.duration ?? 0;
      const fetched = i.duration ?? Math.max(0, this._fetchedAt - i.start);
      return typeof i.disconnected_since === 'number' ? fetched : fetched + (now - this._fetchedAt);
    };
    this._table.hidden = !data;
    this._status.hidden = Boolean(data) && !this._failed;
    setText(this._status, this._failed ? t('minutes.unavailable') : t('minutes.loading'));
    if (!data) return;
    const totals = data.totals.map((total) => ({
      ...total,
      speaking_time: data.interventions.filter((i) => i.delegation_id === total.delegation_id)
        .reduce((sum, i) => sum + live(i), 0),
    }));
    keyedList(this._rows, totals, (x) => x.delegation_id,
      () => h('tr', {}, h('th', {scope: 'row'}, badge(null), h('span')), h('td', {class: 'num'}), h('td', {class: 'num'})),
      (tr, x) => {
        const [who, count, time] = /** @type {HTMLElement[]} */ ([...tr.children]);
        updateBadge(/** @type {HTMLElement} */ (who.firstElementChild), {id: x.delegation_id, name: x.delegation, code: x.country_code});
        setText(/** @type {HTMLElement} */ (who.lastElementChild), x.delegation);
        setText(count, num(x.interventions));
        setText(time, clock(x.speaking_time));
        tr.dataset.delegationId = x.delegation_id;
        tr.dataset.seconds = String(Math.round(x.speaking_time));
      });
    // Oldest first, as in the downloaded minutes: the latest few.
    const recent = data.interventions.slice(-8);
    keyedList(this._list, recent, (i) => i.request_id, () => h('li', {class: 'intervention'}),
      (li, i) => {
        const ending = i.ended === null ? t('minutes.speaking')
          : i.ended === 'released' ? t('minutes.released') : revokedText(i);
        setText(li, `${timeOfDay(i.start)} · ${i.delegation} · ${clock(live(i))} · ${ending}${i.overtime ? ` · ${t('minutes.overtime')}` : ''}`);
        li.dataset.running = String(i.end === null);
      });
    setAttr(this._list, 'aria-label', t('minutes.interventions'));
    this._listHeading.hidden = recent.length === 0;
  }

  destroy() {
    clearInterval(this._tick);
  }
}
