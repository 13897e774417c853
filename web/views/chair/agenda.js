// The chair's order of business: the agenda (current item, next, planned and
// actual time, the pre-registered speakers), opening and closing items,
// inscribing delegations before an item opens, extra time on the current
// item's budget, the roll call with its quorum indicator, and decisions
// (consensus or recorded vote) with their count.

import {busy, h, keyedList, setText} from '../../dom.js';
import {t, timeOfDay} from '../../i18n.js';
import {
  agendaOf, budgetOf, currentItem, itemTitle, lastResult, openDecision, rollCallOf,
} from '../../agenda.js';
import {clock} from '../../room.js';
import {confirmAction} from '../../widgets/confirm.js';

/** @typedef {import('../../conference.js').ViewContext} ViewContext */
/** @typedef {import('../../protocol.js').RoomState} RoomState */
/** @typedef {import('../../agenda.js').AgendaItem} AgendaItem */

export class AgendaPanel {
  /** @param {ViewContext} ctx */
  constructor(ctx) {
    /** @private */ this._ctx = ctx;
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'agenda-heading'});
    /** @private */ this._items = h('ol', {class: 'agenda-items', id: 'agenda-items'});
    /** @private */ this._empty = h('p', {class: 'empty'});

    // Pre-registration: a delegation on an upcoming item, after those listed.
    /** @private */ this._inscribeHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._inscribeItem = /** @type {HTMLSelectElement} */ (h('select', {class: 'select compact',
      id: 'inscribe-item'}));
    /** @private */ this._inscribeWho = /** @type {HTMLSelectElement} */ (h('select', {class: 'select compact',
      id: 'inscribe-delegation'}));
    /** @private */ this._inscribe = /** @type {HTMLButtonElement} */ (h('button', {class: 'button small',
      type: 'button', dataset: {action: 'inscribe'}, on: {click: () => void busy(this._inscribe,
        () => ctx.act('agenda.inscribe', {item_id: this._inscribeItem.value,
          delegation_id: this._inscribeWho.value}))}}));
    /** @private */ this._inscribeRow = h('div', {class: 'field inline'}, this._inscribeItem, this._inscribeWho,
      this._inscribe);

    // The current item's budgets.
    /** @private */ this._budgets = h('ul', {class: 'budget-list', id: 'budgets'});

    // Roll call and quorum.
    /** @private */ this._rollHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._quorum = h('p', {class: 'quorum', id: 'quorum', attrs: {role: 'status'}});
    /** @private */ this._rollButton = /** @type {HTMLButtonElement} */ (h('button', {class: 'button small',
      type: 'button', id: 'btn-rollcall', on: {click: () => void busy(this._rollButton,
        () => ctx.act(rollCallOf(this._state)?.open ? 'rollcall.close' : 'rollcall.start'))}}));
    /** @private */ this._roll = h('ul', {class: 'rollcall-list', id: 'rollcall-list'});

    // Decisions.
    /** @private */ this._decisionHeading = h('h3', {class: 'panel-subtitle'});
    /** @private */ this._text = /** @type {HTMLInputElement} */ (h('input', {type: 'text',
      id: 'decision-text'}));
    /** @private */ this._propose = /** @type {HTMLButtonElement} */ (h('button', {class: 'button small',
      type: 'button', dataset: {action: 'propose'}, on: {click: () => void busy(this._propose,
        () => this._open('decision.propose'))}}));
    /** @private */ this._openVote = /** @type {HTMLButtonElement} */ (h('button', {class: 'button small',
      type: 'button', dataset: {action: 'open-vote'}, on: {click: () => void busy(this._openVote,
        () => this._open('decision.open_vote'))}}));
    /** @private */ this._decisionForm = h('div', {class: 'decision-form'}, this._text,
      h('div', {class: 'panel-actions'}, this._propose, this._openVote));
    /** @private */ this._decision = h('div', {class: 'decision-now', id: 'decision-now', attrs: {role: 'status'}});
    /** @private */ this._closeVote = /** @type {HTMLButtonElement} */ (h('button', {class: 'button small',
      type: 'button', dataset: {action: 'close-vote'}, on: {click: () => void busy(this._closeVote, () => {
        const decision = openDecision(this._state);
        return decision ? ctx.act('decision.close_vote', {decision_id: decision.decision_id}) : Promise.resolve();
      })}}));

    this.element = h('section', {class: 'panel agenda-panel', id: 'agenda-panel',
      attrs: {'aria-labelledby': 'agenda-heading'}},
    this._heading, this._items, this._empty, this._budgets,
    h('details', {class: 'add-details'}, h('summary', {}, this._inscribeHeading), this._inscribeRow),
    this._rollHeading, h('div', {class: 'field inline'}, this._quorum, this._rollButton), this._roll,
    this._decisionHeading, this._decisionForm, this._decision, this._closeVote);
    this.retranslate();
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  /**
   * @private
   * @param {'decision.propose' | 'decision.open_vote'} kind
   */
  async _open(kind) {
    const text = this._text.value.trim();
    if (!text) {
      this._text.focus();
      return;
    }
    if (await this._ctx.act(kind, {text})) this._text.value = '';
  }

  /**
   * @private
   * @param {AgendaItem} item
   */
  async _close(item) {
    const state = this._state;
    const listed = state ? state.holders.length + state.queue.length + state.pending.length : 0;
    if (listed > 0) {
      const ok = await confirmAction({
        title: t('agenda.closeTitle'),
        text: t('agenda.closeText', {title: itemTitle(item), count: listed}),
        confirm: t('agenda.closeConfirm'),
      });
      if (!ok) return;
    }
    await this._ctx.act('agenda.close_item', {item_id: item.item_id, force: listed > 0});
  }

  render() {
    const state = this._state;
    const agenda = agendaOf(state);
    const ctx = this._ctx;
    const items = agenda?.items ?? [];
    const current = currentItem(state);
    this._empty.hidden = items.length > 0;
    keyedList(this._items, items, (i) => i.item_id, (i) => {
      const act = h('button', {class: 'button small', type: 'button'});
      act.addEventListener('click', () => void busy(act, async () => {
        const item = agendaOf(this._state)?.items.find((x) => x.item_id === i.item_id);
        if (!item) return;
        if (item.status === 'open') await this._close(item);
        else await ctx.act('agenda.open_item', {item_id: item.item_id});
      }));
      return h('li', {class: 'agenda-item', dataset: {itemId: i.item_id}},
        h('span', {class: 'agenda-title'}), h('span', {class: 'agenda-time'}), act,
        h('span', {class: 'agenda-speakers hint'}), h('span', {class: 'agenda-observers'}));
    }, (li, i) => {
      const [title, time, act, speakers, observers] = /** @type {HTMLElement[]} */ ([...li.children]);
      li.dataset.status = i.status;
      li.dataset.observers = String(Boolean(i.observers));
      li.classList.toggle('current', i.item_id === agenda?.current);
      title.dataset.number = i.number ?? '';
      li.dataset.sub = String(Boolean(i.parent));
      setText(title, itemTitle(i));
      observers.hidden = !i.observers;
      setText(observers, t('agenda.observersItem'));
      const planned = i.planned_duration ? clock(i.planned_duration) : '–';
      const actual = i.opened_at ? clock((i.closed_at ?? this._ctx.conn.serverNow()) - i.opened_at) : '';
      setText(time, actual ? t('agenda.plannedActual', {planned, actual}) : t('agenda.planned', {planned}));
      act.hidden = i.status === 'closed' || (i.status === 'upcoming' && Boolean(current));
      act.dataset.action = i.status === 'open' ? 'close-item' : 'open-item';
      setText(act, i.status === 'open' ? t('agenda.close') : t('agenda.open'));
      const names = i.speakers.map((d) => ctx.people.delegation(d)?.name ?? d).join(', ');
      speakers.hidden = !names;
      setText(speakers, t('agenda.inscribed', {names}));
    });

    const upcoming = items.filter((i) => i.status === 'upcoming');
    this._inscribeRow.hidden = upcoming.length === 0;
    replaceOptions(this._inscribeItem, upcoming.map((i) => [i.item_id, `${i.number ?? ''}. ${itemTitle(i)}`]));
    replaceOptions(this._inscribeWho, (state?.delegations ?? []).map((d) => [d.delegation_id,
      d.observer ? t('agenda.observerDelegation', {delegation: d.name}) : d.name]));

    // Budgets of the current item: what is left, and a minute more (observers on their items only).
    const speaking = (state?.delegations ?? []).filter((d) => !d.observer || current?.observers);
    const budgets = current?.budget ? speaking : [];
    keyedList(this._budgets, budgets, (d) => d.delegation_id, (d) => {
      const more = h('button', {class: 'button small', type: 'button', dataset: {action: 'extra-time'}});
      more.addEventListener('click', () => void busy(more,
        () => ctx.act('agenda.extra_time', {delegation_id: d.delegation_id, seconds: 60})));
      return h('li', {class: 'budget', dataset: {delegationId: d.delegation_id}}, h('span'), more);
    }, (li, d) => {
      const [text, more] = /** @type {HTMLElement[]} */ ([...li.children]);
      const budget = budgetOf(state, d.delegation_id);
      setText(text, t('agenda.budgetLeft', {delegation: d.name, time: clock(budget?.remaining ?? 0)}));
      setText(more, t('agenda.extraMinute'));
    });

    // Roll call and quorum.
    const call = rollCallOf(state);
    if (call) {
      const key = !call.roll_call_id ? 'agenda.quorumNone' : call.quorum_met ? 'agenda.quorumMet' : 'agenda.quorumNotMet';
      setText(this._quorum, t(key, {present: call.present.length, required: call.required}));
      this._quorum.dataset.quorum = !call.roll_call_id ? 'none' : call.quorum_met ? 'met' : 'not-met';
      setText(this._rollButton, call.open ? t('agenda.closeRollCall') : t('agenda.startRollCall'));
    }
    const rows = call?.open ? (state?.delegations ?? []).filter((d) => !d.observer) : [];  // not called
    keyedList(this._roll, rows, (d) => d.delegation_id, (d) => {
      const mark = h('button', {class: 'button small', type: 'button', dataset: {action: 'mark-present'}});
      mark.addEventListener('click', () => void busy(mark,
        () => ctx.act('rollcall.answer', {delegation_id: d.delegation_id})));
      return h('li', {class: 'rollcall-row', dataset: {delegationId: d.delegation_id}}, h('span'), mark);
    }, (li, d) => {
      const [text, mark] = /** @type {HTMLElement[]} */ ([...li.children]);
      const answered = Boolean(call?.answered.includes(d.delegation_id));
      li.dataset.present = String(answered);
      setText(text, answered ? t('agenda.present', {delegation: d.name}) : d.name);
      mark.hidden = answered;
      setText(mark, t('agenda.markPresent'));
    });

    // Decisions: the open one with its count, else the last result.
    const decision = openDecision(state);
    this._decisionForm.hidden = Boolean(decision);
    this._closeVote.hidden = decision?.kind !== 'vote';
    const last = lastResult(state);
    if (decision) {
      const voters = decision.ballots.length;
      setText(this._decision, decision.kind === 'vote'
        ? t('agenda.voteOpen', {text: decision.text, yes: decision.yes, no: decision.no,
          abstain: decision.abstain, count: voters})
        : t('agenda.consensusOpen', {text: decision.text, objections: decision.objections.length,
          time: decision.closes_at ? timeOfDay(decision.closes_at) : ''}));
      this._decision.dataset.state = 'open';
    } else if (last) {
      const counts = last.kind === 'vote'
        ? ` (${t('business.counts', {yes: last.yes, no: last.no, abstain: last.abstain})})` : '';
      setText(this._decision, t(last.adopted ? 'agenda.adopted' : 'agenda.notAdopted', {text: last.text}) + counts);
      this._decision.dataset.state = last.adopted ? 'adopted' : 'not-adopted';
    } else {
      setText(this._decision, '');
      this._decision.dataset.state = 'none';
    }
  }

  retranslate() {
    setText(this._heading, t('agenda.title'));
    setText(this._empty, t('agenda.empty'));
    setText(this._inscribeHeading, t('agenda.inscribeTitle'));
    setText(this._inscribe, t('agenda.inscribe'));
    setText(this._rollHeading, t('agenda.rollCallTitle'));
    setText(this._decisionHeading, t('agenda.decisionTitle'));
    this._text.placeholder = t('agenda.decisionText');
    this._text.setAttribute('aria-label', t('agenda.decisionText'));
    setText(this._propose, t('agenda.propose'));
    setText(this._openVote, t('agenda.openVote'));
    setText(this._closeVote, t('agenda.closeVote'));
    this.render();
  }
}

/**
 * Replace a select's options only when they changed (keeps the choice).
 * @param {HTMLSelectElement} select
 * @param {[string, string][]} options  value, label
 */
function replaceOptions(select, options) {
  const same = [...select.options].map((o) => `${o.value}=${o.text}`).join() ===
    options.map(([v, l]) => `${v}=${l}`).join();
  if (same) return;
  const chosen = select.value;
  select.replaceChildren(...options.map(([value, text]) => h('option', {value, text})));
  if (options.some(([v]) => v === chosen)) select.value = chosen;
}
