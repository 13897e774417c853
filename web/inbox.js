// The seat's messages, by thread, and what it has not read yet. No DOM.
//
// The server sends only what this seat may read: `message.history` (all of
// it, each time the seat enters the room) and `message.sent` events in
// `room.update`. Which threads the seat can write to follows its role:
//   chair                   one thread per delegation (the secretariat's side),
//                           and its own seat's thread with the technicians
//   technician              one thread per seat in the room
//   delegation member       its delegation's thread with the secretariat, and
//                           its own seat's thread with the technicians
//   anyone else             its own seat's thread with the technicians
// plus `everyone` while the chair has opened the public chat. The chair's and
// the technicians' long lists put the latest conversation first.
// Unread counts are kept here: the last message shown in each thread is
// remembered in localStorage (per conference and seat), so a reload does not
// make everything unread again.

/** @typedef {import('./protocol.js').ChatMessage} ChatMessage */
/** @typedef {import('./protocol.js').RoomState} RoomState */
/** @typedef {import('./protocol.js').RoomEvent} RoomEvent */
/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * A thread as the panel lists it.
 * @typedef {object} Thread
 * @property {string} id
 * @property {'delegation' | 'secretariat' | 'technicians' | 'seat' | 'everyone'} kind
 *   delegation: the chair's view of a delegation's thread; secretariat: the
 *   delegation's view of its own; technicians: a seat's view of its own seat
 *   thread; seat: the technicians' view of a seat's thread
 * @property {string | null} delegationId
 * @property {string | null} participantId
 */

export const EVERYONE = 'everyone';
export const MAX_TEXT = 2000;

/** @param {string} id  "m12" -> 12 */
const number = (id) => Number(String(id).slice(1)) || 0;

/**
 * @param {RoomEvent} event  a `message.sent` event
 * @returns {ChatMessage}
 */
function fromEvent(event) {
  const e = /** @type {any} */ (event);
  return {
    message_id: e.message_id, thread: e.thread, at: e.at, sender_id: e.actor,
    sender_name: e.sender_name, sender_role: e.sender_role,
    sender_delegation: e.sender_delegation ?? null, text: e.text,
  };
}

export class Inbox extends EventTarget {
  /**
   * @param {string} storageKey  where the read marks are kept
   */
  constructor(storageKey) {
    super();
    /** @private */ this._key = storageKey;
    /** @type {ChatMessage[]} */ this.messages = [];
    /** thread -> number of the last message read. @private @type {Record<string, number>} */
    this._read = this._load();
  }

  /**
   * Replaces everything with the server's history (on every entry into the room).
   * @param {ChatMessage[]} messages
   */
  replace(messages) {
    this.messages = [...messages].sort((a, b) => number(a.message_id) - number(b.message_id));
    this._changed([]);
  }

  /**
   * Takes the `message.sent` events of a room update.
   * @param {RoomEvent[]} events
   * @returns {ChatMessage[]} the new ones
   */
  take(events) {
    const known = new Set(this.messages.map((m) => m.message_id));
    const added = events.filter((e) => e.type === 'message.sent').map(fromEvent)
      .filter((m) => !known.has(m.message_id));
    if (added.length === 0) return [];
    this.messages.push(...added);
    this.messages.sort((a, b) => number(a.message_id) - number(b.message_id));
    this._changed(added);
    return added;
  }

  /**
   * @param {string} thread
   * @returns {ChatMessage[]}
   */
  of(thread) {
    return this.messages.filter((m) => m.thread === thread);
  }

  /**
   * Messages of others in the thread after the last one read.
   * @param {string} thread
   * @param {string} you
   */
  unread(thread, you) {
    const read = this._read[thread] ?? 0;
    return this.of(thread).filter((m) => m.sender_id !== you && number(m.message_id) > read).length;
  }

  /** @param {string} you */
  totalUnread(you) {
    const threads = new Set(this.messages.map((m) => m.thread));
    let total = 0;
    for (const thread of threads) total += this.unread(thread, you);
    return total;
  }

  /** @param {string} thread */
  markRead(thread) {
    const last = this.of(thread).at(-1);
    if (!last || number(last.message_id) <= (this._read[thread] ?? 0)) return;
    this._read[thread] = number(last.message_id);
    this._save();
    this._changed([]);
  }

  /**
   * @private
   * @param {ChatMessage[]} added
   */
  _changed(added) {
    this.dispatchEvent(new CustomEvent('change', {detail: {added}}));
  }

  /** @private @returns {Record<string, number>} */
  _load() {
    try {
      const raw = JSON.parse(localStorage.getItem(this._key) ?? '{}');
      return raw && typeof raw === 'object' ? raw : {};
    } catch {
      return {};
    }
  }

  /** @private */
  _save() {
    try {
      localStorage.setItem(this._key, JSON.stringify(this._read));
    } catch {
      // without storage the marks last as long as the page
    }
  }
}

/**
 * The threads this seat may write to and read, in the order the panel lists them.
 * @param {Participant} you
 * @param {RoomState | null} state
 * @param {ChatMessage[]} messages  threads with history stay listed (a seat that left)
 * @returns {Thread[]}
 */
export function threadsFor(you, state, messages) {
  /** @type {Thread[]} */
  const threads = [];
  /** @param {Omit<Thread, 'delegationId' | 'participantId'> & Partial<Thread>} thread */
  const add = (thread) => {
    if (!threads.some((x) => x.id === thread.id)) {
      threads.push({delegationId: null, participantId: null, ...thread});
    }
  };
  const own = `seat:${you.id}`;
  if (you.role === 'chair') {
    for (const d of state?.delegations ?? []) {
      add({id: `delegation:${d.delegation_id}`, kind: 'delegation', delegationId: d.delegation_id});
    }
    add({id: own, kind: 'technicians', participantId: you.id});
  } else if (you.role === 'technician') {
    for (const p of state?.participants ?? []) {
      if (p.participant_id === you.id) continue;
      add({id: `seat:${p.participant_id}`, kind: 'seat', participantId: p.participant_id});
    }
    for (const m of messages) {
      if (m.thread.startsWith('seat:')) {
        add({id: m.thread, kind: 'seat', participantId: m.thread.slice('seat:'.length)});
      }
    }
  } else {
    if (you.delegation) {
      add({id: `delegation:${you.delegation.id}`, kind: 'secretariat', delegationId: you.delegation.id});
    }
    add({id: own, kind: 'technicians', participantId: you.id});
  }
  if (you.role === 'chair' || you.role === 'technician') byActivity(threads, messages);
  if (state?.settings.public_chat || messages.some((m) => m.thread === EVERYONE)) {
    add({id: EVERYONE, kind: 'everyone'});
  }
  return threads;
}

/**
 * Many threads (the chair's 20-40 delegations, every seat for a technician):
 * the latest conversation first, then the quiet ones in their usual order.
 * @param {Thread[]} threads  sorted in place
 * @param {ChatMessage[]} messages  oldest first
 */
function byActivity(threads, messages) {
  /** @type {Map<string, number>} */
  const latest = new Map();
  for (const m of messages) latest.set(m.thread, number(m.message_id));
  const order = new Map(threads.map((x, i) => [x.id, i]));
  threads.sort((a, b) => (latest.get(b.id) ?? 0) - (latest.get(a.id) ?? 0)
    || /** @type {number} */ (order.get(a.id)) - /** @type {number} */ (order.get(b.id)));
}
