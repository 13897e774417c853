// The chair's lobby: who waits for admission; admit (one or all) or turn away.

import {busy, h, keyedList, setAttr, setText} from '../../dom.js';
import {t, timeOfDay} from '../../i18n.js';
import {badge, updateBadge} from '../../widgets/badge.js';
import {confirmAction} from '../../widgets/confirm.js';
import {icon} from '../../widgets/icons.js';
import {describePerson} from '../../widgets/video-tile.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomState} RoomState */
/** @typedef {import('../../protocol.js').RoomParticipant} RoomParticipant */

/** Roles whose joining page checks camera and microphone (views/prejoin.js). */
const CHECKED_ON_JOINING = new Set(['head', 'delegate']);

export class LobbyPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'lobby-heading'});
    /** @private */ this._count = h('span', {class: 'count'});
    /** @private */ this._list = h('ul', {class: 'people-list', id: 'lobby-list'});
    /** @private */ this._empty = h('p', {class: 'empty'});
    /** @private */ this._all = h('button', {class: 'button small', type: 'button', dataset: {action: 'admit-all'}});
    this._all.addEventListener('click', () => void busy(this._all, () => this._admitAll()));
    this.element = h('section', {class: 'panel lobby-panel', id: 'lobby-panel', attrs: {'aria-labelledby': 'lobby-heading'}},
      h('div', {class: 'panel-head'}, this._heading, this._all, this._count), this._list, this._empty);
    this.retranslate();
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  retranslate() {
    setText(this._heading, t('lobby.title'));
    setText(this._all, t('lobby.admitAll'));
    setText(this._empty, t('lobby.empty'));
    this.render();
  }

  render() {
    const lobby = this._state?.lobby ?? [];
    setText(this._count, String(lobby.length));
    setAttr(this._count, 'aria-label', t('lobby.count', {count: lobby.length}));
    this.element.classList.toggle('attention', lobby.length > 0);
    this._all.hidden = lobby.length < 2;
    this._empty.hidden = lobby.length > 0;
    keyedList(this._list, lobby, (p) => p.participant_id, (p) => this._row(p), (li, p) => this._fill(li, p));
  }

  destroy() {}

  /**
   * @private
   * @param {RoomParticipant} p
   */
  _row(p) {
    const ctx = this._ctx;
    const admit = h('button', {class: 'button primary small', type: 'button', dataset: {action: 'admit'}},
      icon('userCheck'), h('span'));
    admit.addEventListener('click', () => void busy(admit, () => ctx.act('lobby.admit', {participant_id: p.participant_id})));
    const reject = h('button', {class: 'icon-button danger', type: 'button', dataset: {action: 'reject'}}, icon('x'));
    reject.addEventListener('click', () => void busy(reject, async () => {
      const ok = await confirmAction({
        title: t('lobby.rejectTitle'),
        text: t('lobby.rejectText', {name: p.name}),
        confirm: t('lobby.reject'),
      });
      if (ok) await ctx.act('lobby.reject', {participant_id: p.participant_id});
    }));
    return h('li', {class: 'person', dataset: {participantId: p.participant_id}},
      badge(null), h('div', {class: 'person-text'}, h('span', {class: 'name'}),
        h('span', {class: 'person-sub'}, h('span', {class: 'tag ready-tag'}), h('span', {class: 'meta'}))),
      h('div', {class: 'person-actions'}, admit, reject));
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
    const meta = `${describePerson(person)} · ${t('lobby.since', {time: timeOfDay(p.since)})}`;
    setText(/** @type {HTMLElement} */ (li.querySelector('.meta')), meta);
    setAttr(li, 'title', `${p.name} · ${meta}`);
    // Whether the joining page's camera and microphone check passed.
    const ready = /** @type {HTMLElement} */ (li.querySelector('.ready-tag'));
    ready.hidden = !CHECKED_ON_JOINING.has(p.role);
    li.dataset.ready = String(Boolean(p.ready));
    setText(ready, p.ready ? `✓ ${t('lobby.ready')}` : t('lobby.notReady'));
    setAttr(ready, 'title', p.ready ? t('lobby.readyHint') : t('lobby.notReadyHint'));
    const admit = /** @type {HTMLElement} */ (li.querySelector('[data-action="admit"]'));
    setText(/** @type {HTMLElement} */ (admit.lastElementChild), t('lobby.admit'));
    setAttr(admit, 'aria-label', t('lobby.admitName', {name: p.name}));
    const reject = /** @type {HTMLElement} */ (li.querySelector('[data-action="reject"]'));
    setAttr(reject, 'aria-label', t('lobby.rejectName', {name: p.name}));
    setAttr(reject, 'title', t('lobby.rejectName', {name: p.name}));
  }

  /** @private */
  async _admitAll() {
    for (const p of [...(this._state?.lobby ?? [])]) {
      if (!(await this._ctx.act('lobby.admit', {participant_id: p.participant_id}))) return;
    }
  }
}
