// Reading the room state (`room.update`): who holds the floor, where a
// delegation stands on the speakers list, how long a speaker has left. Pure
// functions of the snapshot; no DOM.

import {agendaLetsSpeak} from './agenda.js';

/** @typedef {import('./protocol.js').RoomState} RoomState */
/** @typedef {import('./protocol.js').RoomParticipant} RoomParticipant */
/** @typedef {import('./protocol.js').RoomDelegation} RoomDelegation */
/** @typedef {import('./protocol.js').FloorRequest} FloorRequest */
/** @typedef {import('./protocol.js').Priority} Priority */
/** @typedef {import('./protocol.js').Presence} Presence */

/** Priorities in the order the speakers list hears them. */
export const PRIORITIES = /** @type {const} */ (['ordinary', 'point_of_order', 'right_of_reply']);

/** Roles that speak for a delegation (and may ask for the floor). */
export const SPEAKING_ROLES = new Set(['head', 'delegate']);

/**
 * @param {RoomState | null} state
 * @param {string | null | undefined} delegationId
 * @returns {RoomDelegation | undefined}
 */
export function delegationOf(state, delegationId) {
  if (!state || !delegationId) return undefined;
  return state.delegations.find((d) => d.delegation_id === delegationId);
}

/**
 * @param {RoomState | null} state
 * @param {string} participantId
 * @returns {RoomParticipant | undefined}
 */
export function participantOf(state, participantId) {
  return state?.participants.find((p) => p.participant_id === participantId);
}

/**
 * Whether the participant's connection is live (lobby entries count as connected).
 * @param {RoomState | null} state
 * @param {string} participantId
 * @returns {Presence}
 */
export function presenceOf(state, participantId) {
  return participantOf(state, participantId)?.presence ?? 'connected';
}

/** Presence from best to worst. */
const PRESENCE_ORDER = /** @type {Presence[]} */ (['connected', 'reconnecting', 'disconnected']);

/**
 * Whether whoever would speak for a request is connected: its named speaker
 * if in the room, else the best of the delegation's heads and delegates (the
 * server counts it the same way to stop the clock of a disconnected holder).
 * @param {RoomState | null} state
 * @param {FloorRequest} request
 * @returns {Presence}
 */
export function requestPresence(state, request) {
  if (!state) return 'connected';
  const named = request.speaker_id ? participantOf(state, request.speaker_id) : undefined;
  if (named) return named.presence ?? 'connected';
  const speakers = state.participants.filter((p) => p.delegation_id === request.delegation_id &&
    SPEAKING_ROLES.has(p.role));
  if (speakers.length === 0) return 'disconnected';
  const ranks = speakers.map((p) => PRESENCE_ORDER.indexOf(p.presence ?? 'connected'));
  return PRESENCE_ORDER[Math.min(...ranks)];
}

/**
 * The time of a turn's clock at `now`: while the holder is disconnected the
 * clock stands still at the moment it stopped.
 * @param {FloorRequest} holder
 * @param {number} now
 */
export function turnClock(holder, now) {
  const paused = holder.turn?.paused_at;
  return typeof paused === 'number' ? paused : now;
}

/**
 * Whether the holder's clock stands still (the holder is disconnected).
 * @param {FloorRequest} holder
 */
export function paused(holder) {
  return typeof holder.turn?.paused_at === 'number';
}

/**
 * Whether the participant waits in the lobby.
 * @param {RoomState | null} state
 * @param {string} participantId
 */
export function inLobby(state, participantId) {
  return Boolean(state?.lobby.some((p) => p.participant_id === participantId));
}

/**
 * Whether the participant is in the room proper (admitted, or never waited).
 * @param {RoomState | null} state
 * @param {string} participantId
 */
export function admitted(state, participantId) {
  return Boolean(participantOf(state, participantId));
}

/**
 * The delegation's open floor request (pending, queued or granted), if any.
 * @param {RoomState | null} state
 * @param {string | null | undefined} delegationId
 * @returns {FloorRequest | undefined}
 */
export function openRequest(state, delegationId) {
  if (!state || !delegationId) return undefined;
  return [...state.holders, ...state.queue, ...state.pending]
    .find((r) => r.delegation_id === delegationId);
}

/**
 * Seconds left of a speaking turn (negative in overtime), or null when
 * unlimited. `now` is the server's clock.
 * @param {FloorRequest} holder
 * @param {number} now
 * @returns {number | null}
 */
export function remaining(holder, now) {
  const expires = holder.turn?.expires_at;
  return typeof expires === 'number' ? expires - turnClock(holder, now) : null;
}

/**
 * Seconds spoken so far (pauses left out).
 * @param {FloorRequest} holder
 * @param {number} now
 */
export function spoken(holder, now) {
  const turn = holder.turn;
  if (!turn) return 0;
  return Math.max(0, turnClock(holder, now) - turn.granted_at - (turn.paused_for ?? 0));
}

/**
 * The phase of a speaking turn at `now`: the warning starts at `warn_at`,
 * overtime at `expires_at` (the grace period before the automatic revoke).
 * @param {FloorRequest} holder
 * @param {number} now
 * @returns {'normal' | 'warning' | 'overtime' | 'unlimited'}
 */
export function phase(holder, now) {
  now = turnClock(holder, now);
  const turn = holder.turn;
  if (!turn || turn.expires_at === null) return 'unlimited';
  if (turn.overtime || now >= turn.expires_at) return 'overtime';
  if (turn.warned || (turn.warn_at !== null && now >= turn.warn_at)) return 'warning';
  return 'normal';
}

/**
 * "m:ss" (or "h:mm:ss"); negative values get a leading minus.
 * @param {number} seconds
 * @returns {string}
 */
export function clock(seconds) {
  const sign = seconds < 0 ? '−' : '';
  const total = Math.max(0, Math.ceil(Math.abs(seconds) - 0.001));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${sign}${h ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/**
 * The participant who speaks for a floor request: its named speaker, else
 * the delegation's head, else any member in the room.
 * @param {RoomState} state
 * @param {FloorRequest} request
 * @returns {RoomParticipant | undefined}
 */
export function speakerOf(state, request) {
  if (request.speaker_id) {
    const named = participantOf(state, request.speaker_id);
    if (named) return named;
  }
  const members = state.participants.filter((p) => p.delegation_id === request.delegation_id);
  return members.find((p) => p.role === 'head') ?? members.find((p) => SPEAKING_ROLES.has(p.role)) ??
    members[0];
}

/**
 * Whether `participant` may ask for the floor for its delegation (heads
 * always; delegates when their head allows it; an observer delegation only
 * while an item open to observers is current).
 * @param {RoomState | null} state
 * @param {{role: string, delegation_id?: string | null, delegation?: {id: string} | null}} participant
 */
export function mayRequestFloor(state, participant) {
  const delegationId = participant.delegation_id ?? participant.delegation?.id ?? null;
  if (!delegationId || !agendaLetsSpeak(state, delegationId)) return false;
  if (participant.role === 'head') return true;
  if (participant.role !== 'delegate') return false;
  return Boolean(delegationOf(state, delegationId)?.delegates_may_request);
}
