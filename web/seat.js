// What a tab remembers of its seat across a reload, a closed lid or a browser
// restart with session restore: the resume token and whether the participant
// had entered the meeting. Kept in sessionStorage (per tab, per join link), so
// a reload comes back to the same seat, place on the speakers list and floor,
// and skips the device check it already passed. Only the Leave button, a
// removal or the end of the session forget it.

/**
 * @typedef {object} RememberedSeat
 * @property {string | null} resume   the latest `welcome.resume_token`
 * @property {boolean} entered        had passed the device check and entered
 */

/** @param {string} token */
const keyOf = (token) => `palabra.seat.${token}`;

/**
 * @param {string} token  the join token of the link
 * @returns {RememberedSeat}
 */
export function loadSeat(token) {
  try {
    const raw = JSON.parse(sessionStorage.getItem(keyOf(token)) ?? 'null');
    if (raw && typeof raw === 'object') {
      return {
        resume: typeof raw.resume === 'string' && raw.resume ? raw.resume : null,
        entered: raw.entered === true,
      };
    }
  } catch {
    // Storage refused (private mode) or garbled: start afresh.
  }
  return {resume: null, entered: false};
}

/**
 * @param {string} token
 * @param {Partial<RememberedSeat>} change
 */
export function saveSeat(token, change) {
  try {
    sessionStorage.setItem(keyOf(token), JSON.stringify({...loadSeat(token), ...change}));
  } catch {
    // Without storage a reload joins like a first visit: the seat still waits for the grace.
  }
}

/** @param {string} token */
export function forgetSeat(token) {
  try {
    sessionStorage.removeItem(keyOf(token));
  } catch {
    // nothing kept
  }
}
