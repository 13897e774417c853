// The technician dashboard: every stream of the conference, live, from the
// monitoring feed (`monitor.stats` about every second, `monitor.alert` as
// alerts change), with the alerts on top and the actions at hand.

import {h, setAttr, setText} from '../dom.js';
import {num, t} from '../i18n.js';
import {MediaControls} from '../widgets/media-controls.js';
import {AlertsPanel} from './technician/alerts.js';
import {ChecksPanel} from './technician/checks.js';
import {classifyPath, rawPath} from './technician/paths.js';
import {StreamTable} from './technician/streams.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../conference.js').View} View */
/** @typedef {import('../protocol.js').MonitorStats} MonitorStats */
/** @typedef {import('../protocol.js').MonitorAlert} MonitorAlert */

/** Seconds without `monitor.stats` after which the figures are called stale. */
const STALE_AFTER = 5;

/**
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function createTechnicianView(ctx) {
  const conn = ctx.conn;
  const alerts = new AlertsPanel(ctx);
  const table = new StreamTable(ctx);
  const checks = new ChecksPanel(ctx, (reports) => {
    table.reports = reports;
    table.render();
    render();
  });
  /** @type {MonitorStats | null} */
  let latest = null;
  let receivedAt = 0;

  /** @param {string} id */
  const figure = (id) => {
    const value = h('span', {class: 'figure-value', id: `figure-${id}`});
    const label = h('span', {class: 'figure-label'});
    return {value, label, element: h('div', {class: 'figure'}, value, label)};
  };
  const figures = {
    publishers: figure('publishers'),
    streams: figure('streams'),
    bitrate: figure('bitrate'),
    alerts: figure('alerts'),
    relayed: figure('relayed'),
  };
  const freshness = h('p', {class: 'freshness', id: 'freshness', attrs: {role: 'status'}});
  const summaryHeading = h('h2', {class: 'visually-hidden', id: 'summary-heading'});
  const summary = h('section', {class: 'summary', attrs: {'aria-labelledby': 'summary-heading'}},
    summaryHeading, ...Object.values(figures).map((f) => f.element), freshness);
  const streamsHeading = h('h2', {class: 'panel-title', id: 'streams-heading'});
  const waiting = h('p', {class: 'empty', id: 'streams-waiting'});
  // Who is on the relay: the participants to ask their IT for direct UDP.
  const relayOnly = h('input', {type: 'checkbox', id: 'relay-only', on: {change: () => {
    table.table.classList.toggle('relay-only', relayOnly.checked);
  }}});
  const relayOnlyLabel = h('label', {htmlFor: 'relay-only'});
  const streamsPanel = h('section', {class: 'panel streams-panel', attrs: {'aria-labelledby': 'streams-heading'}},
    h('div', {class: 'panel-head'}, streamsHeading, h('div', {class: 'switch'}, relayOnly, relayOnlyLabel), table.toolbar),
    waiting, table.element);
  const controls = new MediaControls({local: ctx.local, remote: ctx.remote, leave: ctx.leave, publishing: false});
  const element = h('section', {class: 'dashboard technician-view'},
    h('div', {class: 'dashboard-body'}, alerts.element, summary, streamsPanel, checks.element), controls.element);

  const onStats = (/** @type {Event} */ e) => {
    latest = /** @type {CustomEvent<MonitorStats>} */ (e).detail;
    receivedAt = Date.now();
    alerts.replace(latest.alerts);
    table.update(latest.streams, [...alerts.raised.values()], latest.channels);
    render();
  };
  const onAlert = (/** @type {Event} */ e) => {
    const {alert, state} = /** @type {CustomEvent<MonitorAlert>} */ (e).detail;
    alerts.change(alert, state);
    if (latest) table.update(latest.streams, [...alerts.raised.values()]);
    render();
  };
  conn.addEventListener('monitorstats', onStats);
  conn.addEventListener('monitoralert', onAlert);
  const tick = setInterval(() => renderFreshness(), 1000);

  function renderFreshness() {
    const age = receivedAt ? (Date.now() - receivedAt) / 1000 : null;
    const stale = age === null || age > STALE_AFTER;
    freshness.dataset.state = latest === null ? 'waiting' : stale ? 'stale' : 'live';
    setText(freshness, latest === null ? t('tech.waiting')
      : stale ? t('tech.stale', {seconds: Math.round(/** @type {number} */ (age))}) : t('tech.live'));
  }

  function render() {
    const streams = latest?.streams ?? [];
    const inbound = streams.filter((s) => s.direction === 'in');
    setText(figures.publishers.value, num(new Set(inbound.map((s) => s.participant_id)).size));
    setText(figures.streams.value, num(streams.length));
    const kbps = inbound.reduce((sum, s) => sum + s.bitrate_kbps, 0);
    setText(figures.bitrate.value, kbps >= 1000 ? `${num(kbps / 1000, 2)} Mb/s` : `${num(kbps)} kb/s`);
    setText(figures.alerts.value, num(alerts.raised.size));
    figures.alerts.element.classList.toggle('raised', alerts.raised.size > 0);
    const participants = new Set(streams.flatMap((s) => [s.participant_id, s.subscriber_id ?? s.participant_id]));
    const relayed = [...participants].filter((id) =>
      classifyPath(rawPath(streams, id), checks.reports.get(id)).kind === 'relay').length;
    setText(figures.relayed.value, num(relayed));
    waiting.hidden = latest !== null;
    table.element.hidden = latest === null;
    renderFreshness();
  }

  function retranslate() {
    setText(summaryHeading, t('tech.summary'));
    setText(figures.publishers.label, t('tech.publishers'));
    setText(figures.streams.label, t('tech.streamCount'));
    setText(figures.bitrate.label, t('tech.inbound'));
    setText(figures.alerts.label, t('tech.alerts'));
    setText(figures.relayed.label, t('tech.relayed'));
    setText(relayOnlyLabel, t('tech.relayOnly'));
    setText(streamsHeading, t('tech.streams'));
    setText(waiting, t('tech.waiting'));
    setAttr(table.table, 'aria-describedby', 'freshness');
    render();
  }
  retranslate();

  return {
    name: 'technician',
    element,
    update() {
      // Names and mutes come from the room state: redraw with them.
      table.render();
      alerts.render();
      checks.render();
    },
    retranslate() {
      alerts.retranslate();
      checks.retranslate();
      table.retranslate();
      controls.retranslate();
      retranslate();
    },
    destroy() {
      conn.removeEventListener('monitorstats', onStats);
      conn.removeEventListener('monitoralert', onAlert);
      clearInterval(tick);
      alerts.destroy();
      checks.destroy();
      controls.destroy();
      element.remove();
    },
  };
}
