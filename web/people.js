// Who is who: names, roles and delegations of participant ids, from the
// `welcome` and presence messages and from the room state. No DOM.

/** @typedef {import('./protocol.js').PalabraConnection} PalabraConnection */
/** @typedef {import('./protocol.js').Delegation} Delegation */

/**
 * A participant as the pages show them.
 * @typedef {object} Person
 * @property {string} id
 * @property {string} name
 * @property {string} role
 * @property {Delegation | null} delegation
 */

/**
 * Resolves participant and delegation ids against everything the
 * connection knows.
 */
export class Directory {
  /** @param {PalabraConnection} conn */
  constructor(conn) {
    /** @private */ this._conn = conn;
    /** Everyone seen so far, so that someone who left (an alert about a
     * publisher gone) is still named, never shown as a raw id. @private @type {Map<string, Person>} */
    this._seen = new Map();
    conn.addEventListener('participantleft', (e) => {
      const gone = /** @type {CustomEvent<{participant: Person | null}>} */ (e).detail.participant;
      if (gone) this._seen.set(gone.id, gone);
    });
  }

  /**
   * @param {string | null | undefined} delegationId
   * @returns {Delegation | null}
   */
  delegation(delegationId) {
    if (!delegationId) return null;
    const d = this._conn.room?.delegations.find((x) => x.delegation_id === delegationId);
    if (d) return {id: d.delegation_id, name: d.name, code: d.country_code};
    for (const p of this._conn.participants.values()) {
      if (p.delegation?.id === delegationId) return p.delegation;
    }
    const you = this._conn.you;
    if (you?.delegation?.id === delegationId) return you.delegation;
    return {id: delegationId, name: delegationId, code: delegationId.toUpperCase()};
  }

  /**
   * @param {string} id
   * @returns {Person}
   */
  person(id) {
    const conn = this._conn;
    if (conn.you?.id === id) return conn.you;
    const known = conn.participants.get(id);
    if (known) {
      this._seen.set(id, known);
      return known;
    }
    const room = conn.room;
    const p = room?.participants.find((x) => x.participant_id === id) ??
      room?.lobby.find((x) => x.participant_id === id);
    if (p) {
      const person = {id, name: p.name, role: p.role, delegation: this.delegation(p.delegation_id)};
      this._seen.set(id, person);
      return person;
    }
    return this._seen.get(id) ?? {id, name: id, role: 'observer', delegation: null};
  }

  /** @param {string} id */
  name(id) {
    return this.person(id).name;
  }
}
