// Sharing a screen: the capture (`getDisplayMedia`) and its life on the
// publisher connection. Who may share is decided by the server
// (rooms/share.py): the chair, or a head or delegate while its delegation
// holds the floor. `mayShare` mirrors that rule only to offer the button when
// it would work.
//
// Events: `change`: our share started or ended.

/** @typedef {import('./protocol.js').PalabraConnection} PalabraConnection */
/** @typedef {import('./protocol.js').RoomState} RoomState */
/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').ShareStopped} ShareStopped */

/**
 * Whether `you` may share a screen now.
 * @param {RoomState | null} state
 * @param {Participant} you
 * @returns {boolean}
 */
export function mayShare(state, you) {
  if (!state || state.closed) return false;
  if (!state.participants.some((p) => p.participant_id === you.id)) return false;
  if (you.role === 'chair') return true;
  if ((you.role !== 'head' && you.role !== 'delegate') || !you.delegation) return false;
  const delegation = you.delegation.id;
  return state.holders.some((r) => r.delegation_id === delegation);
}

export class ScreenShare extends EventTarget {
  /** @param {PalabraConnection} conn */
  constructor(conn) {
    super();
    /** @private */ this._conn = conn;
    /** The captured screen, while we share. @type {MediaStreamTrack | null} */
    this.track = null;
    /** @private */ this._starting = false;
    conn.addEventListener('sharestopped', (e) => {
      const detail = /** @type {CustomEvent<ShareStopped>} */ (e).detail;
      // Stopped by the server (the floor ended, the chair): end the capture too.
      if (detail.participant_id === conn.you?.id) this._release();
    });
  }

  /** Whether we share (or are starting to). */
  get active() {
    return this.track !== null || this._starting;
  }

  /**
   * Asks the browser for a screen, window or tab, and publishes it. Rejects
   * with the browser's error (the picker cancelled: `NotAllowedError`) or the
   * server's {@link import('./protocol.js').PalabraError}; nothing is shared then.
   */
  async start() {
    if (this.active) return;
    this._starting = true;
    this._changed();
    /** @type {MediaStreamTrack | null} */
    let track = null;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({
        video: {frameRate: {ideal: 15, max: 30}}, audio: false,
      });
      track = stream.getVideoTracks()[0] ?? null;
      if (!track) throw new DOMException('no video in the capture', 'NotFoundError');
      // Slides: keep the resolution sharp, let the frame rate drop.
      track.contentHint = 'detail';
      await this._conn.shareScreen(track);
      // The browser's own "Stop sharing" bar ends the track.
      track.addEventListener('ended', () => void this.stop());
      this.track = track;
    } catch (e) {
      track?.stop();
      throw e;
    } finally {
      this._starting = false;
      this._changed();
    }
  }

  /** Stops our share (the capture and its m-line). */
  async stop() {
    if (!this.track) return;
    this._release();
    await this._conn.stopSharing();
  }

  /** @private */
  _release() {
    if (!this.track) return;
    this.track.stop();
    this.track = null;
    this._changed();
  }

  /** @private */
  _changed() {
    this.dispatchEvent(new Event('change'));
  }
}

/** @type {WeakMap<PalabraConnection, ScreenShare>} */
const shares = new WeakMap();

/**
 * The page's one screen share for this connection (views come and go).
 * @param {PalabraConnection} conn
 * @returns {ScreenShare}
 */
export function screenShareOf(conn) {
  let share = shares.get(conn);
  if (!share) {
    share = new ScreenShare(conn);
    shares.set(conn, share);
  }
  return share;
}
