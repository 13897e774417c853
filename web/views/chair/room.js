// The chair's room controls: lock, open floor, default speaking time, and the
// people in the room with mute and remove.

import {busy, h, keyedList, setAttr, setText} from '../../dom.js';
import {t} from '../../i18n.js';
import {badge, updateBadge} from '../../widgets/badge.js';
import {confirmAction} from '../../widgets/confirm.js';
import {icon} from '../../widgets/icons.js';
import {describePerson} from '../../widgets/video-tile.js';
import {labelTimes, timeFields, timeSelect} from './speakers.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomState} RoomState */
/** @typedef {import('../../protocol.js').RoomParticipant} RoomParticipant */

export class RoomPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'room-heading'});
    /** @private */ this._lock = h('button', {id: 'btn-lock', class: 'button toggle-wide', type: 'button', dataset: {action: 'lock'}},
      h('span', {class: 'lock-icon'}), h('span', {class: 'lock-text'}));
    this._lock.addEventListener('click', () => void busy(this._lock, () =>
      ctx.act(this._state?.locked ? 'conference.unlock' : 'conference.lock')));
    /** @private */ this._lockHint = h('p', {class: 'hint'});
    /** @private */ this._openFloor = h('input', {type: 'checkbox', id: 'open-floor'});
    this._openFloor.addEventListener('change', () => void ctx.act('settings.open_floor', {enabled: this._openFloor.checked})
      .then(() => this.render()));
    /** @private */ this._openFloorLabel = h('label', {htmlFor: 'open-floor'});
    /** @private */ this._defaultTime = timeSelect(180);
    this._defaultTime.id = 'default-time';
    this._defaultTime.addEventListener('change', () => {
      const fields = timeFields(this._defaultTime);
      void ctx.act('settings.default_time_limit', {time_limit: fields.unlimited ? null : fields.time_limit})
        .then(() => this.render());
    });
    /** @private */ this._defaultTimeLabel = h('label', {class: 'field-label', htmlFor: 'default-time'});
    /** @private */ this._peopleHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._people = h('ul', {class: 'people-list', id: 'participants-list'});
    this.element = h('section', {class: 'panel room-panel', attrs: {'aria-labelledby': 'room-heading'}},
      this._heading,
      this._lock, this._lockHint,
      h('div', {class: 'field inline'}, this._defaultTimeLabel, this._defaultTime),
      h('div', {class: 'switch'}, this._openFloor, this._openFloorLabel),
      this._peopleHeading, this._people);
    this.retranslate();
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  retranslate() {
    setText(this._heading, t('room.title'));
    setText(this._openFloorLabel, t('room.openFloor'));
    setText(this._defaultTimeLabel, t('room.defaultTime'));
    setText(this._peopleHeading, t('room.people'));
    labelTimes(this._defaultTime);
    this.render();
  }

  render() {
    const state = this._state;
    if (!state) return;
    const locked = state.locked;
    setAttr(this._lock, 'aria-pressed', String(locked));
    this._lock.dataset.locked = String(locked);
    /** @type {HTMLElement} */ (this._lock.querySelector('.lock-icon')).replaceChildren(icon(locked ? 'lock' : 'unlock'));
    setText(/** @type {HTMLElement} */ (this._lock.querySelector('.lock-text')), locked ? t('room.locked') : t('room.unlocked'));
    setText(this._lockHint, locked ? t('room.lockedHint') : t('room.unlockedHint'));
    this._openFloor.checked = state.settings.open_floor;
    const limit = state.settings.default_time_limit;
    const value = limit === null ? 'unlimited' : String(limit);
    if (![...this._defaultTime.options].some((o) => o.value === value)) {
      this._defaultTime.replaceChildren(...timeSelect(limit).options);
    }
    this._defaultTime.value = value;

    const me = this._ctx.conn.you?.id;
    const people = state.participants.filter((p) => p.participant_id !== me);
    keyedList(this._people, people, (p) => p.participant_id, (p) => this._row(p), (li, p) => this._fill(li, p));
  }

  destroy() {}

  /**
   * @private
   * @param {RoomParticipant} p
   */
  _row(p) {
    const ctx = this._ctx;
    const mute = h('button', {class: 'icon-button', type: 'button', dataset: {action: 'mute'}},
      h('span', {class: 'mute-icon'}), h('span', {class: 'button-text'}));
    mute.addEventListener('click', () => void busy(mute, () => {
      const current = this._state?.participants.find((x) => x.participant_id === p.participant_id);
      return ctx.act(current?.muted ? 'participant.unmute' : 'participant.mute', {participant_id: p.participant_id});
    }));
    const remove = h('button', {class: 'icon-button danger', type: 'button', dataset: {action: 'remove'}}, icon('userX'));
    remove.addEventListener('click', () => void busy(remove, async () => {
      const ok = await confirmAction({
        title: t('room.removeTitle'),
        text: t('room.removeText', {name: p.name}),
        confirm: t('room.remove'),
      });
      if (ok) await ctx.act('participant.remove', {participant_id: p.participant_id});
    }));
    return h('li', {class: 'person', dataset: {participantId: p.participant_id}},
      badge(null), h('div', {class: 'person-text'}, h('span', {class: 'name'}), h('span', {class: 'meta'})),
      h('span', {class: 'person-mic'}),
      h('div', {class: 'person-actions'}, mute, remove));
  }

  /**
   * @private
   * @param {HTMLElement} li
   * @param {RoomParticipant} p
   */
  _fill(li, p) {
    const person = this._ctx.people.person(p.participant_id);
    updateBadge(/** @type {HTMLElement} */ (li.querySelector('.badge')), person.delegation);
    setText(/** @type {HTMLElement} */ (li.querySelector('.name')), p.name);
    const presence = p.presence ?? 'connected';
    const away = presence === 'connected' ? '' : ` · ${t(`presence.${presence}`)}`;
    setText(/** @type {HTMLElement} */ (li.querySelector('.meta')), describePerson(person) + away);
    setAttr(li, 'title', `${p.name} · ${describePerson(person)}${away}`);
    li.dataset.presence = presence;
    const speaks = p.role !== 'technician' && p.role !== 'observer';
    const mic = /** @type {HTMLElement} */ (li.querySelector('.person-mic'));
    mic.hidden = !speaks;
    const micState = p.muted ? 'muted' : p.audible ? 'open' : 'closed';
    if (mic.dataset.state !== micState) {
      mic.dataset.state = micState;
      mic.replaceChildren(icon(micState === 'open' ? 'mic' : 'micOff'));
    }
    setAttr(mic, 'title', t(`mic.${micState}.short`));
    setAttr(mic, 'aria-label', t(`mic.${micState}.short`));
    setAttr(mic, 'role', 'img');
    li.dataset.muted = String(Boolean(p.muted));
    const mute = /** @type {HTMLButtonElement} */ (li.querySelector('[data-action="mute"]'));
    mute.hidden = !speaks;
    const label = p.muted ? t('room.unmuteName', {name: p.name}) : t('room.muteName', {name: p.name});
    // Icon only (the row is one line): the words are its tooltip and accessible name.
    setText(/** @type {HTMLElement} */ (mute.lastElementChild), p.muted ? t('tech.unmute') : t('tech.mute'));
    const glyph = /** @type {HTMLElement} */ (mute.firstElementChild);
    if (glyph.dataset.muted !== String(Boolean(p.muted))) {
      glyph.dataset.muted = String(Boolean(p.muted));
      glyph.replaceChildren(icon(p.muted ? 'mic' : 'micOff'));
    }
    setAttr(mute, 'aria-label', label);
    setAttr(mute, 'title', label);
    setAttr(mute, 'aria-pressed', String(Boolean(p.muted)));
    const remove = /** @type {HTMLElement} */ (li.querySelector('[data-action="remove"]'));
    setAttr(remove, 'aria-label', t('room.removeName', {name: p.name}));
    setAttr(remove, 'title', t('room.removeName', {name: p.name}));
  }
}
