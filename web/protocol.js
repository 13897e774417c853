// Palabra signaling client, protocol v1 (see docs/protocol.md).
//
// Plain ES module, no DOM and no build step: it needs only WebSocket,
// RTCPeerConnection, EventTarget and CustomEvent, so it runs in any modern
// browser page or worker.
//
//   const conn = new PalabraConnection({token});
//   conn.addEventListener('stream', (e) => show(e.detail.track, e.detail));
//   const welcome = await conn.connect();
//   await conn.publish(await navigator.mediaDevices.getUserMedia({audio: true, video: true}));
//   ...
//   await conn.leave();
//
// Two peer connections per participant (no glare): on the publisher the
// client offers (`publish.offer` -> `publish.answer`); on the subscriber the
// server offers (`subscribe.offer` -> `subscribe.answer`, same `revision`).
// No trickle ICE: every SDP is sent once ICE gathering has completed.

export const PROTOCOL_VERSION = 1;

/** @typedef {'chair' | 'head' | 'delegate' | 'observer' | 'technician' | 'interpreter'} Role */
/** @typedef {'audio' | 'video'} Kind */
/** @typedef {string | number} MessageId */

/**
 * @typedef {object} Delegation
 * @property {string} id    e.g. "gt"
 * @property {string} name  e.g. "Guatemala"
 * @property {string} code  e.g. "GT"
 */

/**
 * @typedef {object} Participant
 * @property {string} id
 * @property {string} name
 * @property {Role} role
 * @property {Delegation | null} delegation  null for the chair and technicians
 */

/**
 * @typedef {object} Producer
 * @property {string} id
 * @property {string} participant_id
 * @property {Kind} kind
 */

/**
 * One active m-line of the subscriber connection and what it carries.
 * @typedef {object} Stream
 * @property {string} mid
 * @property {string} producer_id
 * @property {string} participant_id
 * @property {Kind} kind
 */

/**
 * A Stream with the browser track that plays it (detail of `stream` and
 * `streamended` events).
 * @typedef {Stream & {track: MediaStreamTrack, participant: Participant | null}} RemoteStream
 */

/**
 * @typedef {object} Conference
 * @property {string} id
 * @property {string} title
 */

/**
 * @typedef {object} Welcome
 * @property {'welcome'} type
 * @property {number} version
 * @property {Conference} conference
 * @property {Participant} you
 * @property {Participant[]} participants
 * @property {Producer[]} producers
 */

/**
 * A typed error sent by the server (`error` message), or raised locally with
 * a code of the same family (`closed`, `not_joined`, `timeout`, `bad_sdp`).
 * @typedef {object} ProtocolError
 * @property {string} code
 * @property {string} message
 * @property {MessageId} [ref]
 */

/**
 * @typedef {object} CloseInfo
 * @property {number} code    WebSocket close code (1000, 1001, 4001, 4002, 4008, 4009, 1006...)
 * @property {string} reason
 * @property {boolean} local  true when this side decided to close (leave(), close(), heartbeat)
 */

/**
 * @typedef {'new' | 'connecting' | 'joined' | 'closed'} ConnectionState
 */

/**
 * Detail of `connectionstatechange`.
 * @typedef {object} StateDetail
 * @property {ConnectionState} signaling
 * @property {RTCPeerConnectionState | 'none'} publisher
 * @property {RTCPeerConnectionState | 'none'} subscriber
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {string} token                  join token from the link (`?t=`)
 * @property {string} [url]                  WebSocket URL; default: `/ws` on the page's origin
 * @property {RTCIceServer[]} [iceServers]   default: [] (the SFU announces reachable host candidates)
 * @property {number} [gatherTimeout]        ms to wait for ICE gathering before sending what we have (5000)
 * @property {number} [pingAfter]            ms of silence before we send a `ping` (15000)
 * @property {number} [deadAfter]            ms without any message from the server before giving up (45000)
 * @property {number} [leaveTimeout]         ms to wait for the server to close after `leave` (2000)
 */

/** Error raised by the promise-returning methods; carries the protocol error code. */
export class PalabraError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {MessageId} [ref]
   */
  constructor(code, message, ref) {
    super(message);
    this.name = 'PalabraError';
    /** @type {string} */
    this.code = code;
    /** @type {MessageId | undefined} */
    this.ref = ref;
  }
}

/**
 * The signaling URL for a page: `/ws` on the same origin, `wss:` under https.
 * @param {{protocol: string, host: string}} [loc]
 * @returns {string}
 */
export function defaultSignalingUrl(loc = globalThis.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}

/**
 * Resolves once the connection has finished gathering ICE candidates, or
 * after `timeoutMs` (then the SDP carries the candidates found so far).
 * @param {RTCPeerConnection} pc
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
export function waitForIceGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onState);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const onState = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    /** @param {RTCPeerConnectionIceEvent} e */
    const onCandidate = (e) => {
      if (!e.candidate) done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', onState);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

/**
 * Codec preferences for a sending transceiver: VP8 with RTX for video, Opus
 * for audio, in the browser's own capability objects. Empty if the browser
 * cannot tell (then the SDP keeps every codec and the server picks).
 * @param {Kind} kind
 * @returns {RTCRtpCodec[]}
 */
export function preferredCodecs(kind) {
  const wanted = kind === 'video' ? ['video/vp8', 'video/rtx'] : ['audio/opus'];
  const caps = globalThis.RTCRtpSender?.getCapabilities?.(kind) ??
    globalThis.RTCRtpReceiver?.getCapabilities?.(kind);
  const codecs = (caps?.codecs ?? []).filter((c) => wanted.includes(c.mimeType.toLowerCase()));
  // RTX alone is useless: require the main codec.
  return codecs.some((c) => c.mimeType.toLowerCase() === wanted[0]) ? codecs : [];
}

/**
 * One participant's session: the signaling WebSocket and its two peer
 * connections.
 *
 * Events (all `CustomEvent`s; the payload is in `event.detail`):
 * - `welcome`              {@link Welcome}
 * - `participantjoined`    {participant: Participant}
 * - `participantleft`      {participant_id, reason, participant: Participant | null}
 * - `produceradded`        {producer: Producer}
 * - `producerremoved`      {producer_id, producer: Producer | null}
 * - `stream`               {@link RemoteStream}: a remote track is now playing this producer
 *                          (emitted again when a recycled m-line carries another producer)
 * - `streamended`          {@link RemoteStream}: that m-line no longer carries that producer
 * - `error`                {@link ProtocolError}
 * - `close`                {@link CloseInfo} (once)
 * - `connectionstatechange` {@link StateDetail}
 * - `message`              every raw server message (debugging, tests)
 */
export class PalabraConnection extends EventTarget {
  /** @param {ConnectionOptions} options */
  constructor(options) {
    super();
    if (!options || typeof options.token !== 'string') {
      throw new TypeError('PalabraConnection: a token string is required');
    }
    /** @private */ this._token = options.token;
    /** @readonly */ this.url = options.url ?? defaultSignalingUrl();
    /** @readonly @type {RTCConfiguration} */
    this.rtcConfiguration = {
      iceServers: options.iceServers ?? [],
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    };
    /** @private */ this._gatherTimeout = options.gatherTimeout ?? 5000;
    /** @private */ this._pingAfter = options.pingAfter ?? 15000;
    /** @private */ this._deadAfter = options.deadAfter ?? 45000;
    /** @private */ this._leaveTimeout = options.leaveTimeout ?? 2000;

    /** @type {ConnectionState} */
    this.state = 'new';
    /** @type {Conference | null} */
    this.conference = null;
    /** @type {Participant | null} */
    this.you = null;
    /** Everyone else in the conference, by id. @type {Map<string, Participant>} */
    this.participants = new Map();
    /** Every producer in the conference (ours included), by id. @type {Map<string, Producer>} */
    this.producers = new Map();
    /** Active subscriber m-lines, by mid. @type {Map<string, RemoteStream>} */
    this.streams = new Map();
    /** @type {RTCPeerConnection | null} */
    this.publisher = null;
    /** @type {RTCPeerConnection | null} */
    this.subscriber = null;
    /** Last `subscribe.offer` revision answered. */
    this.revision = -1;

    /** @private @type {WebSocket | null} */ this._ws = null;
    /** @private */ this._nextId = 1;
    /**
     * Requests waiting for a reply, by id.
     * @private @type {Map<MessageId, {expect: string, resolve: (m: any) => void, reject: (e: Error) => void}>}
     */
    this._pending = new Map();
    /** @private */ this._lastReceived = 0;
    /** @private */ this._lastSent = 0;
    /** @private */ this._lastPing = 0;
    /** @private @type {ReturnType<typeof setInterval> | undefined} */ this._heartbeat = undefined;
    /** @private @type {Promise<unknown>} */ this._publishQueue = Promise.resolve();
    /** @private @type {Promise<unknown>} */ this._subscribeQueue = Promise.resolve();
    /** @private @type {Promise<CloseInfo> | null} */ this._closed = null;
    /** @private @type {(info: CloseInfo) => void} */ this._resolveClosed = () => {};
  }

  /**
   * Opens the WebSocket, sends `hello` and resolves with the `welcome`.
   * Rejects with a {@link PalabraError} (`invalid_token`, `token_expired`,
   * `closed`...) if the server refuses or the socket closes first.
   * @returns {Promise<Welcome>}
   */
  connect() {
    if (this.state !== 'new') {
      return Promise.reject(new PalabraError('already_connected', 'connect() may be called once'));
    }
    this._setState('connecting');
    this._closed = new Promise((resolve) => { this._resolveClosed = resolve; });
    const ws = new WebSocket(this.url);
    this._ws = ws;
    ws.addEventListener('message', (e) => this._onFrame(e.data));
    ws.addEventListener('close', (e) => this._shutdown(e.code, e.reason, false));
    // An `error` event is always followed by `close`, which does the work.
    return new Promise((resolve, reject) => {
      ws.addEventListener('open', () => {
        this._lastReceived = Date.now();
        const tick = Math.max(250, Math.min(5000, this._pingAfter / 3));
        this._heartbeat = setInterval(() => this._checkHeartbeat(), tick);
        this._request({type: 'hello', version: PROTOCOL_VERSION, token: this._token}, 'welcome')
          .then(resolve, reject);
      }, {once: true});
      // Socket closed before it even opened: _shutdown has no request to reject.
      ws.addEventListener('close', (e) => {
        reject(new PalabraError('closed', `connection closed (${e.code}) before joining`));
      }, {once: true});
    });
  }

  /**
   * Publishes the first audio and first video track of `stream` on the
   * publisher connection (sendonly, VP8+RTX / Opus). Tracks of a kind already
   * published replace the previous ones without renegotiation.
   * @param {MediaStream} stream
   * @returns {Promise<void>}
   */
  publish(stream) {
    const run = () => this._publish(stream);
    const p = this._publishQueue.then(run, run);
    this._publishQueue = p.catch(() => {});
    return p;
  }

  /**
   * Sends `leave`, waits briefly for the server to close the socket (1000),
   * and releases everything.
   * @returns {Promise<CloseInfo>}
   */
  async leave() {
    if (this.state === 'closed' || !this._closed) return this._closedInfo();
    if (this.state === 'joined' && this._ws?.readyState === WebSocket.OPEN) {
      this.send({type: 'leave'});
      const timeout = new Promise((resolve) => setTimeout(resolve, this._leaveTimeout));
      await Promise.race([this._closed, timeout]);
    }
    this._shutdown(1000, 'left', true);
    return this._closedInfo();
  }

  /**
   * Closes without `leave` (the server reports "disconnected").
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = 'closed') {
    this._shutdown(code, reason, true);
  }

  /**
   * Sends one message (an `id` is added if missing). Low level: prefer the
   * methods above.
   * @param {{type: string, id?: MessageId, [key: string]: unknown}} message
   * @returns {MessageId}
   */
  send(message) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      throw new PalabraError('closed', 'the signaling connection is not open');
    }
    const id = message.id ?? this._nextId++;
    ws.send(JSON.stringify({...message, id}));
    this._lastSent = Date.now();
    return id;
  }

  /**
   * Current connection states, as carried by `connectionstatechange`.
   * @returns {StateDetail}
   */
  get states() {
    return {
      signaling: this.state,
      publisher: this.publisher?.connectionState ?? 'none',
      subscriber: this.subscriber?.connectionState ?? 'none',
    };
  }

  // ---------------------------------------------------------------- private

  /**
   * @private
   * @param {string} type
   * @param {unknown} detail
   */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, {detail}));
  }

  /** @private @param {ConnectionState} state */
  _setState(state) {
    this.state = state;
    this._emit('connectionstatechange', this.states);
  }

  /** @private @returns {Promise<CloseInfo>} */
  _closedInfo() {
    return this._closed ?? Promise.resolve({code: 1000, reason: 'never connected', local: true});
  }

  /**
   * Sends a request and resolves with the reply of type `expect` that carries
   * its id as `ref` (or, if the server leaves `ref` out, the first such reply).
   * @private
   * @param {{type: string, [key: string]: unknown}} message
   * @param {string} expect
   * @returns {Promise<any>}
   */
  _request(message, expect) {
    return new Promise((resolve, reject) => {
      let id;
      try {
        id = this.send(message);
      } catch (e) {
        reject(e);
        return;
      }
      this._pending.set(id, {expect, resolve, reject});
    });
  }

  /**
   * @private
   * @param {string} type
   * @param {MessageId | undefined} ref
   */
  _takePending(type, ref) {
    if (ref !== undefined && this._pending.has(ref)) {
      const entry = this._pending.get(ref);
      if (entry && (type === 'error' || entry.expect === type)) {
        this._pending.delete(ref);
        return entry;
      }
      return undefined;
    }
    if (type === 'error') return undefined;
    for (const [id, entry] of this._pending) {
      if (entry.expect === type) {
        this._pending.delete(id);
        return entry;
      }
    }
    return undefined;
  }

  /** @private @param {unknown} data */
  _onFrame(data) {
    this._lastReceived = Date.now();
    let msg;
    try {
      msg = JSON.parse(String(data));
    } catch {
      console.warn('palabra: ignoring a frame that is not JSON');
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    this._emit('message', msg);
    try {
      this._dispatch(msg);
    } catch (e) {
      console.error('palabra: error handling', msg.type, e);
    }
  }

  /** @private @param {any} msg */
  _dispatch(msg) {
    switch (msg.type) {
      case 'ping':
        if (this._ws?.readyState === WebSocket.OPEN) this.send({type: 'pong'});
        return;
      case 'pong':
        return;
      case 'welcome':
        this._onWelcome(msg);
        return;
      case 'error': {
        /** @type {ProtocolError} */
        const err = {code: String(msg.code), message: String(msg.message ?? '')};
        if (msg.ref !== undefined) err.ref = msg.ref;
        let pending = this._takePending('error', msg.ref);
        // A refused hello may come back without ref: it still fails the join.
        if (!pending && this.state === 'connecting') pending = this._takePending('welcome', undefined);
        pending?.reject(new PalabraError(err.code, err.message, err.ref));
        this._emit('error', err);
        return;
      }
      case 'participant.joined': {
        const p = /** @type {Participant} */ (msg.participant);
        if (!p || p.id === this.you?.id) return;
        this.participants.set(p.id, p);
        this._emit('participantjoined', {participant: p});
        return;
      }
      case 'participant.left': {
        const id = String(msg.participant_id);
        const participant = this.participants.get(id) ?? null;
        this.participants.delete(id);
        this._emit('participantleft', {participant_id: id, reason: msg.reason, participant});
        return;
      }
      case 'producer.added': {
        const pr = /** @type {Producer} */ (msg.producer);
        if (!pr) return;
        this.producers.set(pr.id, pr);
        this._emit('produceradded', {producer: pr});
        return;
      }
      case 'producer.removed': {
        const id = String(msg.producer_id);
        const producer = this.producers.get(id) ?? null;
        this.producers.delete(id);
        this._emit('producerremoved', {producer_id: id, producer});
        return;
      }
      case 'publish.answer': {
        const pending = this._takePending('publish.answer', msg.ref);
        pending?.resolve(msg);
        return;
      }
      case 'subscribe.offer': {
        const run = () => this._onSubscribeOffer(msg);
        this._subscribeQueue = this._subscribeQueue.then(run, run).catch((e) => {
          console.error('palabra: subscribe.offer failed', e);
          this._emit('error', {code: 'bad_sdp', message: `subscribe.offer rejected locally: ${e}`});
        });
        return;
      }
      default:
        // Unknown types are ignored (forward compatibility).
        return;
    }
  }

  /** @private @param {Welcome} msg */
  _onWelcome(msg) {
    this.conference = msg.conference;
    this.you = msg.you;
    this.participants.clear();
    for (const p of msg.participants ?? []) {
      if (p.id !== msg.you?.id) this.participants.set(p.id, p);
    }
    this.producers.clear();
    for (const pr of msg.producers ?? []) this.producers.set(pr.id, pr);
    this._setState('joined');
    this._takePending('welcome', /** @type {any} */ (msg).ref)?.resolve(msg);
    this._emit('welcome', msg);
  }

  /** @private */
  _checkHeartbeat() {
    const now = Date.now();
    if (now - this._lastReceived >= this._deadAfter) {
      this._shutdown(4008, 'heartbeat timeout', true);
      return;
    }
    const silent = now - Math.min(this._lastReceived, this._lastSent) >= this._pingAfter;
    if (silent && now - this._lastPing >= this._pingAfter && this._ws?.readyState === WebSocket.OPEN) {
      this._lastPing = now;
      this.send({type: 'ping'});
    }
  }

  /**
   * @private
   * @param {'publisher' | 'subscriber'} which
   * @returns {RTCPeerConnection}
   */
  _peer(which) {
    const existing = this[which];
    if (existing) return existing;
    const pc = new RTCPeerConnection(this.rtcConfiguration);
    pc.addEventListener('connectionstatechange', () => this._emit('connectionstatechange', this.states));
    this[which] = pc;
    return pc;
  }

  /** @private @param {MediaStream} stream */
  async _publish(stream) {
    if (this.state !== 'joined') throw new PalabraError('not_joined', 'publish() needs a joined connection');
    const pc = this._peer('publisher');
    let renegotiate = false;
    for (const kind of /** @type {Kind[]} */ (['audio', 'video'])) {
      const track = stream.getTracks().find((t) => t.kind === kind);
      if (!track) continue;
      const existing = pc.getTransceivers().find((t) => t.sender.track?.kind === kind ||
        (t.receiver.track.kind === kind && t.direction === 'sendonly'));
      if (existing) {
        await existing.sender.replaceTrack(track);
        continue;
      }
      const tr = pc.addTransceiver(track, {direction: 'sendonly', streams: [stream]});
      const codecs = preferredCodecs(kind);
      if (codecs.length && typeof tr.setCodecPreferences === 'function') {
        try {
          tr.setCodecPreferences(codecs);
        } catch (e) {
          console.warn('palabra: setCodecPreferences failed, the server will pick', e);
        }
      }
      renegotiate = true;
    }
    if (!renegotiate) return;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await waitForIceGathering(pc, this._gatherTimeout);
    const sdp = /** @type {RTCSessionDescription} */ (pc.localDescription).sdp;
    const answer = await this._request({type: 'publish.offer', sdp}, 'publish.answer');
    if (this.state === 'closed') return;
    await pc.setRemoteDescription({type: 'answer', sdp: String(answer.sdp)});
  }

  /**
   * @private
   * @param {{sdp: string, revision: number, streams?: Stream[]}} msg
   */
  async _onSubscribeOffer(msg) {
    if (this.state === 'closed') return;
    const pc = this._peer('subscriber');
    await pc.setRemoteDescription({type: 'offer', sdp: String(msg.sdp)});
    this._mapStreams(pc, msg.streams ?? []);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await waitForIceGathering(pc, this._gatherTimeout);
    if (this.state === 'closed') return;
    this.revision = msg.revision;
    const sdp = /** @type {RTCSessionDescription} */ (pc.localDescription).sdp;
    this.send({type: 'subscribe.answer', sdp, revision: msg.revision});
  }

  /**
   * Reconciles `this.streams` with the m-lines of the latest offer. Works
   * from the transceivers rather than `track` events: Chrome fires `track`
   * once per transceiver unless its direction changes, and the server
   * recycles m-lines for other producers.
   * @private
   * @param {RTCPeerConnection} pc
   * @param {Stream[]} streams
   */
  _mapStreams(pc, streams) {
    /** @type {Map<string, Stream>} */
    const wanted = new Map(streams.map((s) => [String(s.mid), s]));
    /** @type {Map<string, RTCRtpTransceiver>} */
    const byMid = new Map();
    for (const t of pc.getTransceivers()) if (t.mid !== null) byMid.set(t.mid, t);

    for (const [mid, current] of [...this.streams]) {
      const next = wanted.get(mid);
      const track = byMid.get(mid)?.receiver.track;
      if (!next || next.producer_id !== current.producer_id || track !== current.track) {
        this.streams.delete(mid);
        this._emit('streamended', current);
      }
    }
    for (const [mid, s] of wanted) {
      if (this.streams.has(mid)) continue;
      const transceiver = byMid.get(mid);
      if (!transceiver) {
        console.warn(`palabra: subscribe.offer maps mid ${mid}, which the SDP does not have`);
        continue;
      }
      const track = transceiver.receiver.track;
      if (track.kind !== s.kind) {
        console.warn(`palabra: mid ${mid} is ${track.kind}, the server says ${s.kind}`);
        continue;
      }
      /** @type {RemoteStream} */
      const remote = {
        mid,
        producer_id: s.producer_id,
        participant_id: s.participant_id,
        kind: s.kind,
        track,
        participant: this.participants.get(s.participant_id) ??
          (s.participant_id === this.you?.id ? this.you : null),
      };
      this.streams.set(mid, remote);
      this._emit('stream', remote);
    }
  }

  /**
   * Idempotent teardown; emits `streamended` for live streams, then `close`.
   * @private
   * @param {number} code
   * @param {string} reason
   * @param {boolean} local
   */
  _shutdown(code, reason, local) {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this._heartbeat);
    for (const {reject} of this._pending.values()) {
      reject(new PalabraError('closed', `connection closed (${code}${reason ? `: ${reason}` : ''})`));
    }
    this._pending.clear();
    for (const s of this.streams.values()) this._emit('streamended', s);
    this.streams.clear();
    this.publisher?.close();
    this.subscriber?.close();
    const ws = this._ws;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      // Browsers accept only 1000 and 3000-4999 from scripts.
      ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason.slice(0, 120));
    }
    /** @type {CloseInfo} */
    const info = {code, reason, local};
    this._resolveClosed(info);
    this._emit('close', info);
    this._emit('connectionstatechange', this.states);
  }
}
