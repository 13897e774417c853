// What the room events mean to the person in front of the page, in one
// sentence for screen readers (and a toast for the important ones).

import {t} from '../i18n.js';

/** @typedef {import('../protocol.js').RoomEvent} RoomEvent */
/** @typedef {import('../protocol.js').RoomState} RoomState */
/** @typedef {import('../people.js').Directory} Directory */

/**
 * @typedef {object} Announcement
 * @property {string} text       in the current language
 * @property {() => string} words the same, in whatever language is current when called
 * @property {boolean} assertive  interrupts (it concerns the reader directly)
 * @property {boolean} toast      also shown as a toast
 */

/**
 * The announcement for a batch of events, seen by participant `you` of
 * delegation `delegation` (null for the chair and technicians), or null.
 * Only the most important event of the batch is announced. Every sentence
 * about someone else names them (the delegation, or the person).
 * @param {RoomEvent[]} events
 * @param {{you: string, delegation: string | null, people: Directory, state: RoomState, chair?: boolean}} who
 * @returns {Announcement | null}
 */
export function floorAnnouncement(events, who) {
  /** The role of an event's actor: `system`, or the participant's role. */
  const actorRole = (/** @type {RoomEvent} */ e) => {
    if (e.actor === 'system') return 'system';
    return who.state.participants.find((p) => p.participant_id === e.actor)?.role ?? '';
  };
  /** @type {{words: () => string, assertive: boolean, toast: boolean} | null} */
  let result = null;
  /**
   * @param {() => string} words
   * @param {boolean} assertive
   * @param {boolean} [toast]
   */
  const keep = (words, assertive, toast = false) => {
    if (!result || (assertive && !result.assertive)) result = {words, assertive, toast};
  };
  for (const e of events) {
    const mine = who.delegation !== null && e.delegation_id === who.delegation;
    const delegation = () => who.people.delegation(e.delegation_id)?.name ?? '';
    const person = () => (e.participant_id ? who.people.name(String(e.participant_id)) : '');
    switch (e.type) {
      case 'floor.granted':
        if (mine) keep(() => t('announce.grantedYou'), true);
        else keep(() => t('announce.granted', {delegation: delegation()}), false);
        break;
      case 'floor.revoked':
        if (mine) {
          const system = actorRole(e) === 'system';
          keep(() => (e.reason === 'time_limit' ? t('announce.timeUpYou')
            : system ? t('announce.revokedYouSystem') : t('announce.revokedYou')), true, true);
        } else {
          keep(() => t('announce.ended', {delegation: delegation()}), false);
        }
        break;
      case 'floor.released':
        keep(() => t('announce.ended', {delegation: delegation()}), false);
        break;
      case 'floor.denied':
        if (mine) keep(() => t('announce.deniedYou'), true, true);
        else if (who.chair) keep(() => t('announce.denied', {delegation: delegation()}), false);
        break;
      case 'floor.cancelled':
        if (who.chair) keep(() => t('announce.cancelled', {delegation: delegation()}), false);
        break;
      case 'floor.accepted':
        if (mine) keep(() => t('announce.queuedYou', {position: e.position}), false);
        break;
      case 'floor.requested':
        if (who.chair) {
          keep(() => (e.priority && e.priority !== 'ordinary'
            ? t('announce.requestedPriority', {delegation: delegation(), priority: t(`priority.${e.priority}`)})
            : t('announce.requested', {delegation: delegation()})), false);
        }
        break;
      case 'participant.muted':
        if (e.participant_id === who.you) {
          const tech = actorRole(e) === 'technician';
          keep(() => (tech ? t('announce.mutedYouTech') : t('announce.mutedYou')), true, true);
        } else if (who.chair) {
          keep(() => t('announce.muted', {name: person()}), false);
        }
        break;
      case 'participant.unmuted':
        if (e.participant_id === who.you) {
          const tech = actorRole(e) === 'technician';
          keep(() => (tech ? t('announce.unmutedYouTech') : t('announce.unmutedYou')), true, true);
        } else if (who.chair) {
          keep(() => t('announce.unmuted', {name: person()}), false);
        }
        break;
      case 'participant.presence':
        if (who.chair && e.presence !== 'reconnecting') {
          keep(() => t('announce.presence', {name: person(), presence: t(`presence.${e.presence}`)}), false);
        }
        break;
      case 'lobby.waiting':
        // The lobby panel shows it; screen readers hear it.
        if (who.chair) keep(() => t('announce.waiting', {name: String(e.name ?? '')}), false);
        break;
      case 'lobby.admitted':
        if (e.participant_id === who.you) keep(() => t('announce.admittedYou'), false);
        break;
      case 'conference.locked':
        keep(() => t('announce.locked'), false);
        break;
      case 'conference.unlocked':
        keep(() => t('announce.unlocked'), false);
        break;
      default:
        break;
    }
  }
  if (!result) return null;
  const {words, assertive, toast} = result;
  return {text: words(), words, assertive, toast};
}
