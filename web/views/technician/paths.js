// How each participant's connection reaches the server, as a compact badge:
// direct (host), NAT (srflx/prflx) or relay (TURN) with the transport the
// participant uses to reach the relay. The server sees only its own leg
// (always UDP from the relay), so that transport comes from the
// participant's connectivity check report when there is one.

import {h, setAttr, setText} from '../../dom.js';
import {t, timeOfDay} from '../../i18n.js';

/** @typedef {import('../../protocol.js').StreamStats} StreamStats */

/**
 * A check report as `/check/reports` returns it.
 * @typedef {object} CheckReport
 * @property {string} participant_id
 * @property {string} name
 * @property {string | null} delegation
 * @property {number} at                        unix seconds (server clock)
 * @property {Record<string, string>} steps      step -> green | amber | red | running
 * @property {Record<string, string>} [details]  step -> measured detail
 * @property {Record<string, string>} [advice]   step -> string key of the advice shown
 */

/**
 * @typedef {object} PathView
 * @property {'direct' | 'nat' | 'relay' | 'unknown'} kind
 * @property {'udp' | 'tls' | ''} transport  to the relay, when a report says it
 * @property {string} raw                     the feed's value, e.g. "relay udp"
 */

/**
 * The path of one participant's connection: its inbound streams' (it
 * publishes), else the outbound ones it receives.
 * @param {StreamStats[]} streams
 * @param {string} participantId
 * @returns {string}
 */
export function rawPath(streams, participantId) {
  const own = streams.find((s) => s.direction === 'in' && s.participant_id === participantId && s.path)
    ?? streams.find((s) => s.direction === 'out' && s.subscriber_id === participantId && s.path);
  return own?.path ?? '';
}

/**
 * @param {string} raw            "<candidate type> <transport>" from the feed, or ''
 * @param {CheckReport | undefined} report  the participant's latest check
 * @returns {PathView}
 */
export function classifyPath(raw, report) {
  const [type = ''] = raw.split(' ');
  const steps = report?.steps ?? {};
  const relayed = steps.turnUdp === 'green' || steps.turnTls === 'green';
  // A peer-reflexive address is a relay when the check proved that direct
  // UDP cannot leave the participant's network.
  const prflxRelay = type === 'prflx' && report !== undefined && steps.udp !== 'green' && relayed;
  /** @type {PathView['kind']} */
  const kind = type === 'host' ? 'direct'
    : type === 'relay' || prflxRelay ? 'relay'
    : type === 'srflx' || type === 'prflx' ? 'nat' : 'unknown';
  // Browsers prefer a UDP relay to a TLS one: TLS only when UDP failed.
  /** @type {PathView['transport']} */
  const transport = kind !== 'relay' || !report ? ''
    : steps.turnUdp === 'green' ? 'udp' : steps.turnTls === 'green' ? 'tls' : '';
  return {kind, transport, raw};
}

/** @returns {HTMLElement} */
export function pathBadge() {
  return h('span', {class: 'path-badge', dataset: {path: 'unknown'}});
}

/**
 * @param {HTMLElement} el
 * @param {PathView} view
 * @param {CheckReport | undefined} report
 */
export function updatePathBadge(el, view, report) {
  el.dataset.path = view.kind;
  el.dataset.transport = view.transport;
  const label = view.kind === 'relay' && view.transport
    ? t('tech.path.relayOver', {transport: view.transport.toUpperCase()})
    : t(`tech.path.${view.kind}`);
  setText(el, label);
  const lines = [t('tech.path.raw', {path: view.raw || '—'})];
  if (view.kind === 'relay') {
    lines.push(report ? t('tech.path.fromCheck', {time: timeOfDay(report.at)}) : t('tech.path.noCheck'));
  }
  setAttr(el, 'title', lines.join('\n'));
  setAttr(el, 'aria-label', `${t('tech.path.label')}: ${label}`);
}
