// What the room events mean to the person in front of the page, in one
// sentence for screen readers (and a toast for the important ones).

import {t} from '../i18n.js';

/** @typedef {import('../protocol.js').RoomEvent} RoomEvent */
/** @typedef {import('../protocol.js').RoomState} RoomState */
/** @typedef {import('../people.js').Directory} Directory */

/**
 * @typedef {object} Announcement
 * @property {string} text
 * @property {boolean} assertive  interrupts (it concerns the reader directly)
 * @property {boolean} toast      also shown as a toast
 */

/**
 * The announcement for a batch of events, seen by participant `you` of
 * delegation `delegation` (null for the chair and technicians), or null.
 * Only the most important event of the batch is announced.
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
  /** @type {Announcement | null} */
  let result = null;
  /** @param {Announcement} a */
  const keep = (a) => {
    if (!result || (a.assertive && !result.assertive)) result = a;
  };
  for (const e of events) {
    const mine = who.delegation !== null && e.delegation_id === who.delegation;
    const name = who.people.delegation(e.delegation_id)?.name ?? '';
    switch (e.type) {
      case 'floor.granted':
        keep(mine ? {text: t('announce.grantedYou'), assertive: true, toast: false}
          : {text: t('announce.granted', {delegation: name}), assertive: false, toast: false});
        break;
      case 'floor.revoked':
        keep(mine ? {text: e.reason === 'time_limit' ? t('announce.timeUpYou')
          : actorRole(e) === 'system' ? t('announce.revokedYouSystem') : t('announce.revokedYou'), assertive: true, toast: true}
          : {text: t('announce.ended', {delegation: name}), assertive: false, toast: false});
        break;
      case 'floor.released':
        keep({text: t('announce.ended', {delegation: name}), assertive: false, toast: false});
        break;
      case 'floor.denied':
        if (mine) keep({text: t('announce.deniedYou'), assertive: true, toast: true});
        break;
      case 'floor.accepted':
        if (mine) keep({text: t('announce.queuedYou', {position: e.position}), assertive: false, toast: false});
        break;
      case 'floor.requested':
        if (who.chair) keep({text: t('announce.requested', {delegation: name}), assertive: false, toast: false});
        break;
      case 'participant.muted':
        if (e.participant_id === who.you) {
          const text = actorRole(e) === 'technician' ? t('announce.mutedYouTech') : t('announce.mutedYou');
          keep({text, assertive: true, toast: true});
        }
        break;
      case 'participant.unmuted':
        if (e.participant_id === who.you) {
          const text = actorRole(e) === 'technician' ? t('announce.unmutedYouTech') : t('announce.unmutedYou');
          keep({text, assertive: true, toast: true});
        }
        break;
      case 'lobby.waiting':
        // The lobby panel shows it; screen readers hear it.
        if (who.chair) keep({text: t('announce.waiting', {name: String(e.name ?? '')}), assertive: false, toast: false});
        break;
      case 'lobby.admitted':
        if (e.participant_id === who.you) keep({text: t('announce.admittedYou'), assertive: false, toast: false});
        break;
      case 'conference.locked':
        keep({text: t('announce.locked'), assertive: false, toast: false});
        break;
      case 'conference.unlocked':
        keep({text: t('announce.unlocked'), assertive: false, toast: false});
        break;
      default:
        break;
    }
  }
  return result;
}
