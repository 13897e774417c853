// The listener's mix of the floor and an interpretation channel, in the browser.
//
// The server never mixes: the floor arrives on each speaker's own stream and
// the chosen channel on the `feed:listen` stream (a passive interpreter also
// gets `feed:partner`). While a channel is chosen, every remote <audio>
// element is muted and its track goes through Web Audio instead: the floor
// through one gain (the original's volume, 20 % by default), the feeds
// through another. Web Audio, not HTMLMediaElement.volume, because iOS
// ignores the latter. Until the browser lets the audio context run (Safari:
// a click), the elements play the channel plainly instead. A limiter (DynamicsCompressor) protects the ears of
// whoever listens through it (an interpreter's acoustic-shock protection).

/** @typedef {import('./remote-media.js').RemoteMedia} RemoteMedia */

export const LISTEN_FEED = 'feed:listen';
export const PARTNER_FEED = 'feed:partner';

/** @param {string} producerId */
export const isFeed = (producerId) => producerId.startsWith('feed:');

export class ChannelMixer {
  /**
   * @param {RemoteMedia} remote
   * @param {{limiter?: boolean}} [options]
   */
  constructor(remote, {limiter = false} = {}) {
    /** @private */ this._remote = remote;
    /** @private */ this._limiter = limiter;
    /** @private @type {AudioContext | null} */ this._ctx = null;
    /** @private @type {GainNode | null} */ this._floor = null;
    /** @private @type {GainNode | null} */ this._channel = null;
    /** @private @type {Map<MediaStreamTrack, MediaStreamAudioSourceNode>} */ this._sources = new Map();
    /** Whether the mix is on (a channel chosen, or always for an interpreter). */
    this.active = false;
    /** The original's volume while a channel is heard, 0..1. */
    this.floorVolume = 0.2;
    /** @private */ this._onChange = () => this._wire();
    /** @private */ this._unlock = () => this.resume();
    remote.addEventListener('change', this._onChange);
  }

  /**
   * @param {boolean} active  mix through Web Audio (false: plain playback)
   * @param {number} [floorVolume]  0..1
   */
  set(active, floorVolume = this.floorVolume) {
    this.active = active;
    this.floorVolume = Math.min(1, Math.max(0, floorVolume));
    this._wire();
  }

  /**
   * Creates or resumes the audio context. Call it from a click or a key
   * press: Safari starts a context only inside the gesture itself, not after
   * an await that follows it.
   */
  resume() {
    void this._graph().ctx.resume().catch(() => {});
  }

  /** @private */
  _graph() {
    if (!this._ctx) {
      const ctx = new AudioContext();
      // Running or not decides whether the elements are muted (see _wire).
      ctx.addEventListener('statechange', this._onChange);
      const out = this._limiter ? limiter(ctx) : ctx.destination;
      this._floor = ctx.createGain();
      this._channel = ctx.createGain();
      this._floor.connect(out);
      this._channel.connect(out);
      this._ctx = ctx;
    }
    return /** @type {{ctx: AudioContext, floor: GainNode, channel: GainNode}} */ (
      {ctx: this._ctx, floor: this._floor, channel: this._channel});
  }

  /** @private */
  _wire() {
    const elements = [...this._remote.audio.values()];
    if (!this.active) {
      for (const el of elements) el.muted = false;
      if (this._floor) this._floor.gain.value = 1;
      return;
    }
    const {ctx, floor, channel} = this._graph();
    // A context the browser keeps suspended until a gesture (Safari, any
    // browser without a sound device) plays nothing: until it runs, the
    // elements play the chosen channel (else the floor) plainly, and the
    // next click starts the mix. Not for an interpreter's headset: nothing
    // reaches it but through the limiter.
    const running = ctx.state === 'running';
    const feeds = elements.some((el) => isFeed(el.dataset.producerId ?? ''));
    for (const el of elements) {
      el.muted = running || this._limiter || (feeds && !isFeed(el.dataset.producerId ?? ''));
    }
    if (!running) {
      document.addEventListener('click', this._unlock, {once: true});
      document.addEventListener('keydown', this._unlock, {once: true});
    }
    floor.gain.value = this.floorVolume;
    channel.gain.value = 1;
    /** @type {Set<MediaStreamTrack>} */
    const live = new Set();
    for (const el of elements) {
      const stream = /** @type {MediaStream | null} */ (el.srcObject);
      const track = stream?.getAudioTracks()[0];
      if (!stream || !track) continue;
      live.add(track);
      if (this._sources.has(track)) continue;
      const source = ctx.createMediaStreamSource(stream);
      source.connect(isFeed(el.dataset.producerId ?? '') ? channel : floor);
      this._sources.set(track, source);
    }
    for (const [track, source] of this._sources) {
      if (!live.has(track)) {
        source.disconnect();
        this._sources.delete(track);
      }
    }
    void ctx.resume();
  }

  destroy() {
    this._remote.removeEventListener('change', this._onChange);
    document.removeEventListener('click', this._unlock);
    document.removeEventListener('keydown', this._unlock);
    this._ctx?.removeEventListener('statechange', this._onChange);
    for (const el of this._remote.audio.values()) el.muted = false;
    for (const source of this._sources.values()) source.disconnect();
    this._sources.clear();
    void this._ctx?.close();
    this._ctx = null;
  }
}

/**
 * A brick-wall-ish limiter before the output: fast attack, high ratio.
 * @param {AudioContext} ctx
 * @returns {AudioNode}
 */
function limiter(ctx) {
  const node = ctx.createDynamicsCompressor();
  node.threshold.value = -12;
  node.knee.value = 0;
  node.ratio.value = 20;
  node.attack.value = 0.002;
  node.release.value = 0.1;
  node.connect(ctx.destination);
  return node;
}
