// The technician's stream table: one row group per publisher, one row per
// stream (in: publisher -> server; out: server -> each subscriber) with its
// live figures and a bitrate chart; out-of-range figures stand out. Last, a
// group of the interpretation channels: one row per open channel, the stream
// its listeners receive whoever is on air.

import {busy, h, keyedList, setAttr, setText} from '../../dom.js';
import {num, t} from '../../i18n.js';
import {badge, updateBadge} from '../../widgets/badge.js';
import {confirmAction} from '../../widgets/confirm.js';
import {icon} from '../../widgets/icons.js';
import {languageName} from '../../widgets/language-menu.js';
import {Sparkline} from '../../widgets/sparkline.js';
import {classifyPath, pathBadge, rawPath, updatePathBadge} from './paths.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').StreamStats} StreamStats */
/** @typedef {import('../../protocol.js').Alert} Alert */
/** @typedef {import('../../protocol.js').ChannelStats} ChannelStats */

/** The key of the channels' row group (participant ids never take this form). */
const CHANNELS = 'channels:';
/** @typedef {import('./paths.js').CheckReport} CheckReport */

/** Limits above which a figure is shown as a warning, then as bad. */
export const LIMITS = {
  loss: [0.01, 0.05],
  jitter_ms: [30, 60],
  rtt_ms: [150, 300],
};

/**
 * @param {number | null} value
 * @param {number[]} limits
 * @returns {'ok' | 'warn' | 'bad' | ''}
 */
export function grade(value, [warn, bad]) {
  if (value === null || !Number.isFinite(value)) return '';
  return value > bad ? 'bad' : value > warn ? 'warn' : 'ok';
}

/**
 * Simulcast, after the codec: the layer a subscriber receives (and the one
 * it is switching to), or how many layers the publisher sends; and the VP8
 * temporal layers it is sent when not every frame (a thumbnail at half rate).
 * @param {StreamStats} s
 * @returns {string}
 */
export function layerText(s) {
  const name = (/** @type {number} */ n) => t(/** @type {any} */ (`tech.layer.${Math.min(n, 2)}`));
  const temporal = typeof s.temporal === 'number' ? ` · ${t('tech.temporal', {tid: s.temporal})}` : '';
  if (typeof s.layer === 'number') {
    const target = typeof s.target_layer === 'number' && s.target_layer !== s.layer
      ? ` → ${name(s.target_layer)}` : '';
    return ` · ${name(s.layer)}${target}${temporal}`;
  }
  if (temporal) return temporal;
  if (Array.isArray(s.layers) && s.layers.length) {
    const active = s.layers.filter((x) => x.active).length;
    const paused = s.layers.filter((x) => x.paused).length;
    const total = s.layers.length;
    return ` · ${paused ? t('tech.layersPaused', {active, total, paused}) : t('tech.layers', {active, total})}`;
  }
  return '';
}

/**
 * How a stream's losses are repaired: the video packets its publisher
 * retransmitted and those given up (in video), the audio packets rebuilt from
 * RED and the RED packets that did not parse (in audio), the packets resent to
 * a subscriber that asked for them and those the server no longer had (out).
 * `done` counts repairs, `failed` what stayed lost (`severity` when it grows:
 * a miss out may still be repaired by the publisher's retransmission, which
 * every subscriber is sent); null: nothing to show.
 * @param {StreamStats} s
 * @returns {{text: string, title: string, done: number, failed: number, severity: 'bad' | 'warn'} | null}
 */
export function repairs(s) {
  if (s.direction === 'out') {
    if (typeof s.retransmitted !== 'number') return null;
    const missed = s.retransmit_misses ?? 0;
    return {text: t('tech.repairs.rtx', {sent: num(s.retransmitted), asked: num(s.nacks), missed: num(missed)}),
      title: t('tech.repairs.rtxTitle'), done: s.retransmitted, failed: missed, severity: 'warn'};
  }
  if (s.kind === 'audio') {
    if (typeof s.red_packets !== 'number' || s.red_packets === 0) return null;
    const recovered = s.red_recovered ?? 0, malformed = s.red_malformed ?? 0;
    return {text: t('tech.repairs.red', {recovered: num(recovered), malformed: num(malformed)}),
      title: t('tech.repairs.redTitle'), done: recovered, failed: malformed, severity: 'bad'};
  }
  if (typeof s.repairs !== 'number') return null;
  const lost = s.unrepaired ?? 0;
  return {text: t('tech.repairs.nack', {repaired: num(s.repairs), lost: num(lost)}),
    title: t('tech.repairs.nackTitle'), done: s.repairs, failed: lost, severity: 'bad'};
}

/** The columns after the publisher: key, header string key, numeric. */
const COLUMNS = /** @type {const} */ ([
  ['kind', 'tech.col.kind', false],
  ['direction', 'tech.col.direction', false],
  ['codec', 'tech.col.codec', false],
  ['bitrate', 'tech.col.bitrate', true],
  ['loss', 'tech.col.loss', true],
  ['jitter', 'tech.col.jitter', true],
  ['rtt', 'tech.col.rtt', true],
  ['fps', 'tech.col.fps', true],
  ['keyframes', 'tech.col.keyframes', true],
  ['plis', 'tech.col.plis', true],
  ['nacks', 'tech.col.nacks', true],
  ['repairs', 'tech.col.repairs', true],
  ['state', 'tech.col.state', false],
  ['actions', 'tech.col.actions', false],
]);

export class StreamTable {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {Map<string, Sparkline>} */ this._charts = new Map();
    /** @private @type {StreamStats[]} */ this._streams = [];
    /** @private @type {ChannelStats[]} */ this._channels = [];
    /** @private @type {Alert[]} */ this._alerts = [];
    /** Each stream's repair counts at the last update, and their grade. @private @type {Map<string, {done: number, failed: number, grade: string}>} */
    this._repairs = new Map();
    /** Each participant's latest connectivity check. @type {Map<string, CheckReport>} */
    this.reports = new Map();
    /** @private */ this._caption = h('caption', {class: 'visually-hidden'});
    /** @private */ this._head = h('tr', {}, h('th', {scope: 'col'}),
      ...COLUMNS.map(([key, , numeric]) => h('th', {scope: 'col', class: numeric ? 'num' : '', dataset: {col: key}})));
    /** @private */ this._showOut = h('input', {type: 'checkbox', id: 'show-out', checked: true,
      on: {change: () => this.render()}});
    /** @private */ this._showOutLabel = h('label', {htmlFor: 'show-out'});
    /** @private */ this._thead = h('thead', {}, this._head);
    this.table = h('table', {class: 'table streams-table', id: 'streams-table'}, this._caption, this._thead);
    this.toolbar = h('div', {class: 'switch'}, this._showOut, this._showOutLabel);
    this.element = h('div', {class: 'table-scroll'}, this.table);
    this.retranslate();
  }

  /**
   * @param {StreamStats[]} streams
   * @param {Alert[]} alerts
   * @param {ChannelStats[]} [channels]
   */
  update(streams, alerts, channels = this._channels) {
    this._streams = streams;
    this._alerts = alerts;
    this._channels = channels;
    for (const s of [...streams, ...channels]) {
      let chart = this._charts.get(s.id);
      if (!chart) {
        chart = new Sparkline({width: 72, height: 22});
        this._charts.set(s.id, chart);
      }
      chart.push(s.bitrate_kbps);
    }
    // Repairs: ok while repairs keep up, bad (or warn) while losses stay unrepaired.
    for (const s of streams) {
      const r = repairs(s);
      if (!r) continue;
      const before = this._repairs.get(s.id);
      const grade = !before ? '' : r.failed > before.failed ? r.severity : r.done > before.done ? 'ok' : '';
      this._repairs.set(s.id, {done: r.done, failed: r.failed, grade});
    }
    const live = new Set([...streams, ...channels].map((s) => s.id));
    for (const id of this._charts.keys()) if (!live.has(id)) this._charts.delete(id);
    for (const id of this._repairs.keys()) if (!live.has(id)) this._repairs.delete(id);
    this.render();
  }

  retranslate() {
    setText(this._caption, t('tech.streams'));
    const [first, ...rest] = /** @type {HTMLElement[]} */ ([...this._head.children]);
    setText(first, t('tech.col.publisher'));
    rest.forEach((th, i) => setText(th, t(COLUMNS[i][1])));
    setText(this._showOutLabel, t('tech.showOut'));
    this.render();
  }

  render() {
    const people = this._ctx.people;
    const showOut = this._showOut.checked;
    /** @type {Map<string, StreamStats[]>} */
    const byPublisher = new Map();
    for (const s of this._streams) {
      if (s.direction === 'out' && !showOut) continue;
      const list = byPublisher.get(s.participant_id) ?? [];
      list.push(s);
      byPublisher.set(s.participant_id, list);
    }
    const rank = (/** @type {StreamStats} */ s) => (s.direction === 'in' ? 0 : 2) + (s.kind === 'video' ? 0 : 1);
    const groups = [...byPublisher.entries()].map(([id, streams]) => ({
      id,
      person: people.person(id),
      streams: streams.sort((a, b) => rank(a) - rank(b) ||
        people.name(a.subscriber_id ?? '').localeCompare(people.name(b.subscriber_id ?? ''))),
    })).sort((a, b) => a.person.name.localeCompare(b.person.name));

    const keys = [...groups.map((g) => g.id), ...(this._channels.length ? [CHANNELS] : [])];
    // The caption and thead stay first: only the tbodies are keyed.
    const bodies = keyedList(this.table, keys, (id) => id,
      (id) => (id === CHANNELS ? this._channelGroup() : this._group(id)), () => {}, this._thead);
    for (const g of groups) {
      const body = /** @type {HTMLElement} */ (bodies.get(g.id));
      const header = /** @type {HTMLElement} */ (body.firstElementChild);
      this._fillGroup(header, g.person, g.streams);
      keyedList(body, g.streams, (s) => s.id, (s) => this._row(s), (tr, s) => this._fill(tr, s), header);
    }
    const channels = bodies.get(CHANNELS);
    if (channels) {
      const header = /** @type {HTMLElement} */ (channels.firstElementChild);
      setText(/** @type {HTMLElement} */ (header.querySelector('.name')), t('tech.channels'));
      const sorted = [...this._channels].sort((a, b) => a.language.localeCompare(b.language));
      channels.classList.toggle('alarm', sorted.some((c) => this._channelAlert(c)));
      keyedList(channels, sorted, (c) => c.id, (c) => this._channelRow(c), (tr, c) => this._fillChannel(tr, c), header);
    }
  }

  /** @private */
  _channelGroup() {
    const header = h('tr', {class: 'group'},
      h('th', {scope: 'rowgroup', colSpan: COLUMNS.length + 1},
        h('div', {class: 'group-head'}, icon('mic'), h('span', {class: 'name'}))));
    return h('tbody', {dataset: {group: 'channels'}}, header);
  }

  /**
   * @private
   * @param {ChannelStats} c
   */
  _channelRow(c) {
    const cells = COLUMNS.map(([key, , numeric]) => h('td', {class: numeric ? 'num' : '', dataset: {col: key}}));
    cells[3].append(h('span', {class: 'value'}), this._charts.get(c.id)?.element ?? '');
    return h('tr', {class: 'stream channel', dataset: {streamId: c.id, kind: 'audio', direction: 'channel',
      channel: c.language}}, h('td', {class: 'indent', attrs: {'aria-hidden': 'true'}}), ...cells);
  }

  /**
   * A channel's row: its language, who is on air and how many receive it, its
   * bitrate, and whether it is silent; figures it has no meaning for are "—".
   * @private
   * @param {HTMLElement} tr
   * @param {ChannelStats} c
   */
  _fillChannel(tr, c) {
    const [, kind, direction, codec, bitrate, ...rest] = /** @type {HTMLElement[]} */ ([...tr.children]);
    const state = rest[rest.length - 2];
    setText(kind, t('tech.channel', {language: languageName(c.language)}));
    const onAir = c.interpreter_id ? this._ctx.people.name(c.interpreter_id) : t('interp.silent');
    setText(direction, t('tech.channelFlow', {name: onAir, count: num(c.listeners)}));
    setAttr(direction, 'title', direction.textContent ?? '');
    setText(codec, 'opus');
    setText(/** @type {HTMLElement} */ (bitrate.querySelector('.value')), num(c.bitrate_kbps));
    for (const cell of rest.slice(0, -2)) setText(cell, '—');
    tr.dataset.bitrate = String(c.bitrate_kbps);
    tr.dataset.listeners = String(c.listeners);
    tr.dataset.interpreterId = c.interpreter_id ?? '';
    const alert = this._channelAlert(c);
    /** @type {'alert' | 'silent' | 'ok'} */
    const status = alert ? 'alert' : c.silent ? 'silent' : 'ok';
    tr.dataset.status = status;
    bitrate.dataset.grade = status === 'ok' ? '' : 'bad';
    this._charts.get(c.id)?.setAlarm(status !== 'ok');
    setText(state, alert ? t('alert.kind.channel_silent') : t(`tech.status.${status}`));
    state.dataset.status = status === 'silent' ? 'stalled' : status;
  }

  /**
   * @private
   * @param {ChannelStats} c
   */
  _channelAlert(c) {
    return this._alerts.find((a) => a.kind === 'channel_silent' && a.id === c.id);
  }

  /**
   * @private
   * @param {string} participantId
   */
  _group(participantId) {
    const ctx = this._ctx;
    const mute = h('button', {class: 'button small', type: 'button', dataset: {action: 'mute'}}, icon('micOff'), h('span'));
    mute.addEventListener('click', () => void busy(mute, async () => {
      const p = ctx.conn.room?.participants.find((x) => x.participant_id === participantId);
      await ctx.act(p?.muted ? 'participant.unmute' : 'participant.mute', {participant_id: participantId});
    }));
    const disconnect = h('button', {class: 'button small danger', type: 'button', dataset: {action: 'disconnect'}},
      icon('power'), h('span'));
    disconnect.addEventListener('click', () => void busy(disconnect, async () => {
      const name = ctx.people.name(participantId);
      const ok = await confirmAction({
        title: t('tech.disconnectTitle'), text: t('tech.disconnectText', {name}), confirm: t('tech.disconnect'),
      });
      if (ok) await ctx.act('participant.disconnect', {participant_id: participantId});
    }));
    const header = h('tr', {class: 'group'},
      h('th', {scope: 'rowgroup', colSpan: COLUMNS.length + 1},
        h('div', {class: 'group-head'}, badge(null), h('span', {class: 'name'}), pathBadge(), h('span', {class: 'meta'}),
          h('span', {class: 'group-actions'}, mute, disconnect))));
    return h('tbody', {dataset: {participantId}}, header);
  }

  /**
   * @private
   * @param {HTMLElement} header
   * @param {import('../../people.js').Person} person
   * @param {StreamStats[]} streams
   */
  _fillGroup(header, person, streams) {
    updateBadge(/** @type {HTMLElement} */ (header.querySelector('.badge')), person.delegation);
    setText(/** @type {HTMLElement} */ (header.querySelector('.name')), person.name);
    const role = t(/** @type {any} */ (`role.${person.role}`));
    setText(/** @type {HTMLElement} */ (header.querySelector('.meta')),
      person.delegation ? `${person.delegation.name} · ${role}` : role);
    const room = this._ctx.conn.room?.participants.find((x) => x.participant_id === person.id);
    const mute = /** @type {HTMLElement} */ (header.querySelector('[data-action="mute"]'));
    setText(/** @type {HTMLElement} */ (mute.lastElementChild), room?.muted ? t('tech.unmute') : t('tech.mute'));
    setAttr(mute, 'aria-label', room?.muted ? t('room.unmuteName', {name: person.name}) : t('room.muteName', {name: person.name}));
    mute.hidden = person.role === 'chair' || !room;
    const disconnect = /** @type {HTMLElement} */ (header.querySelector('[data-action="disconnect"]'));
    setText(/** @type {HTMLElement} */ (disconnect.lastElementChild), t('tech.disconnect'));
    setAttr(disconnect, 'aria-label', t('tech.disconnectName', {name: person.name}));
    disconnect.hidden = person.role === 'chair';
    const body = /** @type {HTMLElement} */ (header.parentElement);
    body.classList.toggle('alarm', streams.some((s) => this._alertFor(s)));
    const report = this.reports.get(person.id);
    const path = classifyPath(rawPath(this._streams, person.id), report);
    updatePathBadge(/** @type {HTMLElement} */ (header.querySelector('.path-badge')), path, report);
    body.dataset.path = path.kind;
  }

  /**
   * @private
   * @param {StreamStats} s
   * @returns {HTMLElement}
   */
  _row(s) {
    const cells = COLUMNS.map(([key, , numeric]) => h('td', {class: numeric ? 'num' : '', dataset: {col: key}}));
    const chart = this._charts.get(s.id);
    const bitrate = cells[3];
    bitrate.append(h('span', {class: 'value'}), chart?.element ?? '');
    if (s.kind === 'video' && s.direction === 'in') {
      const keyframe = h('button', {class: 'icon-button', type: 'button', dataset: {action: 'keyframe'}}, icon('refresh'));
      keyframe.addEventListener('click', () => void busy(keyframe, async () => {
        if (await this._ctx.act('producer.keyframe', {producer_id: s.producer_id})) this._ctx.toast(t('tech.keyframeSent'));
      }));
      cells[COLUMNS.findIndex(([key]) => key === 'actions')].append(keyframe);
    }
    return h('tr', {class: 'stream', dataset: {streamId: s.id, kind: s.kind, direction: s.direction,
      producerId: s.producer_id, subscriberId: s.subscriber_id ?? ''}},
    h('td', {class: 'indent', attrs: {'aria-hidden': 'true'}}), ...cells);
  }

  /**
   * @private
   * @param {HTMLElement} tr
   * @param {StreamStats} s
   */
  _fill(tr, s) {
    const [, kind, direction, codec, bitrate, loss, jitter, rtt, fps, keyframes, plis, nacks, repaired, state, actions] =
      /** @type {HTMLElement[]} */ ([...tr.children]);
    setText(kind, t(s.source === 'screen' ? 'tech.screen' : s.kind === 'video' ? 'tech.video' : 'tech.audio'));
    setText(direction, s.direction === 'in' ? t('tech.in')
      : t('tech.out', {name: this._ctx.people.name(s.subscriber_id ?? '')}));
    setText(codec, s.codec + layerText(s));
    if (typeof s.layer === 'number') tr.dataset.layer = String(s.layer);
    if (typeof s.target_layer === 'number') tr.dataset.targetLayer = String(s.target_layer);
    setText(/** @type {HTMLElement} */ (bitrate.querySelector('.value')), num(s.bitrate_kbps));
    tr.dataset.bitrate = String(s.bitrate_kbps);
    tr.dataset.keyframes = String(s.keyframes);
    /** @type {Array<[HTMLElement, number | null, string, number[] | null]>} */
    const figures = [
      [loss, s.loss, `${num(s.loss * 100, 1)} %`, LIMITS.loss],
      [jitter, s.jitter_ms, num(s.jitter_ms), LIMITS.jitter_ms],
      [rtt, s.rtt_ms, s.rtt_ms === null ? '—' : num(s.rtt_ms), LIMITS.rtt_ms],
      [fps, s.kind === 'video' ? s.fps : null, s.kind === 'video' ? num(s.fps) : '—', null],
      [keyframes, s.keyframes, s.kind === 'video' ? num(s.keyframes) : '—', null],
      [plis, s.plis, num(s.plis), null],
      [nacks, s.nacks, num(s.nacks), null],
    ];
    for (const [cell, value, text, limits] of figures) {
      setText(cell, text);
      cell.dataset.grade = limits ? grade(value, limits) : '';
    }
    const r = repairs(s);
    // Nothing lost, asked for or repaired: a plain 0, the explanation in the tooltip.
    const quiet = r && r.done === 0 && r.failed === 0 && (s.direction === 'in' || s.nacks === 0);
    setText(repaired, r ? (quiet ? num(0) : r.text) : '—');
    setAttr(repaired, 'title', r ? r.title : null);
    repaired.dataset.grade = r ? this._repairs.get(s.id)?.grade ?? '' : '';
    tr.dataset.repaired = r ? String(r.done) : '';
    tr.dataset.unrepaired = r ? String(r.failed) : '';
    const alert = this._alertFor(s);
    const paused = s.paused;
    const stalled = !paused && s.bitrate_kbps <= 0;
    const frozen = s.kind === 'video' && !paused && s.direction === 'in' && s.fps < 1;
    const held = s.held ?? null;  // held for this subscriber: its downlink, last-N
    /** @type {'alert' | 'paused' | 'held' | 'stalled' | 'ok'} */
    const status = alert ? 'alert' : paused ? 'paused' : held ? 'held' : stalled || frozen ? 'stalled' : 'ok';
    tr.dataset.status = status;
    fps.dataset.grade = s.kind === 'video' && !paused ? (s.fps < 1 ? 'bad' : s.fps < 10 ? 'warn' : 'ok') : '';
    bitrate.dataset.grade = stalled ? 'bad' : '';
    this._charts.get(s.id)?.setAlarm(status === 'alert' || status === 'stalled');
    const estimate = s.estimate_kbps ?? null;
    const heldText = held
      ? t(held === 'last_n' ? 'tech.held.lastN' : 'tech.held.bandwidth', {kbps: num(estimate ?? 0)})
      : '';
    setText(state, alert ? t(/** @type {any} */ (`alert.kind.${alert.kind}`))
      : held ? heldText : t(/** @type {any} */ (`tech.status.${status}`)));
    setAttr(state, 'title', estimate !== null ? t('tech.downlink', {kbps: num(estimate)}) : null);
    state.dataset.status = status;
    const keyframe = actions.querySelector('[data-action="keyframe"]');
    if (keyframe) {
      setAttr(keyframe, 'aria-label', t('tech.keyframeFor', {name: this._ctx.people.name(s.participant_id)}));
      setAttr(keyframe, 'title', t('tech.keyframeFor', {name: this._ctx.people.name(s.participant_id)}));
    }
  }

  /**
   * The raised alert about this stream, if any.
   * @private
   * @param {StreamStats} s
   */
  _alertFor(s) {
    return this._alerts.find((a) => a.producer_id === s.producer_id &&
      (s.direction === 'in' ? a.subscriber_id === null : a.subscriber_id === s.subscriber_id));
  }
}
