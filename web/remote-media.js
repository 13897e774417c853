// Everyone else's media: which track plays which participant, and the
// hidden <audio> elements that make the conference heard.
//
// Events: `change` {participantId}: a participant's video or audio track changed
//           (or its video was held for us or resumed: `forwarded`).
//         `share` {participantId}: a screen share started or ended (`share` holds it).
//         `audioblocked`: the browser refused to play sound before a user gesture.

/** @typedef {import('./protocol.js').PalabraConnection} PalabraConnection */
/** @typedef {import('./protocol.js').RemoteStream} RemoteStream */

/**
 * @typedef {object} RemoteTracks
 * @property {RemoteStream | null} video
 * @property {RemoteStream | null} audio
 */

export class RemoteMedia extends EventTarget {
  /**
   * @param {PalabraConnection} conn
   * @param {HTMLElement} sink  where the <audio> elements live (hidden)
   */
  constructor(conn, sink) {
    super();
    /** @private */ this._sink = sink;
    /** @type {Map<string, RemoteTracks>} */
    this.byParticipant = new Map();
    /** The screen share being received, if any (never someone's camera). @type {RemoteStream | null} */
    this.share = null;
    /** Audio elements by producer id. @type {Map<string, HTMLAudioElement>} */
    this.audio = new Map();
    /** @private */ this._outputId = '';
    /** Whether the browser has refused to play sound so far. */
    this.blocked = false;
    conn.addEventListener('stream', (e) => this._add(/** @type {CustomEvent<RemoteStream>} */ (e).detail));
    conn.addEventListener('streamended', (e) => {
      this._remove(/** @type {CustomEvent<RemoteStream>} */ (e).detail);
    });
    conn.addEventListener('streamforwarded', (e) => {
      const s = /** @type {CustomEvent<RemoteStream>} */ (e).detail;
      this.dispatchEvent(new CustomEvent('change', {detail: {participantId: s.participant_id}}));
    });
  }

  /**
   * @param {string} participantId
   * @returns {RemoteTracks}
   */
  of(participantId) {
    return this.byParticipant.get(participantId) ?? {video: null, audio: null};
  }

  /**
   * Plays the remote audio on another output device, where supported.
   * @param {string} deviceId
   */
  async setOutput(deviceId) {
    this._outputId = deviceId;
    await Promise.all([...this.audio.values()].map((a) => this._applyOutput(a)));
  }

  /** Retries sound the browser refused (call from a click or key press). */
  async resume() {
    const paused = [...this.audio.values()].filter((a) => a.paused);
    try {
      await Promise.all(paused.map((a) => a.play()));
      this.blocked = false;
    } catch {
      // Still refused; the page keeps its button.
    }
    return !this.blocked;
  }

  /** @private @param {RemoteStream} s */
  _add(s) {
    if (s.source === 'screen') {
      this.share = s;
      this.dispatchEvent(new CustomEvent('share', {detail: {participantId: s.participant_id}}));
      return;
    }
    const entry = {...this.of(s.participant_id)};
    entry[s.kind] = s;
    this.byParticipant.set(s.participant_id, entry);
    if (s.kind === 'audio') this._play(s);
    this.dispatchEvent(new CustomEvent('change', {detail: {participantId: s.participant_id}}));
  }

  /** @private @param {RemoteStream} s */
  _remove(s) {
    if (s.source === 'screen') {
      if (this.share?.track === s.track) this.share = null;
      this.dispatchEvent(new CustomEvent('share', {detail: {participantId: s.participant_id}}));
      return;
    }
    const entry = this.byParticipant.get(s.participant_id);
    if (entry && entry[s.kind]?.track === s.track) {
      entry[s.kind] = null;
      if (!entry.audio && !entry.video) this.byParticipant.delete(s.participant_id);
    }
    if (s.kind === 'audio') {
      const audio = this.audio.get(s.producer_id);
      if (audio && audio.srcObject instanceof MediaStream && audio.srcObject.getTracks()[0] === s.track) {
        audio.srcObject = null;
        audio.remove();
        this.audio.delete(s.producer_id);
      }
    }
    this.dispatchEvent(new CustomEvent('change', {detail: {participantId: s.participant_id}}));
  }

  /** @private @param {RemoteStream} s */
  _play(s) {
    this.audio.get(s.producer_id)?.remove();
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.producerId = s.producer_id;
    audio.dataset.participantId = s.participant_id;
    audio.srcObject = new MediaStream([s.track]);
    this._sink.append(audio);
    this.audio.set(s.producer_id, audio);
    void this._applyOutput(audio);
    audio.play().catch(() => {
      // Autoplay policy: no sound before the user interacts with the page.
      if (!this.blocked) {
        this.blocked = true;
        this.dispatchEvent(new Event('audioblocked'));
      }
    });
  }

  /** @private @param {HTMLAudioElement} audio */
  async _applyOutput(audio) {
    const el = /** @type {HTMLAudioElement & {setSinkId?: (id: string) => Promise<void>}} */ (audio);
    if (!this._outputId || typeof el.setSinkId !== 'function') return;
    try {
      await el.setSinkId(this._outputId);
    } catch (e) {
      console.warn('palabra: cannot switch the audio output', e);
    }
  }
}
