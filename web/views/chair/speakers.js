// The chair's speakers list: pending requests (accept, grant, deny), the
// list itself (grant with a speaking time, move up or down, deny), and
// adding a delegation on its behalf. One line per request, so that a list
// of 20 to 40 delegations fits a laptop screen; the details (priority in
// words, speaker, time of the request) are in the row's tooltip and its
// accessible text.

import {busy, h, keyedList, setAttr, setText} from '../../dom.js';
import {t, timeOfDay} from '../../i18n.js';
import {PRIORITIES, clock, openRequest, requestPresence, speakerOf} from '../../room.js';
import {badge, updateBadge} from '../../widgets/badge.js';
import {confirmAction} from '../../widgets/confirm.js';
import {icon} from '../../widgets/icons.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomState} RoomState */
/** @typedef {import('../../protocol.js').FloorRequest} FloorRequest */

/** Speaking times offered for a grant, in seconds (null: no limit). */
const TIMES = [30, 60, 120, 180, 300, 600, 900, null];

/**
 * A <select> of speaking times with `preferred` selected.
 * @param {number | null} preferred
 * @returns {HTMLSelectElement}
 */
export function timeSelect(preferred) {
  const values = TIMES.includes(preferred) ? TIMES : [...TIMES.slice(0, -1), preferred, null]
    .sort((a, b) => (a ?? Infinity) - (b ?? Infinity));
  const select = h('select', {class: 'select compact', dataset: {role: 'time'}},
    ...values.map((v) => h('option', {value: v === null ? 'unlimited' : String(v)})));
  select.value = preferred === null ? 'unlimited' : String(preferred);
  labelTimes(select);
  return select;
}

/** @param {HTMLSelectElement} select */
export function labelTimes(select) {
  for (const option of select.options) {
    setText(option, option.value === 'unlimited' ? t('time.unlimited') : t('time.minutes', {time: clock(Number(option.value))}));
  }
}

/**
 * The grant command's time fields from a time select.
 * @param {HTMLSelectElement} select
 * @returns {{time_limit?: number, unlimited?: boolean}}
 */
export function timeFields(select) {
  return select.value === 'unlimited' ? {unlimited: true} : {time_limit: Number(select.value)};
}

/**
 * Before giving the floor to a delegation whose connection is down, asks the
 * chair to confirm; resolves true to go ahead.
 * @param {ViewContext} ctx
 * @param {RoomState | null} state
 * @param {FloorRequest} request
 * @returns {Promise<boolean>}
 */
export async function confirmAbsent(ctx, state, request) {
  const presence = requestPresence(state, request);
  if (presence === 'connected') return true;
  return confirmAction({
    title: t('speakers.absentTitle'),
    text: t('speakers.absentText', {
      delegation: ctx.people.delegation(request.delegation_id)?.name ?? request.delegation_id,
      presence: t(`presence.${presence}`),
    }),
    confirm: t('speakers.absentConfirm'),
    danger: false,
  });
}

export class SpeakersPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'chair-speakers-heading'});
    /** @private */ this._count = h('span', {class: 'count'});
    /** @private */ this._pendingHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._pending = h('ul', {class: 'requests pending-list', id: 'pending-list'});
    /** @private */ this._queue = h('ol', {class: 'requests queue-list', id: 'queue-list'});
    /** @private */ this._empty = h('p', {class: 'empty'});
    /** @private */ this._addHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._addDelegation = h('select', {class: 'select', id: 'add-delegation'});
    /** @private */ this._addPriority = h('select', {class: 'select', id: 'add-priority'},
      ...PRIORITIES.map((p) => h('option', {value: p})));
    /** @private */ this._addDelegationLabel = h('label', {class: 'field-label', htmlFor: 'add-delegation'});
    /** @private */ this._addPriorityLabel = h('label', {class: 'field-label', htmlFor: 'add-priority'});
    /** @private */ this._addButton = h('button', {class: 'button', type: 'submit', dataset: {action: 'add'}});
    /** @private */ this._addForm = h('form', {class: 'add-form'},
      h('div', {class: 'field'}, this._addDelegationLabel, this._addDelegation),
      h('div', {class: 'field'}, this._addPriorityLabel, this._addPriority),
      this._addButton);
    this._addForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(this._addButton, () => this._add());
    });
    this.element = h('section', {class: 'panel speakers-panel', attrs: {'aria-labelledby': 'chair-speakers-heading'}},
      h('div', {class: 'panel-head'}, this._heading, this._count),
      this._pendingHeading, this._pending, this._queue, this._empty,
      h('details', {class: 'add-details'}, h('summary', {}, this._addHeading), this._addForm));
    this.retranslate();
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  retranslate() {
    setText(this._heading, t('speakers.title'));
    setText(this._pendingHeading, t('speakers.pendingTitle'));
    setText(this._addHeading, t('speakers.addTitle'));
    setText(this._addDelegationLabel, t('speakers.addDelegation'));
    setText(this._addPriorityLabel, t('floor.priority'));
    setText(this._addButton, t('speakers.add'));
    for (const option of this._addPriority.options) setText(option, t(/** @type {any} */ (`priority.${option.value}`)));
    for (const select of this.element.querySelectorAll('select[data-role="time"]')) labelTimes(/** @type {HTMLSelectElement} */ (select));
    this.render();
  }

  render() {
    const state = this._state;
    if (!state) return;
    setText(this._count, String(state.queue.length + state.pending.length));
    setAttr(this._count, 'aria-label', t('speakers.count', {count: state.queue.length + state.pending.length}));

    this._pendingHeading.hidden = state.pending.length === 0;
    keyedList(this._pending, state.pending, (r) => r.request_id, (r) => this._row(r, true),
      (li, r) => this._fill(li, r, true));
    keyedList(this._queue, state.queue, (r) => r.request_id, (r) => this._row(r, false),
      (li, r) => this._fill(li, r, false));
    this._empty.hidden = state.queue.length + state.pending.length > 0;
    setText(this._empty, t('speakers.emptyChair'));

    // Delegations present, without an open request.
    const candidates = state.delegations.filter((d) => d.members.length > 0 && !openRequest(state, d.delegation_id));
    const current = this._addDelegation.value;
    keyedList(this._addDelegation, candidates, (d) => d.delegation_id,
      (d) => h('option', {value: d.delegation_id}), (o, d) => setText(o, d.name));
    if (candidates.some((d) => d.delegation_id === current)) this._addDelegation.value = current;
    this._addButton.disabled = candidates.length === 0;
  }

  /**
   * @private
   * @param {FloorRequest} r
   * @param {boolean} pending
   * @returns {HTMLElement}
   */
  _row(r, pending) {
    const ctx = this._ctx;
    const defaultTime = this._state?.settings.default_time_limit ?? null;
    const time = timeSelect(defaultTime);
    time.id = `time-${r.request_id}`;
    const timeLabel = h('label', {class: 'visually-hidden', htmlFor: time.id});
    const grant = h('button', {class: 'button primary small', type: 'button', dataset: {action: 'grant'}},
      icon('mic'), h('span', {class: 'button-text'}));
    grant.addEventListener('click', () => void busy(grant, () => this._grant(r.request_id, time)));
    const accept = h('button', {class: 'button small', type: 'button', dataset: {action: 'accept'}},
      icon('plus'), h('span', {class: 'button-text'}));
    accept.addEventListener('click', () => void busy(accept, () => ctx.act('floor.accept', {request_id: r.request_id})));
    const up = h('button', {class: 'icon-button', type: 'button', dataset: {action: 'up'}}, icon('up'));
    up.addEventListener('click', () => void busy(up, () => this._move(r.request_id, -1)));
    const down = h('button', {class: 'icon-button', type: 'button', dataset: {action: 'down'}}, icon('down'));
    down.addEventListener('click', () => void busy(down, () => this._move(r.request_id, +1)));
    const deny = h('button', {class: 'icon-button danger', type: 'button', dataset: {action: 'deny'}}, icon('x'));
    deny.addEventListener('click', () => void busy(deny, () => this._deny(r)));
    return h('li', {class: 'request', dataset: {requestId: r.request_id, delegationId: r.delegation_id}},
      h('span', {class: 'request-pos', attrs: {'aria-hidden': 'true'}}),
      h('div', {class: 'request-who'}, badge(null),
        h('div', {class: 'request-text'}, h('span', {class: 'name'}),
          h('span', {class: 'tag priority-tag', attrs: {'aria-hidden': 'true'}}),
          h('span', {class: 'tag presence-tag', attrs: {'aria-hidden': 'true'}}),
          h('span', {class: 'meta'}))),
      h('div', {class: 'request-actions'}, timeLabel, time, grant, pending ? accept : null),
      h('div', {class: 'request-tools'}, pending ? null : up, pending ? null : down, deny));
  }

  /**
   * @private
   * @param {HTMLElement} li
   * @param {FloorRequest} r
   * @param {boolean} pending
   */
  _fill(li, r, pending) {
    const state = /** @type {RoomState} */ (this._state);
    const d = this._ctx.people.delegation(r.delegation_id);
    const speaker = speakerOf(state, r);
    const name = d?.name ?? r.delegation_id;
    const pos = /** @type {HTMLElement} */ (li.querySelector('.request-pos'));
    setText(pos, pending ? '…' : String(r.position ?? ''));
    updateBadge(/** @type {HTMLElement} */ (li.querySelector('.badge')), d);
    setText(/** @type {HTMLElement} */ (li.querySelector('.name')), name);
    const presence = requestPresence(state, r);
    const away = presence === 'connected' ? '' : t(`presence.${presence}`);
    const meta = [away, t(`priority.${r.priority}`), speaker?.name, timeOfDay(r.requested_at)].filter(Boolean).join(' · ');
    setText(/** @type {HTMLElement} */ (li.querySelector('.meta')), meta);
    setAttr(li, 'title', `${name} · ${meta}`);
    const tag = /** @type {HTMLElement} */ (li.querySelector('.priority-tag'));
    tag.hidden = r.priority === 'ordinary';
    tag.dataset.priority = r.priority;
    if (r.priority !== 'ordinary') setText(tag, t(`priority.short.${r.priority}`));
    const awayTag = /** @type {HTMLElement} */ (li.querySelector('.presence-tag'));
    awayTag.hidden = presence === 'connected';
    setText(awayTag, presence === 'connected' ? '' : t(`presence.${presence}`));
    li.dataset.presence = presence;
    li.dataset.priority = r.priority;
    li.dataset.position = String(r.position ?? '');
    const grant = /** @type {HTMLElement} */ (li.querySelector('[data-action="grant"]'));
    setText(/** @type {HTMLElement} */ (grant.lastElementChild), t('speakers.grant'));
    setAttr(grant, 'title', t('speakers.grantTo', {delegation: name}));
    setAttr(grant, 'aria-label', t('speakers.grantTo', {delegation: name}));
    setText(/** @type {HTMLElement} */ (li.querySelector('label')), t('speakers.timeFor', {delegation: name}));
    const accept = li.querySelector('[data-action="accept"]');
    if (accept) {
      setText(/** @type {HTMLElement} */ (accept.lastElementChild), t('speakers.accept'));
      setAttr(accept, 'aria-label', t('speakers.acceptName', {delegation: name}));
      setAttr(accept, 'title', t('speakers.acceptName', {delegation: name}));
    }
    const up = /** @type {HTMLButtonElement | null} */ (li.querySelector('[data-action="up"]'));
    const down = /** @type {HTMLButtonElement | null} */ (li.querySelector('[data-action="down"]'));
    if (up) {
      setAttr(up, 'aria-label', t('speakers.up', {delegation: name}));
      setAttr(up, 'title', t('speakers.up', {delegation: name}));
      up.disabled = (r.position ?? 1) <= 1;
    }
    if (down) {
      setAttr(down, 'aria-label', t('speakers.down', {delegation: name}));
      setAttr(down, 'title', t('speakers.down', {delegation: name}));
      down.disabled = (r.position ?? 1) >= state.queue.length;
    }
    const deny = /** @type {HTMLElement} */ (li.querySelector('[data-action="deny"]'));
    setAttr(deny, 'aria-label', t('speakers.deny', {delegation: name}));
    setAttr(deny, 'title', t('speakers.deny', {delegation: name}));
  }

  /**
   * Gives the floor; if the floor is full, asks to take it back from the
   * current holder first.
   * @private
   * @param {string} requestId
   * @param {HTMLSelectElement} time
   */
  async _grant(requestId, time) {
    const state = this._state;
    const ctx = this._ctx;
    if (!state) return;
    const asked = [...state.queue, ...state.pending].find((r) => r.request_id === requestId);
    if (asked && !(await confirmAbsent(ctx, state, asked))) return;
    if (state.holders.length >= state.settings.max_holders) {
      const holder = state.holders[0];
      const request = [...state.queue, ...state.pending].find((r) => r.request_id === requestId);
      const ok = await confirmAction({
        title: t('speakers.replaceTitle'),
        text: t('speakers.replaceText', {
          holder: ctx.people.delegation(holder.delegation_id)?.name ?? '',
          next: ctx.people.delegation(request?.delegation_id)?.name ?? '',
        }),
        confirm: t('speakers.replaceConfirm'),
        danger: false,
      });
      if (!ok || !(await ctx.act('floor.revoke', {request_id: holder.request_id}))) return;
    }
    await ctx.act('floor.grant', {request_id: requestId, ...timeFields(time)});
  }

  /**
   * Denies a request once the chair confirms: ✕ sits next to ↓, and a slip
   * must not strike a delegation off the list.
   * @private
   * @param {FloorRequest} r
   */
  async _deny(r) {
    const ok = await confirmAction({
      title: t('speakers.denyTitle'),
      text: t('speakers.denyText', {delegation: this._ctx.people.delegation(r.delegation_id)?.name ?? ''}),
      confirm: t('speakers.denyConfirm'),
    });
    if (ok) await this._ctx.act('floor.deny', {request_id: r.request_id});
  }

  /**
   * @private
   * @param {string} requestId
   * @param {number} by
   */
  async _move(requestId, by) {
    const r = this._state?.queue.find((x) => x.request_id === requestId);
    if (!r?.position) return;
    await this._ctx.act('floor.reorder', {request_id: requestId, position: r.position + by});
  }

  /** @private */
  async _add() {
    const delegation = this._addDelegation.value;
    if (!delegation) return;
    await this._ctx.act('floor.request', {delegation_id: delegation, priority: this._addPriority.value});
  }
}
