// Connection quality from WebRTC statistics: round-trip time, packet loss
// and jitter of both peer connections, folded into one level for the
// indicator in the top bar. No DOM.

/** @typedef {'good' | 'fair' | 'poor' | 'unknown'} QualityLevel */

/**
 * @typedef {object} QualitySample
 * @property {QualityLevel} level
 * @property {number | null} rttMs     ICE round-trip time (publisher, else subscriber)
 * @property {number | null} loss      fraction 0..1 of packets lost since the previous sample
 * @property {number | null} jitterMs  worst inbound jitter
 */

/**
 * Counters kept between samples to compute the loss over the interval.
 * @typedef {{received: number, lost: number}} LossCounters
 */

/** Thresholds: above the first the connection is "fair", above the second "poor". */
export const THRESHOLDS = {
  rttMs: [250, 500],
  loss: [0.02, 0.08],
  jitterMs: [30, 60],
};

/**
 * The level of a set of measurements (missing ones are ignored).
 * @param {{rttMs: number | null, loss: number | null, jitterMs: number | null}} m
 * @returns {QualityLevel}
 */
export function levelOf(m) {
  /** @type {Array<[number | null, number[]]>} */
  const checks = [[m.rttMs, THRESHOLDS.rttMs], [m.loss, THRESHOLDS.loss], [m.jitterMs, THRESHOLDS.jitterMs]];
  let known = false;
  let worst = 0;
  for (const [value, [fair, poor]] of checks) {
    if (value === null || !Number.isFinite(value)) continue;
    known = true;
    worst = Math.max(worst, value > poor ? 2 : value > fair ? 1 : 0);
  }
  if (!known) return 'unknown';
  return /** @type {QualityLevel[]} */ (['good', 'fair', 'poor'])[worst];
}

/**
 * Samples the quality of a participant's peer connections.
 */
export class QualityMonitor {
  constructor() {
    /** @private @type {LossCounters} */
    this._previous = {received: 0, lost: 0};
  }

  /**
   * @param {RTCPeerConnection | null} publisher
   * @param {RTCPeerConnection | null} subscriber
   * @returns {Promise<QualitySample>}
   */
  async sample(publisher, subscriber) {
    /** @type {number | null} */ let rttMs = null;
    /** @type {number | null} */ let jitterMs = null;
    let received = 0;
    let lost = 0;
    for (const pc of [publisher, subscriber]) {
      if (!pc || pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') {
          rttMs ??= s.currentRoundTripTime * 1000;
        } else if (s.type === 'inbound-rtp') {
          received += s.packetsReceived ?? 0;
          lost += Math.max(0, s.packetsLost ?? 0);
          if (typeof s.jitter === 'number') jitterMs = Math.max(jitterMs ?? 0, s.jitter * 1000);
        } else if (s.type === 'remote-inbound-rtp') {
          // What the server reports about our outgoing streams.
          if (typeof s.roundTripTime === 'number') rttMs ??= s.roundTripTime * 1000;
        }
      });
    }
    const dReceived = received - this._previous.received;
    const dLost = lost - this._previous.lost;
    this._previous = {received, lost};
    const loss = dReceived + dLost > 0 && dLost >= 0 ? dLost / (dReceived + dLost) : null;
    const connected = [publisher, subscriber].some((pc) => pc?.connectionState === 'connected');
    const m = {rttMs, loss, jitterMs};
    return {...m, level: connected ? levelOf(m) : 'unknown'};
  }

  reset() {
    this._previous = {received: 0, lost: 0};
  }
}
