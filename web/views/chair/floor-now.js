// The chair's view of the floor now: the speaker on screen, the running
// timer, and taking the floor back or changing the time; with nobody on
// the floor, a shortcut to give it to the next on the list.

import {busy, h, setAttr, setText} from '../../dom.js';
import {t} from '../../i18n.js';
import {paused, requestPresence, speakerOf} from '../../room.js';
import {confirmAbsent} from './speakers.js';
import {Countdown} from '../../widgets/countdown.js';
import {icon} from '../../widgets/icons.js';
import {VideoTile} from '../../widgets/video-tile.js';
import {labelTimes, timeFields, timeSelect} from './speakers.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomState} RoomState */
/** @typedef {import('../../protocol.js').FloorRequest} FloorRequest */

export class FloorNowPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'floor-now-heading'});
    /** @private */ this._tile = new VideoTile(/** @type {any} */ (ctx.conn.you), {className: 'stage-tile'});
    /** @private */ this._countdown = new Countdown(() => ctx.conn.serverNow(), {
      onPhase: (p, holder) => {
        const name = ctx.people.delegation(holder.delegation_id)?.name ?? '';
        if (p === 'warning') ctx.announce(t('floor.warningOther', {delegation: name}));
        if (p === 'overtime') ctx.announce(t('floor.overtimeOther', {delegation: name}), true);
      },
    });
    this._countdown.element.id = 'chair-countdown';
    /** @private */ this._revoke = h('button', {class: 'button danger', type: 'button', dataset: {action: 'revoke'}},
      icon('stop'), h('span'));
    /** @private */ this._plus = h('button', {class: 'button', type: 'button', dataset: {action: 'plus-minute'}});
    /** @private */ this._time = timeSelect(null);
    this._time.id = 'holder-time';
    /** @private */ this._timeLabel = h('label', {class: 'visually-hidden', htmlFor: 'holder-time'});
    /** @private */ this._setTime = h('button', {class: 'button', type: 'button', dataset: {action: 'set-time'}});
    /** @private */ this._pausedNote = h('p', {class: 'floor-now-paused', attrs: {role: 'status'}, hidden: true});
    /** @private */ this._holding = h('div', {class: 'floor-now-holding'},
      this._tile.element, this._pausedNote,
      h('div', {class: 'floor-now-bar'}, this._countdown.element,
        h('div', {class: 'floor-now-actions'}, this._revoke, this._plus,
          h('span', {class: 'inline-field'}, this._timeLabel, this._time, this._setTime))));
    /** @private */ this._idleText = h('p', {class: 'floor-now-idle-text'});
    /** @private */ this._next = h('button', {class: 'button primary', type: 'button', dataset: {action: 'grant-next'}},
      icon('mic'), h('span'));
    /** @private */ this._idle = h('div', {class: 'floor-now-idle'}, icon('gavel', 'idle-icon'), this._idleText, this._next);
    this.element = h('section', {class: 'panel floor-now', id: 'floor-now', attrs: {'aria-labelledby': 'floor-now-heading'}},
      this._heading, this._holding, this._idle);

    this._revoke.addEventListener('click', () => void busy(this._revoke, () => this._act('floor.revoke')));
    this._plus.addEventListener('click', () => void busy(this._plus, () => this._addMinute()));
    this._setTime.addEventListener('click', () => void busy(this._setTime, () => this._act('floor.set_time', timeFields(this._time))));
    this._next.addEventListener('click', () => void busy(this._next, async () => {
      const next = this._state?.queue[0];
      if (next && await confirmAbsent(ctx, this._state, next)) {
        await ctx.act('floor.grant', {request_id: next.request_id});
      }
    }));
    /** @private */ this._onRemote = () => this.render();
    ctx.remote.addEventListener('change', this._onRemote);
    this.retranslate();
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  /** The holder shown (the first, when several may speak at once). */
  get holder() {
    return this._state?.holders[0] ?? null;
  }

  render() {
    const state = this._state;
    const holder = this.holder;
    this._holding.hidden = !holder;
    this._idle.hidden = Boolean(holder);
    this.element.dataset.holder = holder?.delegation_id ?? '';
    this._countdown.set(holder);
    if (state && holder) {
      const speaker = speakerOf(state, holder);
      const person = speaker ? this._ctx.people.person(speaker.participant_id) : null;
      if (person && this._tile.person.id !== person.id) this._tile.setPerson(person);
      const video = person ? this._ctx.remote.of(person.id).video : null;
      this._tile.setTrack(video?.track ?? null, video?.producer_id);
      const presence = requestPresence(state, holder);
      this._tile.setState({audible: speaker?.audible, muted: speaker?.muted, floor: true, presence});
      this.element.dataset.presence = presence;
      this._pausedNote.hidden = !paused(holder);
      setText(this._pausedNote, t('floorNow.paused'));
      const name = this._ctx.people.delegation(holder.delegation_id)?.name ?? '';
      setAttr(this._revoke, 'aria-label', t('floorNow.revokeFrom', {delegation: name}));
      const limit = holder.turn?.time_limit ?? null;
      if (this._time.dataset.for !== holder.request_id) {
        this._time.dataset.for = holder.request_id;
        const fresh = timeSelect(limit);
        const value = fresh.value;
        this._time.replaceChildren(...fresh.options);
        this._time.value = value;
      }
      this._plus.disabled = limit === null;
    } else {
      this._tile.setTrack(null);
      const next = state?.queue[0];
      const nextName = next ? this._ctx.people.delegation(next.delegation_id)?.name ?? '' : '';
      setText(this._idleText, next ? t('floorNow.idleNext', {delegation: nextName}) : t('floorNow.idle'));
      this._next.hidden = !next;
      setText(/** @type {HTMLElement} */ (this._next.lastElementChild), t('floorNow.grantNext', {delegation: nextName}));
    }
  }

  retranslate() {
    setText(this._heading, t('floorNow.title'));
    setText(/** @type {HTMLElement} */ (this._revoke.lastElementChild), t('floorNow.revoke'));
    setText(this._plus, t('floorNow.plusMinute'));
    setText(this._setTime, t('floorNow.setTime'));
    setText(this._timeLabel, t('floorNow.time'));
    labelTimes(this._time);
    this._tile.retranslate();
    this._countdown.retranslate();
    this.render();
  }

  destroy() {
    this._ctx.remote.removeEventListener('change', this._onRemote);
    this._countdown.destroy();
    this._tile.destroy();
  }

  /**
   * @private
   * @param {string} type
   * @param {Record<string, unknown>} [fields]
   */
  async _act(type, fields = {}) {
    const holder = this.holder;
    if (holder) await this._ctx.act(type, {request_id: holder.request_id, ...fields});
  }

  /** @private */
  async _addMinute() {
    const limit = this.holder?.turn?.time_limit;
    if (typeof limit === 'number') await this._act('floor.set_time', {time_limit: limit + 60});
  }
}
