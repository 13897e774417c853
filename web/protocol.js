// Palabra signaling client, protocol v1 (see docs/protocol.md).
//
// Plain ES module, no DOM and no build step: it needs only WebSocket,
// RTCPeerConnection, EventTarget and CustomEvent, so it runs in any modern
// browser page or worker.
//
//   const conn = new PalabraConnection({token});
//   conn.addEventListener('stream', (e) => show(e.detail.track, e.detail));
//   conn.addEventListener('room', (e) => render(e.detail.state));
//   const welcome = await conn.connect();
//   await conn.publish(await navigator.mediaDevices.getUserMedia({audio: true, video: true}));
//   await conn.command('floor.request', {delegation_id: 'gt', priority: 'ordinary'});
//   ...
//   await conn.leave();
//
// Two peer connections per participant (no glare): on the publisher the
// client offers (`publish.offer` -> `publish.answer`); on the subscriber the
// server offers (`subscribe.offer` -> `subscribe.answer`, same `revision`).
// No trickle ICE: every SDP is sent once ICE gathering has completed.
//
// Reconnection: when the socket drops after a successful join (network loss,
// server restart, heartbeat timeout) the connection rejoins on its own, with
// exponential backoff, as a fresh `hello` with the same token (the same seat).
// Peer connections are rebuilt: the page publishes again after the new
// `welcome`. Session resume: when `welcome` carries a `resume_token`, the
// rejoin's `hello` sends it as `resume` (the server keeps the seat for a grace
// period, even past the link's expiry, and falls back to the join token).
// A `redirect` (the conference lives on another node of a cluster) is
// followed at once: the same `hello` goes to the URL it names. A rejoin
// starts again from the entry URL (the node the page came from): the node
// redirected to may have died and its conferences moved. A rejoin refused
// `unavailable` (close 4001: the server cannot record arrivals, its event
// store is down) keeps retrying with backoff.

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
 * @property {'screen'} [source]  a screen share; absent for a camera or microphone
 */

/**
 * One active m-line of the subscriber connection and what it carries.
 * @typedef {object} Stream
 * @property {string} mid
 * @property {string} producer_id
 * @property {string} participant_id
 * @property {Kind} kind
 * @property {'screen' | null} [source]  'screen' for a screen share
 * @property {boolean | null} [forwarded]  a video: false while the server holds it for
 *   us (our downlink, or beyond the meeting's last N videos): show the name instead
 */

/**
 * Why a screen share stopped (`share.stopped`).
 * @typedef {object} ShareStopped
 * @property {string} participant_id  the sharer
 * @property {string} producer_id
 * @property {'floor' | 'chair' | 'sharer' | 'left'} reason
 * @property {string} actor  a participant id, or "system"
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
 * @property {string} [resume_token]  session resume: sent back as `hello.resume` after a drop
 * @property {RTCIceServer[]} [ice_servers]  TURN servers with this seat's short-lived credential
 */

// ------------------------------------------------------------ room state
// `room.update` carries `Conference.snapshot()` of the domain core (rooms/).

/** @typedef {'point_of_order' | 'right_of_reply' | 'ordinary'} Priority */
/** @typedef {'pending' | 'accepted' | 'granted' | 'denied' | 'cancelled' | 'released' | 'revoked'} RequestStatus */

/**
 * @typedef {object} RoomSettings
 * @property {number | null} default_time_limit  seconds; null: no limit
 * @property {number} warning_before             seconds before the limit the speaker is warned
 * @property {number} grace_period               seconds after the limit before the automatic revoke
 * @property {number} max_holders
 * @property {boolean} lobby_enabled
 * @property {boolean} auto_accept
 * @property {boolean} open_floor
 * @property {boolean} [public_chat]           anyone in the room may write to `everyone`
 */

/**
 * One message of a thread (`message.history`; `message.sent` events carry the
 * same fields, with `actor` for `sender_id`).
 * @typedef {object} ChatMessage
 * @property {string} message_id     "m1", "m2"… in the order of the conference
 * @property {string} thread         "delegation:<id>", "seat:<participant id>" or "everyone"
 * @property {number} at             unix seconds (server clock)
 * @property {string} sender_id
 * @property {string} sender_name
 * @property {Role} sender_role
 * @property {string | null} sender_delegation
 * @property {string} text
 */

/**
 * @typedef {object} RoomDelegation
 * @property {string} delegation_id
 * @property {string} name
 * @property {string} country_code   ISO 3166-1, e.g. "GT"
 * @property {boolean} delegates_may_request
 * @property {boolean} observer      an organisation: speaks on items open to observers, never votes
 * @property {string[]} members      participant ids in the room
 * @property {boolean} holds_floor
 */

/**
 * @typedef {object} RoomParticipant
 * @property {string} participant_id
 * @property {string} name
 * @property {Role} role
 * @property {string | null} delegation_id
 * @property {number} since
 * @property {boolean} [muted]     (absent for lobby entries)
 * @property {string | null} [muted_by]  who muted: `chair`, `technician` or `system` (null when not muted)
 * @property {boolean} [audible]   the media plane forwards this participant's audio now
 * @property {Presence} [presence] whether its connection is live (absent for lobby entries)
 * @property {boolean} [ready]     its page's camera and microphone check passed (`participant.ready`)
 */

/** @typedef {'connected' | 'reconnecting' | 'disconnected'} Presence */

/**
 * @typedef {object} SpeakingTurn
 * @property {number} granted_at
 * @property {number | null} time_limit
 * @property {number | null} warn_at
 * @property {number | null} expires_at
 * @property {number | null} revoke_at
 * @property {boolean} warned
 * @property {boolean} overtime
 * @property {number | null} [paused_at]  the holder is disconnected: the clock stands still since then
 * @property {number} [paused_for]        seconds paused so far (earlier pauses; deadlines already moved)
 */

/**
 * @typedef {object} FloorRequest
 * @property {string} request_id
 * @property {string} delegation_id
 * @property {Priority} priority
 * @property {string} requested_by
 * @property {string | null} speaker_id
 * @property {boolean} on_behalf
 * @property {number} requested_at
 * @property {RequestStatus} status
 * @property {number} updated_at
 * @property {SpeakingTurn | null} turn
 * @property {number} [position]  on the speakers list (queue entries), 1 is next
 */

/**
 * @typedef {object} RoomState
 * @property {string} conference_id
 * @property {string | null} title
 * @property {boolean} closed
 * @property {boolean} locked
 * @property {number | null} clock
 * @property {RoomSettings} settings
 * @property {RoomDelegation[]} delegations
 * @property {RoomParticipant[]} participants  in the room
 * @property {RoomParticipant[]} lobby         waiting for admission
 * @property {FloorRequest[]} pending          awaiting the chair
 * @property {FloorRequest[]} queue            the speakers list, next first
 * @property {FloorRequest[]} holders          who has the floor
 * @property {number | null} next_deadline
 * @property {Interpretation} [interpretation]  languages, channels and booths
 */

/**
 * @typedef {object} InterpretationSeat
 * @property {string} participant_id
 * @property {string[]} working_languages
 * @property {string} source  "floor" or a channel's language (relay)
 * @property {boolean} active  on air
 */

/**
 * @typedef {object} InterpretationChannel
 * @property {string} language  ISO 639-1; also the booth
 * @property {boolean} open
 * @property {string | null} active  the interpreter on air
 * @property {number | null} since
 * @property {string | null} handover_to  a partner who asked for the microphone
 * @property {InterpretationSeat[]} interpreters
 */

/**
 * @typedef {object} Interpretation
 * @property {string[]} languages  the floor languages
 * @property {InterpretationChannel[]} channels
 */

/**
 * A domain event (`Event.to_dict()` in rooms/events.py): `type`, `at`,
 * `actor`, `reason` and the event's own fields.
 * @typedef {{type: string, at: number, actor: string, reason: string | null, [field: string]: any}} RoomEvent
 */

/**
 * Detail of the `room` event.
 * @typedef {object} RoomUpdate
 * @property {number} seq
 * @property {RoomEvent[]} events
 * @property {RoomState} state
 * @property {number} serverTime  the server's clock when sent (unix seconds)
 * @property {number} receivedAt  local clock when received (unix seconds)
 * @property {MessageId} [ref]    in the issuer's copy: the id of the command that caused it
 */

// ------------------------------------------------------------ monitoring

/**
 * @typedef {object} StreamStats
 * @property {string} id
 * @property {'in' | 'out'} direction  in: publisher -> server; out: server -> subscriber
 * @property {string} producer_id
 * @property {string} participant_id   the publisher
 * @property {string | null} subscriber_id
 * @property {Kind} kind
 * @property {string} codec
 * @property {boolean} paused          (in) forwarding closed by the floor
 * @property {number} packets
 * @property {number} bytes
 * @property {number} bitrate_kbps
 * @property {number} frames
 * @property {number} fps
 * @property {number} keyframes
 * @property {number} packets_lost
 * @property {number} loss             fraction 0..1 over the last second
 * @property {number} jitter_ms
 * @property {number | null} rtt_ms
 * @property {number} nacks
 * @property {number} plis
 * @property {number | null} silent_for  seconds since the last packet (in)
 * @property {'screen' | null} [source]  a screen share
 * @property {string | null} [path]  the client's ICE candidate type and the transport the server sees, e.g. "relay udp"
 * @property {number | null} [layer]         simulcast: the layer sent to the subscriber now (out; 0 the lowest)
 * @property {number | null} [target_layer]  simulcast: the layer chosen for it (out)
 * @property {number | null} [temporal]  VP8 temporal layers: the highest TID sent now (out video; null: every frame)
 * @property {number | null} [target_temporal]  the highest TID chosen for it (out video; null: every frame)
 * @property {Array<{spatial: number, rid: string, bitrate_kbps: number, active: boolean, paused?: boolean}> | null} [layers]
 *   simulcast: the publisher's layers (in)
 * @property {number | null} [estimate_kbps]  (out) the subscriber's estimated downlink; null: nothing limits it
 * @property {'bandwidth' | 'last_n' | null} [held]  (out, video) why it is held for this subscriber
 * @property {number | null} [repairs]     (in, video) lost packets repaired by the publisher's retransmission
 * @property {number | null} [unrepaired]  (in, video) lost packets given up (a keyframe was asked for)
 * @property {number | null} [red_packets]    (in, audio) packets received as RED
 * @property {number | null} [red_recovered]  (in, audio) lost packets rebuilt from RED
 * @property {number | null} [red_malformed]  (in, audio) RED packets dropped: did not parse
 * @property {number | null} [retransmitted]      (out) packets resent to the subscriber on its NACKs
 * @property {number | null} [retransmit_misses]  (out) packets it asked for that the server did not have
 */

/**
 * @typedef {object} Alert
 * @property {string} id
 * @property {'freeze' | 'loss' | 'rtt' | 'publisher_gone' | 'log_lost' | 'media_reconnecting' | 'bandwidth_limited' | string} kind
 * @property {string} participant_id
 * @property {string | null} producer_id
 * @property {string | null} subscriber_id
 * @property {number} since
 * @property {number | null} value
 * @property {string} message
 */

/**
 * @typedef {object} MonitorStats
 * @property {number} at
 * @property {StreamStats[]} streams
 * @property {Alert[]} alerts
 * @property {ChannelStats[]} channels  one per open interpretation channel
 */

/**
 * An open interpretation channel as its listeners receive it, across handovers.
 * @typedef {object} ChannelStats
 * @property {string} id                   `channel:<language>`, as its alerts
 * @property {string} language
 * @property {string | null} interpreter_id  on air now
 * @property {string | null} producer_id
 * @property {number} packets
 * @property {number} bytes
 * @property {number} bitrate_kbps
 * @property {number} listeners            listeners and relaying interpreters
 * @property {boolean} silent              nothing forwarded within the last second
 * @property {number | null} silent_for
 */

/**
 * @typedef {object} MonitorAlert
 * @property {Alert} alert
 * @property {'raised' | 'cleared'} state
 */

// ------------------------------------------------------------ connection

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
 * @property {number} code    WebSocket close code (1000, 1001, 4001, 4003, 4004, 4009, 1006...)
 * @property {string} reason
 * @property {boolean} local  true when this side decided to close (leave(), close(), heartbeat)
 */

/**
 * @typedef {'new' | 'connecting' | 'joined' | 'reconnecting' | 'closed'} ConnectionState
 */

/**
 * Detail of `connectionstatechange`.
 * @typedef {object} StateDetail
 * @property {ConnectionState} signaling
 * @property {RTCPeerConnectionState | 'none'} publisher
 * @property {RTCPeerConnectionState | 'none'} subscriber
 * @property {boolean} mediaReconnecting  a peer connection failed (ICE) and a new one is being made
 */

/**
 * Detail of `reconnecting`.
 * @typedef {object} ReconnectInfo
 * @property {number} attempt  1 for the first retry
 * @property {number} delay    ms until this attempt
 * @property {number} code     close code of the connection that dropped
 * @property {string} reason
 * @property {boolean} unavailable  the last attempt was refused `unavailable` (the server cannot admit anyone now)
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {string} token                  join token from the link (`?t=`)
 * @property {string} [url]                  WebSocket URL; default: `/ws` on the page's origin
 * @property {RTCIceServer[]} [iceServers]   default: the TURN servers of each `welcome` (`ice_servers`)
 * @property {number} [gatherTimeout]        ms to wait for ICE gathering before sending what we have (5000)
 * @property {number} [pingAfter]            ms of silence before we send a `ping` (15000)
 * @property {number} [deadAfter]            ms without any message from the server before giving up (45000)
 * @property {number} [leaveTimeout]         ms to wait for the server to close after `leave` (2000)
 * @property {boolean} [reconnect]           rejoin after an unexpected drop (true)
 * @property {number} [reconnectBase]        first backoff delay, ms (1000)
 * @property {number} [reconnectMax]         longest backoff delay, ms (20000)
 * @property {number} [commandGrace]         ms after which a command with no reply and no `error` counts as done (2000)
 * @property {number} [attemptTimeout]       ms a re-created publisher connection may take to connect before the next try (4000)
 * @property {boolean} [simulcast]           publish the camera in three layers, {@link SIMULCAST_LAYERS} (true)
 * @property {string | null} [resumeToken]   a resume token kept from an earlier page (a reload): the first
 *                                           `hello` sends it as `resume`, to come back to the same seat
 */

/**
 * Close codes after which rejoining cannot help: a normal close, a refused
 * handshake, removal or refusal from the lobby, a technician's disconnect
 * (the participant rejoins by choice), the seat taken by another window.
 */
export const FINAL_CLOSE_CODES = new Set([1000, 1009, 4001, 4003, 4004, 4009]);

/** Redirects followed in a row before giving up (a loop between nodes). */
const MAX_REDIRECTS = 3;

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
 * Backoff before reconnection attempt `attempt` (1-based): doubling from
 * `base`, capped at `max`, with ±20 % jitter so that a room full of clients
 * does not come back in lockstep after a server restart.
 * @param {number} attempt
 * @param {number} base
 * @param {number} max
 * @param {() => number} [random]
 * @returns {number}
 */
export function backoffDelay(attempt, base, max, random = Math.random) {
  const plain = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(plain * (0.8 + 0.4 * random()));
}

/**
 * Resolves true once `pc` is connected, false if it fails, closes, or ICE
 * has not succeeded within `timeoutMs` (DTLS after ICE gets more time).
 * @param {RTCPeerConnection} pc
 * @param {number} timeoutMs
 * @returns {Promise<boolean>}
 */
export function connects(pc, timeoutMs) {
  return new Promise((resolve) => {
    /** @type {ReturnType<typeof setTimeout>} */
    let timer;
    const settle = (/** @type {boolean} */ ok) => {
      clearTimeout(timer);
      pc.removeEventListener('connectionstatechange', check);
      resolve(ok);
    };
    const expire = () => {
      // ICE through, DTLS still shaking hands: let it finish.
      if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') {
        timer = setTimeout(expire, timeoutMs);
      } else {
        settle(false);
      }
    };
    const check = () => {
      if (pc.connectionState === 'connected') settle(true);
      else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') settle(false);
    };
    pc.addEventListener('connectionstatechange', check);
    timer = setTimeout(expire, timeoutMs);
    check();
  });
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
 * and RED (RFC 2198, where the browser has it) for audio, in the browser's
 * own capability objects. The server answers RED first when offered, and
 * the browser then sends each Opus frame again in the next packet, which
 * rebuilds a frame lost on the way. Empty if the browser cannot tell (then
 * the SDP keeps every codec and the server picks).
 * @param {Kind} kind
 * @returns {RTCRtpCodec[]}
 */
export function preferredCodecs(kind) {
  const wanted = kind === 'video' ? ['video/vp8', 'video/rtx'] : ['audio/opus', 'audio/red'];
  const caps = globalThis.RTCRtpSender?.getCapabilities?.(kind) ??
    globalThis.RTCRtpReceiver?.getCapabilities?.(kind);
  const codecs = (caps?.codecs ?? []).filter((c) => wanted.includes(c.mimeType.toLowerCase()));
  // RTX alone is useless: require the main codec.
  return codecs.some((c) => c.mimeType.toLowerCase() === wanted[0]) ? codecs : [];
}

/**
 * The camera's simulcast encodings, lowest first: the server sends each
 * subscriber one of them, the floor holder's and the chair's high, other
 * delegations' as thumbnails (docs/protocol.md, Simulcast). From a 1280x720
 * camera: 320x180, 640x360, 1280x720.
 * @type {RTCRtpEncodingParameters[]}
 */
export const SIMULCAST_LAYERS = [
  {rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000},
  {rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000},
  {rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000},
];

/**
 * One participant's session: the signaling WebSocket and its two peer
 * connections.
 *
 * Events (all `CustomEvent`s; the payload is in `event.detail`):
 * - `welcome`              {@link Welcome}, after the first join and after every rejoin
 * - `room`                 {@link RoomUpdate}: the room state changed (floor, lobby, mutes...)
 * - `monitorstats`         {@link MonitorStats} (technicians)
 * - `checkreport`          a seat's connectivity check results (technicians)
 * - `monitoralert`         {@link MonitorAlert} (technicians)
 * - `participantjoined`    {participant: Participant}
 * - `participantleft`      {participant_id, reason, participant: Participant | null}
 * - `produceradded`        {producer: Producer}
 * - `producerremoved`      {producer_id, producer: Producer | null}
 * - `stream`               {@link RemoteStream}: a remote track is now playing this producer
 *                          (emitted again when a recycled m-line carries another producer)
 * - `streamended`          {@link RemoteStream}: that m-line no longer carries that producer
 * - `streamforwarded`      {@link RemoteStream}: its video was held for us or resumed
 *                          (`forwarded`, from `subscribe.streams`)
 * - `sharestopped`         {@link ShareStopped}: a screen share ended (ours too)
 * - `error`                {@link ProtocolError}
 * - `reconnecting`         {@link ReconnectInfo}: the socket dropped, a rejoin is scheduled
 * - `reconnected`          {attempts: number}: rejoined (a `welcome` follows... has been emitted)
 * - `close`                {@link CloseInfo} (once, when the connection is over for good)
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
    /** Where the socket connects; a `redirect` changes it. */
    this.url = options.url ?? defaultSignalingUrl();
    /** Where every rejoin starts (a `redirect` changes `url` for one attempt). @private */
    this._entryUrl = this.url;
    /** @type {RTCConfiguration} */
    this.rtcConfiguration = {
      iceServers: options.iceServers ?? [],
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    };
    /** @private */ this._turnFromWelcome = options.iceServers === undefined;
    /** @private */ this._gatherTimeout = options.gatherTimeout ?? 5000;
    /** @private */ this._pingAfter = options.pingAfter ?? 15000;
    /** @private */ this._deadAfter = options.deadAfter ?? 45000;
    /** @private */ this._leaveTimeout = options.leaveTimeout ?? 2000;
    /** @private */ this._reconnect = options.reconnect ?? true;
    /** @private */ this._reconnectBase = options.reconnectBase ?? 1000;
    /** @private */ this._reconnectMax = options.reconnectMax ?? 20000;
    /** @private */ this._commandGrace = options.commandGrace ?? 2000;
    /** @private */ this._attemptTimeout = options.attemptTimeout ?? 4000;
    /** @private */ this._simulcast = options.simulcast ?? true;
    /** The participant whose video this connection pinned (`video.pin`), or null. @type {string | null} */
    this.pinned = null;

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
    /** The latest `message.history` (null before the first). @type {ChatMessage[] | null} */
    this.messageHistory = null;
    /** Latest room state (`room.update`), or null before the first. @type {RoomState | null} */
    this.room = null;
    /** `seq` of the latest `room.update`. */
    this.roomSeq = -1;
    /** Server clock minus local clock, seconds (from `room.update.server_time`). */
    this.clockOffset = 0;
    /** Completed rejoins since `connect()`. */
    this.rejoins = 0;
    /** Session resume: the latest `welcome.resume_token`, sent as `hello.resume` on rejoin. @type {string | null} */
    this.resumeToken = options.resumeToken ?? null;

    /** @private @type {WebSocket | null} */ this._ws = null;
    /** @private */ this._nextId = 1;
    /**
     * Requests waiting for a reply, by id.
     * @private @type {Map<MessageId, {expect: string, resolve: (m: any) => void, reject: (e: Error) => void}>}
     */
    this._pending = new Map();
    /**
     * Room commands in flight (no reply on success), by id.
     * @private @type {Map<MessageId, {resolve: () => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout>}>}
     */
    this._commands = new Map();
    /** @private */ this._lastReceived = 0;
    /** @private */ this._lastSent = 0;
    /** @private */ this._lastPing = 0;
    /** @private @type {ReturnType<typeof setInterval> | undefined} */ this._heartbeat = undefined;
    /** @private @type {ReturnType<typeof setTimeout> | undefined} */ this._retryTimer = undefined;
    /** @private */ this._attempt = 0;
    /** @private @type {{resolve: (w: Welcome) => void, reject: (e: Error) => void} | null} */
    this._firstJoin = null;
    /** URL of a `redirect` received, followed when the socket closes. @private @type {string | null} */
    this._redirect = null;
    /** @private */ this._redirects = 0;
    /** Code of the `error` that refused the last `hello`. @private @type {string | null} */
    this._refusal = null;
    /** @private */ this._leaving = false;
    /** @private @type {Promise<unknown>} */ this._publishQueue = Promise.resolve();
    /** The screen share's transceiver on the publisher connection, once added. @private @type {RTCRtpTransceiver | null} */
    this._share = null;
    /** Whether our screen share is (being) published. */
    this.sharing = false;
    /** @private @type {Promise<unknown>} */ this._subscribeQueue = Promise.resolve();
    /** `publish.layers` applied one after the other. @private @type {Promise<unknown>} */
    this._layersQueue = Promise.resolve();
    /** The rids of the camera's encodings being sent since the last `publish.layers` (null: all). @type {string[] | null} */
    this.sentLayers = null;
    /**
     * Connections being re-created after an ICE failure (`publisher`: by us,
     * `subscriber`: by the server, which offers with `restart`).
     * @private @type {Set<'publisher' | 'subscriber'>}
     */
    this._recovering = new Set();
    /** Peer connections re-created so far, each side. */
    this.restarts = {publisher: 0, subscriber: 0};
    /** @private @type {Promise<CloseInfo> | null} */ this._closed = null;
    /** @private @type {(info: CloseInfo) => void} */ this._resolveClosed = () => {};
  }

  /**
   * Opens the WebSocket, sends `hello` and resolves with the `welcome`.
   * Rejects with a {@link PalabraError} (`invalid_token`, `token_expired`,
   * `room_locked`, `closed`...) if the server refuses or the socket closes
   * first. Called once; later rejoins are automatic.
   * @returns {Promise<Welcome>}
   */
  connect() {
    if (this.state !== 'new') {
      return Promise.reject(new PalabraError('already_connected', 'connect() may be called once'));
    }
    this._closed = new Promise((resolve) => { this._resolveClosed = resolve; });
    this._setState('connecting');
    return new Promise((resolve, reject) => {
      this._firstJoin = {resolve, reject};
      this._open();
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
   * Publishes `track` (from `getDisplayMedia`) as a screen share: one more
   * send-only video m-line, named in `publish.offer`'s `share`. A later
   * share reuses the m-line. Rejects with a {@link PalabraError}
   * (`forbidden` without the floor, `invalid_state` while someone else
   * shares...); nothing is shared then.
   * @param {MediaStreamTrack} track
   * @returns {Promise<void>}
   */
  shareScreen(track) {
    return this._queuePublish(() => this._shareScreen(track));
  }

  /**
   * Stops our screen share (the m-line goes inactive, the offer names no share).
   * @returns {Promise<void>}
   */
  stopSharing() {
    return this._queuePublish(() => this._stopSharing());
  }

  /**
   * The chair's command (or the sharer's own): stop `participantId`'s screen
   * share. Resolves with the `share.stopped` it caused.
   * @param {string} participantId
   * @returns {Promise<ShareStopped>}
   */
  stopShareOf(participantId) {
    return this._request({type: 'share.stop', participant_id: participantId}, 'share.stopped');
  }

  /**
   * @private
   * @param {() => Promise<void>} run
   * @returns {Promise<void>}
   */
  _queuePublish(run) {
    const p = this._publishQueue.then(run, run);
    this._publishQueue = p.catch(() => {});
    return p;
  }

  /** Whether the publisher connection has been negotiated since the last (re)join. */
  get published() {
    return this.publisher?.remoteDescription != null;
  }

  /**
   * Sends a room command (floor control, moderation, monitoring actions):
   * `type` is the command's kind (`floor.request`, `lobby.admit`...), `fields`
   * its fields. There is no reply on success: the `room.update` it causes
   * carries its id as `ref` in the issuer's copy, which resolves the promise;
   * an `error` with that `ref` rejects it with a {@link PalabraError}.
   * Commands that change no room state (`producer.keyframe`) resolve once
   * `commandGrace` ms pass without an error.
   * @param {string} type
   * @param {Record<string, unknown>} [fields]
   * @returns {Promise<void>}
   */
  command(type, fields = {}) {
    return new Promise((resolve, reject) => {
      let id;
      try {
        id = this.send({...fields, type});
      } catch (e) {
        reject(e);
        return;
      }
      const timer = setTimeout(() => {
        this._commands.delete(id);
        resolve();
      }, this._commandGrace);
      this._commands.set(id, {resolve, reject, timer});
    });
  }

  /**
   * Writes to a message thread ("delegation:<id>", "seat:<participant id>",
   * "everyone"); rejects with a {@link PalabraError} if refused.
   * @param {string} to
   * @param {string} text
   * @returns {Promise<void>}
   */
  sendMessage(to, text) {
    return this.command('message.send', {to, text});
  }

  /**
   * Chooses the interpretation channel heard besides the floor (null: the
   * floor only). Resolves with the channel once the server's `feed:listen`
   * stream carries it; rejects with a {@link PalabraError}.
   * @param {string | null} channel  an open channel's language, or null
   * @returns {Promise<string | null>}
   */
  async listen(channel) {
    const reply = await this._request({type: 'interpretation.listen', channel}, 'interpretation.listening');
    return reply.channel ?? null;
  }

  /**
   * Pins one participant's video (null: none): the server sends it in the
   * middle simulcast layer instead of the thumbnail; rejects with a
   * {@link PalabraError}. Said again after a rejoin.
   * @param {string | null} participantId
   * @returns {Promise<string | null>}
   */
  async pin(participantId) {
    const reply = await this._request({type: 'video.pin', participant_id: participantId}, 'video.pinned');
    this.pinned = typeof reply.participant_id === 'string' ? reply.participant_id : null;
    return this.pinned;
  }

  /**
   * The server's clock now (unix seconds), from the offset measured on the
   * latest `room.update`: countdowns use it, not the local clock.
   * @returns {number}
   */
  serverNow() {
    return Date.now() / 1000 + this.clockOffset;
  }

  /**
   * Skips the current backoff wait and tries to rejoin now.
   */
  reconnectNow() {
    if (this.state !== 'reconnecting') return;
    clearTimeout(this._retryTimer);
    this._attemptRejoin();
  }

  /**
   * Sends `leave`, waits briefly for the server to close the socket (1000),
   * and releases everything.
   * @returns {Promise<CloseInfo>}
   */
  async leave() {
    if (this.state === 'closed' || !this._closed) return this._closedInfo();
    this._leaving = true;
    if (this.state === 'joined' && this._ws?.readyState === WebSocket.OPEN) {
      this.send({type: 'leave'});
      const timeout = new Promise((resolve) => setTimeout(resolve, this._leaveTimeout));
      await Promise.race([this._closed, timeout]);
    }
    this._shutdown(1000, 'left', true);
    return this._closedInfo();
  }

  /**
   * Closes without `leave` (the server reports "disconnected"); no rejoin.
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
      mediaReconnecting: this._recovering.size > 0 ||
        this.publisher?.connectionState === 'failed' || this.subscriber?.connectionState === 'failed',
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
   * Opens a socket and sends `hello` on it. The `welcome` (or a refusal)
   * arrives through the dispatcher; a refusal of the first join rejects
   * `connect()`, a closed socket is handled by `_onSocketClose`.
   * @private
   */
  _open() {
    const ws = new WebSocket(this.url);
    this._ws = ws;
    ws.addEventListener('message', (e) => {
      if (this._ws === ws) this._onFrame(e.data);
    });
    ws.addEventListener('close', (e) => {
      if (this._ws === ws) this._onSocketClose(e.code, e.reason);
    });
    // An `error` event is always followed by `close`, which does the work.
    ws.addEventListener('open', () => {
      if (this._ws !== ws) return;
      this._lastReceived = Date.now();
      clearInterval(this._heartbeat);
      const tick = Math.max(250, Math.min(5000, this._pingAfter / 3));
      this._heartbeat = setInterval(() => this._checkHeartbeat(), tick);
      /** @type {{type: string, version: number, token: string, resume?: string}} */
      const hello = {type: 'hello', version: PROTOCOL_VERSION, token: this._token};
      if (this.resumeToken) hello.resume = this.resumeToken;
      this._request(hello, 'welcome').catch((e) => {
        // The server refused us (`invalid_token`, `room_locked`...): the first
        // join fails with that code. A socket that closed is handled elsewhere.
        if (e instanceof PalabraError && e.code !== 'closed') this._failFirstJoin(e);
      });
    }, {once: true});
  }

  /**
   * @private
   * @param {PalabraError} error
   */
  _failFirstJoin(error) {
    const first = this._firstJoin;
    this._firstJoin = null;
    first?.reject(error);
  }

  /**
   * The socket closed. Before the first join, or for a final code, the
   * connection is over; otherwise a rejoin is scheduled.
   * @private
   * @param {number} code
   * @param {string} reason
   */
  _onSocketClose(code, reason) {
    if (this.state === 'closed') return;
    const redirect = this._redirect;
    this._redirect = null;
    if (redirect && !this._leaving && this._redirects < MAX_REDIRECTS) {
      // The conference is on another node: say hello there, at once.
      this._redirects += 1;
      this._teardownSession(code, reason);
      this.url = redirect;
      this._open();
      return;
    }
    const everJoined = this.you !== null;
    // Refused because the server cannot record arrivals now: worth retrying.
    const unavailable = code === 4001 && this._refusal === 'unavailable';
    this._refusal = null;
    const final = FINAL_CLOSE_CODES.has(code) && !unavailable;
    if (this._leaving || !this._reconnect || !everJoined || final) {
      this._shutdown(code, reason, false);
      return;
    }
    this._scheduleRejoin(code, reason, unavailable);
  }

  /**
   * @private
   * @param {number} code
   * @param {string} reason
   * @param {boolean} [unavailable]
   */
  _scheduleRejoin(code, reason, unavailable = false) {
    this._teardownSession(code, reason);
    // A redirect's target may be the node that just failed: start over.
    this.url = this._entryUrl;
    this._attempt += 1;
    const delay = backoffDelay(this._attempt, this._reconnectBase, this._reconnectMax);
    if (this.state !== 'reconnecting') this._setState('reconnecting');
    /** @type {ReconnectInfo} */
    const info = {attempt: this._attempt, delay, code, reason, unavailable};
    this._emit('reconnecting', info);
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._attemptRejoin(), delay);
  }

  /** @private */
  _attemptRejoin() {
    if (this.state !== 'reconnecting') return;
    // The `welcome` completes it (see _onWelcome); a refusal (`error`, then a
    // final close) or a socket that never opens ends in _onSocketClose.
    this._open();
  }

  /**
   * Drops everything tied to one socket: pending requests, peer connections,
   * remote streams. The participant's identity and room state are kept.
   * @private
   * @param {number} code
   * @param {string} reason
   */
  _teardownSession(code, reason) {
    clearInterval(this._heartbeat);
    this._heartbeat = undefined;
    const why = `connection closed (${code}${reason ? `: ${reason}` : ''})`;
    for (const {reject} of this._pending.values()) reject(new PalabraError('closed', why));
    this._pending.clear();
    for (const {reject, timer} of this._commands.values()) {
      clearTimeout(timer);
      reject(new PalabraError('closed', why));
    }
    this._commands.clear();
    for (const s of this.streams.values()) this._emit('streamended', s);
    this.streams.clear();
    if (this.sharing && this.you) {
      // The server ends the share with the old peer connection.
      this._emit('sharestopped', {participant_id: this.you.id, producer_id: '', reason: 'left', actor: this.you.id});
    }
    this.sharing = false;
    this._share = null;
    this.publisher?.close();
    this.subscriber?.close();
    this.publisher = null;
    this.subscriber = null;
    this._recovering.clear();
    this.revision = -1;
    this._publishQueue = Promise.resolve();
    this._subscribeQueue = Promise.resolve();
    this._layersQueue = Promise.resolve();
    this.sentLayers = null;
    // Detach the socket first: its own `close` event must not count as another drop.
    const ws = this._ws;
    this._ws = null;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      // Browsers accept only 1000 and 3000-4999 from scripts.
      ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason.slice(0, 120));
    }
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
        if (this._ws?.readyState === WebSocket.OPEN) {
          this.send(msg.id !== undefined ? {type: 'pong', ref: msg.id} : {type: 'pong'});
        }
        return;
      case 'pong':
        return;
      case 'welcome':
        this._onWelcome(msg);
        return;
      case 'error':
        this._onError(msg);
        return;
      case 'room.update':
        this._onRoomUpdate(msg);
        return;
      case 'redirect':
        // The close (4010) that follows reconnects to this URL.
        if (typeof msg.url === 'string' && msg.url) this._redirect = msg.url;
        return;
      case 'monitor.stats':
        this._emit('monitorstats', /** @type {MonitorStats} */ ({
          at: Number(msg.at), streams: msg.streams ?? [], alerts: msg.alerts ?? [],
          channels: msg.channels ?? [],
        }));
        return;
      case 'message.history':
        // The seat's threads, whole, each time it enters the room (join, reload, admission).
        this.messageHistory = Array.isArray(msg.messages) ? msg.messages : [];
        this._emit('messagehistory', {messages: this.messageHistory});
        return;
      case 'monitor.alert':
        this._emit('monitoralert', /** @type {MonitorAlert} */ ({alert: msg.alert, state: msg.state}));
        return;
      case 'check.report':
        if (msg.report && typeof msg.report === 'object') this._emit('checkreport', msg.report);
        return;
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
      case 'share.stopped': {
        /** @type {ShareStopped} */
        const stopped = {
          participant_id: String(msg.participant_id), producer_id: String(msg.producer_id),
          reason: msg.reason, actor: String(msg.actor),
        };
        this._takePending('share.stopped', msg.ref)?.resolve(stopped);
        if (stopped.participant_id === this.you?.id && this.sharing) {
          // Stopped by the server (floor ended, the chair): stop sending too.
          this.stopSharing().catch((e) => console.warn('palabra: stopping the share failed', e));
        }
        this._emit('sharestopped', stopped);
        return;
      }
      case 'interpretation.listening': {
        this._takePending('interpretation.listening', msg.ref)?.resolve(msg);
        return;
      }
      case 'video.pinned': {
        this._takePending('video.pinned', msg.ref)?.resolve(msg);
        return;
      }
      case 'publish.answer': {
        const pending = this._takePending('publish.answer', msg.ref);
        pending?.resolve(msg);
        return;
      }
      case 'publish.layers': {
        const run = () => this._sendLayers(String(msg.mid), Array.isArray(msg.active) ? msg.active.map(String) : []);
        this._layersQueue = this._layersQueue.then(run, run).catch((e) => {
          console.warn('palabra: publish.layers could not be applied, every layer goes on', e);
        });
        return;
      }
      case 'subscribe.streams': {
        this._updateStreams(msg.streams ?? []);
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

  /** @private @param {any} msg */
  _onError(msg) {
    /** @type {ProtocolError} */
    const err = {code: String(msg.code), message: String(msg.message ?? '')};
    if (msg.ref !== undefined) err.ref = msg.ref;
    const failed = new PalabraError(err.code, err.message, err.ref);
    const command = msg.ref !== undefined ? this._commands.get(msg.ref) : undefined;
    if (command) {
      clearTimeout(command.timer);
      this._commands.delete(msg.ref);
      command.reject(failed);
    } else {
      let pending = this._takePending('error', msg.ref);
      // A refused hello may come back without ref: it still fails the join.
      const joining = this.state === 'connecting' || this.state === 'reconnecting';
      if (joining) this._refusal = err.code;
      if (!pending && joining) pending = this._takePending('welcome', undefined);
      pending?.reject(failed);
    }
    this._emit('error', err);
  }

  /** @private @param {Welcome} msg */
  _onWelcome(msg) {
    this.conference = msg.conference;
    this.you = msg.you;
    // Session resume: the server hands out a token to come back with after a drop.
    const resume = msg.resume_token ?? /** @type {any} */ (msg).resume;
    if (typeof resume === 'string' && resume) this.resumeToken = resume;
    // Short-lived TURN credentials, fresh in every welcome (used by the next peer connections).
    if (this._turnFromWelcome) {
      this.rtcConfiguration.iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
    }
    this.participants.clear();
    for (const p of msg.participants ?? []) {
      if (p.id !== msg.you?.id) this.participants.set(p.id, p);
    }
    this.producers.clear();
    for (const pr of msg.producers ?? []) this.producers.set(pr.id, pr);
    this.roomSeq = -1; // a restarted server may count again from the start
    this._redirects = 0;
    const rejoined = this.state === 'reconnecting';
    this._setState('joined');
    this._takePending('welcome', /** @type {any} */ (msg).ref)?.resolve(msg);
    const first = this._firstJoin;
    this._firstJoin = null;
    first?.resolve(msg);
    this._emit('welcome', msg);
    if (rejoined) {
      const attempts = this._attempt;
      this._attempt = 0;
      this.rejoins += 1;
      this._emit('reconnected', {attempts});
      // The server keeps a pin for the connection only: say it again.
      const pinned = this.pinned;
      this.pinned = null;
      if (pinned) this.pin(pinned).catch((e) => console.warn('palabra: pin not restored', e));
    }
  }

  /** @private @param {any} msg */
  _onRoomUpdate(msg) {
    const seq = Number(msg.seq);
    if (Number.isFinite(seq) && seq < this.roomSeq) return; // out of date
    const receivedAt = Date.now() / 1000;
    const serverTime = typeof msg.server_time === 'number' ? msg.server_time : receivedAt;
    this.clockOffset = serverTime - receivedAt;
    this.roomSeq = seq;
    this.room = msg.state;
    /** @type {RoomEvent[]} */
    const events = Array.isArray(msg.events) ? msg.events : [];
    /** @type {RoomUpdate} */
    const update = {seq, events, state: msg.state, serverTime, receivedAt};
    if (msg.ref !== undefined) update.ref = msg.ref;
    // The issuer's copy of the update names the command that caused it.
    const command = msg.ref !== undefined ? this._commands.get(msg.ref) : undefined;
    if (command) {
      clearTimeout(command.timer);
      this._commands.delete(msg.ref);
      command.resolve();
    }
    this._emit('room', update);
  }

  /** @private */
  _checkHeartbeat() {
    const now = Date.now();
    if (now - this._lastReceived >= this._deadAfter) {
      // Dead socket: treat it like a drop (rejoin), not like our choice to leave.
      const ws = this._ws;
      this._ws = null;
      ws?.close(4008, 'heartbeat timeout');
      this._onSocketClose(4008, 'heartbeat timeout');
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
    pc.addEventListener('connectionstatechange', () => {
      if (this[which] !== pc) return;
      if (pc.connectionState === 'connected') this._recovering.delete(which);
      // ICE failed (its UDP path was cut for ~30 s): the publisher is made
      // anew here; the server re-creates the subscriber and offers `restart`.
      if (pc.connectionState === 'failed' && which === 'publisher') this._restartPublisher();
      this._emit('connectionstatechange', this.states);
    });
    this[which] = pc;
    return pc;
  }

  /**
   * Publishes the same tracks on a new publisher connection (`publish.offer`
   * with `restart`): the server keeps them as the same producers. A try
   * that has not connected within `attemptTimeout` (the network is still
   * down) is replaced by a fresh one, so media returns soon after the network.
   * @private
   */
  _restartPublisher() {
    if (this._recovering.has('publisher')) return;
    this._recovering.add('publisher');
    const run = async () => {
      while (this.state === 'joined' && this._recovering.has('publisher')) {
        const old = this.publisher;
        // Same kinds in the same order (same mids), a muted one without its track.
        const senders = (old?.getTransceivers() ?? []).map((t) => ({
          kind: /** @type {Kind} */ (t.receiver.track.kind), track: t.sender.track, share: t === this._share,
        }));
        if (!old || senders.length === 0) break;
        this.publisher = null;
        old.close();
        const pc = this._peer('publisher');
        this.restarts.publisher += 1;
        this._emit('connectionstatechange', this.states);
        try {
          const stream = new MediaStream(senders.flatMap((s) => (s.track ? [s.track] : [])));
          for (const {kind, track, share} of senders) {
            this._addSender(pc, track ?? kind, stream);
            if (share) this._share = pc.getTransceivers().at(-1) ?? null;  // the share goes on
          }
          await this._offerPublisher(pc, true);
        } catch (e) {
          console.warn('palabra: publisher restart failed, trying again', e);
        }
        if (await connects(pc, this._attemptTimeout)) break;
      }
      this._recovering.delete('publisher');
      this._emit('connectionstatechange', this.states);
    };
    const p = this._publishQueue.then(run, run);
    this._publishQueue = p.catch(() => {});
  }

  /**
   * @private
   * @param {RTCPeerConnection} pc
   * @param {MediaStreamTrack | Kind} track  a track, or the kind of one to come
   * @param {MediaStream} stream
   */
  _addSender(pc, track, stream) {
    const kind = typeof track === 'string' ? track : /** @type {Kind} */ (track.kind);
    /** @type {RTCRtpTransceiverInit} */
    const init = {direction: 'sendonly', streams: [stream]};
    // The camera (a share is added elsewhere): the server picks a layer per subscriber.
    if (kind === 'video' && this._simulcast) init.sendEncodings = SIMULCAST_LAYERS.map((e) => ({...e}));
    const tr = pc.addTransceiver(track, init);
    const codecs = preferredCodecs(kind);
    if (codecs.length && typeof tr.setCodecPreferences === 'function') {
      try {
        tr.setCodecPreferences(codecs);
      } catch (e) {
        console.warn('palabra: setCodecPreferences failed, the server will pick', e);
      }
    }
  }

  /**
   * Sends only the camera encodings the server names (`publish.layers`): the
   * others nobody watches. Unknown rids are ignored, and a list naming none
   * of the camera's encodings changes nothing: never is every encoding off.
   * @private
   * @param {string} mid  the camera's section on the publisher connection
   * @param {string[]} active  the rids to send
   */
  async _sendLayers(mid, active) {
    const tr = this.publisher?.getTransceivers().find((t) => t.mid === mid && t !== this._share);
    if (!tr) return;
    const params = tr.sender.getParameters();
    const encodings = params.encodings ?? [];
    if (!encodings.some((e) => e.rid && active.includes(e.rid))) return;
    let changed = false;
    for (const encoding of encodings) {
      if (!encoding.rid) continue;
      const on = active.includes(encoding.rid);
      if (encoding.active !== on) {
        encoding.active = on;
        changed = true;
      }
    }
    if (changed) await tr.sender.setParameters(params);
    this.sentLayers = encodings.filter((e) => e.active !== false).map((e) => String(e.rid));
  }

  /**
   * Offers the publisher connection and applies the server's answer.
   * @private
   * @param {RTCPeerConnection} pc
   * @param {boolean} restart  a new connection replacing one whose ICE failed
   */
  async _offerPublisher(pc, restart) {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await waitForIceGathering(pc, this._gatherTimeout);
    const sdp = /** @type {RTCSessionDescription} */ (pc.localDescription).sdp;
    /** @type {{type: string, sdp: string, share?: string, restart?: boolean}} */
    const message = {type: 'publish.offer', sdp};
    const share = this._share;
    if (this.sharing && share?.mid && pc.getTransceivers().includes(share)) message.share = share.mid;
    if (restart) message.restart = true;
    try {
      const answer = await this._request(message, 'publish.answer');
      if (this.publisher !== pc || pc.signalingState === 'closed') return;
      await pc.setRemoteDescription({type: 'answer', sdp: String(answer.sdp)});
    } catch (e) {
      // Refused: nothing changed on the server; go back to the last agreed state.
      if (this.publisher === pc && pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({type: 'rollback'}).catch(() => {});
      }
      throw e;
    }
  }

  /** @private @param {MediaStream} stream */
  async _publish(stream) {
    if (this.state !== 'joined') throw new PalabraError('not_joined', 'publish() needs a joined connection');
    const pc = this._peer('publisher');
    let renegotiate = !pc.remoteDescription;
    for (const kind of /** @type {Kind[]} */ (['audio', 'video'])) {
      const track = stream.getTracks().find((t) => t.kind === kind);
      if (!track) continue;
      const existing = pc.getTransceivers().find((t) => t !== this._share && (t.sender.track?.kind === kind ||
        (t.receiver.track.kind === kind && t.direction === 'sendonly')));
      if (existing) {
        await existing.sender.replaceTrack(track);
        continue;
      }
      this._addSender(pc, track, stream);
      renegotiate = true;
    }
    if (!renegotiate) return;
    await this._offerPublisher(pc, false);
  }

  /** @private @param {MediaStreamTrack} track */
  async _shareScreen(track) {
    if (this.state !== 'joined' || !this.publisher?.remoteDescription) {
      throw new PalabraError('not_joined', 'share after publishing camera and microphone');
    }
    const pc = this.publisher;
    let transceiver = this._share;
    if (transceiver && pc.getTransceivers().includes(transceiver)) {
      await transceiver.sender.replaceTrack(track);
      transceiver.direction = 'sendonly';
    } else {
      transceiver = pc.addTransceiver(track, {direction: 'sendonly'});
      const codecs = preferredCodecs('video');
      if (codecs.length && typeof transceiver.setCodecPreferences === 'function') {
        try {
          transceiver.setCodecPreferences(codecs);
        } catch (e) {
          console.warn('palabra: setCodecPreferences failed, the server will pick', e);
        }
      }
      this._share = transceiver;
    }
    this.sharing = true;
    try {
      await this._offerPublisher(pc, false);
    } catch (e) {
      this.sharing = false;
      transceiver.direction = 'inactive';
      await transceiver.sender.replaceTrack(null);
      throw e;
    }
  }

  /** @private */
  async _stopSharing() {
    const transceiver = this._share;
    if (!this.sharing || !transceiver || !this.publisher) return;
    this.sharing = false;
    transceiver.direction = 'inactive';
    await transceiver.sender.replaceTrack(null);
    await this._offerPublisher(this.publisher, false);
  }

  /**
   * @private
   * @param {{sdp: string, revision: number, streams?: Stream[], restart?: boolean}} msg
   */
  async _onSubscribeOffer(msg) {
    if (this.state !== 'joined') return;
    if (msg.restart === true && this.subscriber) {
      // The server re-created the subscriber connection (ICE failed): answer on a new one.
      const old = this.subscriber;
      this.subscriber = null;
      old.close();
      for (const s of this.streams.values()) this._emit('streamended', s);
      this.streams.clear();
      this._recovering.add('subscriber');
      this.restarts.subscriber += 1;
    }
    const pc = this._peer('subscriber');
    await pc.setRemoteDescription({type: 'offer', sdp: String(msg.sdp)});
    this._mapStreams(pc, msg.streams ?? []);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await waitForIceGathering(pc, this._gatherTimeout);
    if (this.subscriber !== pc || this.state !== 'joined') return;
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
    this._mapStreamsOnly(pc, streams);
    this._updateStreams(streams);
  }

  /**
   * What the server says of the mapped streams now: `forwarded` (videos held
   * for this participant's downlink or by last-N).
   * @private
   * @param {Stream[]} streams
   */
  _updateStreams(streams) {
    for (const s of streams) {
      const current = this.streams.get(String(s.mid));
      if (!current || current.producer_id !== s.producer_id) continue;
      const forwarded = s.forwarded ?? null;
      if ((current.forwarded ?? null) === forwarded) continue;
      current.forwarded = forwarded;
      this._emit('streamforwarded', current);
    }
  }

  /**
   * @private
   * @param {RTCPeerConnection} pc
   * @param {Stream[]} streams
   */
  _mapStreamsOnly(pc, streams) {
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
        source: s.source ?? null,
        track,
        participant: this.participants.get(s.participant_id) ??
          (s.participant_id === this.you?.id ? this.you : null),
      };
      this.streams.set(mid, remote);
      this._emit('stream', remote);
    }
  }

  /**
   * Idempotent final teardown; emits `streamended` for live streams, then `close`.
   * @private
   * @param {number} code
   * @param {string} reason
   * @param {boolean} local
   */
  _shutdown(code, reason, local) {
    if (this.state === 'closed') return;
    clearTimeout(this._retryTimer);
    this._teardownSession(code, reason);
    this.state = 'closed';
    this._failFirstJoin(new PalabraError('closed', `connection closed (${code}) before joining`));
    /** @type {CloseInfo} */
    const info = {code, reason, local};
    this._resolveClosed(info);
    this._emit('close', info);
    this._emit('connectionstatechange', this.states);
  }
}
