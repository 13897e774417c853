// The order of business as the room state carries it: the agenda and its
// current item, the delegations' budgets, the roll call and the decisions
// (see docs/protocol.md, "Order of business"). Pure helpers, no DOM.

import {lang} from './i18n.js';

/** @typedef {import('./protocol.js').RoomState} RoomState */

/**
 * @typedef {object} AgendaItem
 * @property {string} item_id
 * @property {{language: string, text: string}[]} titles
 * @property {number | null} planned_duration
 * @property {number | null} budget
 * @property {'upcoming' | 'open' | 'closed'} status
 * @property {string[]} speakers  pre-registered delegations, in order
 * @property {number | null} opened_at
 * @property {number | null} closed_at
 * @property {boolean} observers  observer delegations may be inscribed and speak on it
 * @property {string | null} parent  the item this is a sub-item of
 * @property {string} number  in agenda order: "2", a sub-item "2.1"
 */

/**
 * @typedef {object} Budget
 * @property {string} delegation_id
 * @property {number} allowance
 * @property {number} extra
 * @property {number} spent
 * @property {number} remaining
 */

/**
 * @typedef {object} Agenda
 * @property {AgendaItem[]} items  in agenda order, each item followed by its sub-items
 * @property {string | null} current
 * @property {string | null} next
 * @property {Budget[]} budgets  of the current item, when it has a budget
 */

/**
 * @typedef {object} RollCall
 * @property {{count: number | null, fraction: number | null}} quorum
 * @property {string | null} roll_call_id
 * @property {boolean} open
 * @property {string[]} answered
 * @property {string[]} present
 * @property {string[]} absent
 * @property {number} required
 * @property {boolean} quorum_met
 */

/**
 * @typedef {object} Decision
 * @property {string} decision_id
 * @property {'consensus' | 'vote'} kind
 * @property {string | null} item_id
 * @property {string} text
 * @property {number} opened_at
 * @property {number | null} closes_at
 * @property {boolean} open
 * @property {{delegation_id: string, ballot: 'yes' | 'no' | 'abstain'}[]} ballots
 * @property {string[]} objections
 * @property {number} yes
 * @property {number} no
 * @property {number} abstain
 * @property {boolean | null} adopted
 */

export const BALLOTS = /** @type {const} */ (['yes', 'no', 'abstain']);

/**
 * @param {RoomState | null} state
 * @returns {Agenda | null}
 */
export function agendaOf(state) {
  return /** @type {any} */ (state)?.agenda ?? null;
}

/**
 * @param {RoomState | null} state
 * @returns {RollCall | null}
 */
export function rollCallOf(state) {
  return /** @type {any} */ (state)?.roll_call ?? null;
}

/**
 * @param {RoomState | null} state
 * @returns {Decision[]}
 */
export function decisionsOf(state) {
  return /** @type {any} */ (state)?.decisions ?? [];
}

/**
 * @param {RoomState | null} state
 * @returns {AgendaItem | null}
 */
export function currentItem(state) {
  const agenda = agendaOf(state);
  return agenda?.items.find((i) => i.item_id === agenda.current) ?? null;
}

/**
 * The item's title in the page's language, else the first one given.
 * @param {AgendaItem} item
 * @returns {string}
 */
export function itemTitle(item) {
  return (item.titles.find((x) => x.language === lang()) ?? item.titles[0])?.text ?? item.item_id;
}

/**
 * @param {RoomState | null} state
 * @returns {Decision | null}
 */
export function openDecision(state) {
  return decisionsOf(state).find((d) => d.open) ?? null;
}

/**
 * The last decision taken (closed), if any.
 * @param {RoomState | null} state
 * @returns {Decision | null}
 */
export function lastResult(state) {
  return decisionsOf(state).filter((d) => !d.open).at(-1) ?? null;
}

/**
 * Whether `you` answers for its delegation on decisions: its head, or the
 * delegate the head designated.
 * @param {RoomState | null} state
 * @param {{id: string, role: string}} you
 * @param {string | null} delegationId
 */
export function answersForDelegation(state, you, delegationId) {
  if (!delegationId || isObserver(state, delegationId)) return false;
  if (you.role === 'head') return true;
  const designated = /** @type {any} */ (state)?.designated_voters ?? {};
  return you.role === 'delegate' && designated[delegationId] === you.id;
}

/**
 * Whether the delegation is an observer (an organisation: no vote, no quorum).
 * @param {RoomState | null} state
 * @param {string | null} delegationId
 */
export function isObserver(state, delegationId) {
  return Boolean(state?.delegations.find((d) => d.delegation_id === delegationId)?.observer);
}

/**
 * Whether the delegation may ask for the floor now as far as the agenda goes:
 * a member always; an observer only while an item open to observers is current.
 * @param {RoomState | null} state
 * @param {string | null} delegationId
 */
export function agendaLetsSpeak(state, delegationId) {
  return !isObserver(state, delegationId) || Boolean(currentItem(state)?.observers);
}

/**
 * The delegation's budget on the current item (null without one).
 * @param {RoomState | null} state
 * @param {string | null} delegationId
 * @returns {Budget | null}
 */
export function budgetOf(state, delegationId) {
  return agendaOf(state)?.budgets.find((b) => b.delegation_id === delegationId) ?? null;
}
