// The delegation's side of the order of business: the current agenda item and
// what is left of its own budget, and the prompts it must not miss: the roll
// call ("present"), a recorded vote (yes, no, abstain: once) and a consensus
// proposal (object, while the window is open), then the result.

import {busy, h, setText} from '../dom.js';
import {t, timeOfDay} from '../i18n.js';
import {
  BALLOTS, answersForDelegation, budgetOf, currentItem, isObserver, itemTitle, lastResult, openDecision, rollCallOf,
} from '../agenda.js';
import {clock} from '../room.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../protocol.js').RoomState} RoomState */
/** @typedef {import('../protocol.js').RoomEvent} RoomEvent */

export class BusinessPanel {
  /**
   * @param {ViewContext} ctx
   * @param {{id: string, role: string}} you
   * @param {string | null} delegation  the delegation `you` belongs to
   */
  constructor(ctx, you, delegation) {
    /** @private */ this._ctx = ctx;
    /** @private */ this._you = you;
    /** @private */ this._delegation = delegation;
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private */ this._heading = h('h2', {class: 'panel-title', id: 'business-heading'});
    /** @private */ this._item = h('p', {class: 'business-item', id: 'current-item'});
    /** @private */ this._budget = h('p', {class: 'hint', id: 'my-budget'});
    /** @private */ this._rollCall = h('div', {class: 'prompt', id: 'rollcall-prompt', attrs: {role: 'group'}});
    /** @private */ this._rollText = h('p', {class: 'prompt-text'});
    /** @private */ this._present = /** @type {HTMLButtonElement} */ (h('button', {class: 'button primary large',
      type: 'button', dataset: {action: 'present'}, on: {click: () => void busy(this._present,
        () => ctx.act('rollcall.answer', {delegation_id: this._delegation}))}}));
    this._rollCall.append(this._rollText, this._present);
    /** @private */ this._decision = h('div', {class: 'prompt', id: 'decision-prompt', attrs: {role: 'group'}});
    /** @private */ this._decisionText = h('p', {class: 'prompt-text'});
    /** @private */ this._decisionNote = h('p', {class: 'hint'});
    /** @private @type {Map<string, HTMLButtonElement>} */ this._ballots = new Map(BALLOTS.map((ballot) => {
      const button = /** @type {HTMLButtonElement} */ (h('button', {class: 'button large', type: 'button',
        dataset: {ballot}}));
      button.addEventListener('click', () => void busy(button, () => this._cast(ballot)));
      return [ballot, button];
    }));
    /** @private */ this._object = /** @type {HTMLButtonElement} */ (h('button', {class: 'button large',
      type: 'button', dataset: {action: 'object'}, on: {click: () => void busy(this._object, () => this._objectTo())}}));
    this._decision.append(this._decisionText,
      h('div', {class: 'panel-actions ballots'}, ...this._ballots.values(), this._object), this._decisionNote);
    /** @private */ this._result = h('p', {class: 'decision-result', id: 'decision-result', attrs: {role: 'status'}});
    this.element = h('section', {class: 'panel business-panel', id: 'business-panel',
      attrs: {'aria-labelledby': 'business-heading'}},
    this._heading, this._item, this._budget, this._rollCall, this._decision, this._result);
    this.render();
  }

  /** @param {RoomState} state */
  update(state) {
    this._state = state;
    this.render();
  }

  /**
   * Roll calls and votes are announced aloud (assertive) and as a toast: they
   * cannot be missed.
   * @param {RoomEvent[]} events
   */
  events(events) {
    for (const event of events) {
      const key = {
        'rollcall.started': 'business.rollCallStarted',
        'decision.vote_opened': 'business.voteOpened',
        'decision.consensus_proposed': 'business.consensusProposed',
      }[event.type];
      if (!key) continue;
      const text = t(/** @type {any} */ (key), {text: String(/** @type {any} */ (event).text ?? '')});
      this._ctx.announce(text, true);
      this._ctx.toast(text);
    }
  }

  /**
   * @private
   * @param {string} ballot
   */
  async _cast(ballot) {
    const decision = openDecision(this._state);
    if (!decision) return false;
    return this._ctx.act('decision.vote', {decision_id: decision.decision_id, ballot});
  }

  /** @private */
  async _objectTo() {
    const decision = openDecision(this._state);
    if (!decision) return false;
    return this._ctx.act('decision.object', {decision_id: decision.decision_id});
  }

  render() {
    const state = this._state;
    const mine = this._delegation;
    setText(this._heading, t('business.title'));
    const item = currentItem(state);
    setText(this._item, item ? itemTitle(item) : t('business.noItem'));
    this._item.dataset.itemId = item?.item_id ?? '';
    const budget = budgetOf(state, mine);
    this._budget.hidden = !budget;
    if (budget) setText(this._budget, t('business.budgetLeft', {time: clock(budget.remaining)}));

    // Roll call: a delegation's head answers "present", once.
    const call = rollCallOf(state);
    const answered = Boolean(call && mine && call.answered.includes(mine));
    const observer = isObserver(state, mine);  // never called, never votes
    this._rollCall.hidden = !call?.open || !mine || observer;
    this._rollCall.dataset.state = answered ? 'answered' : 'asked';
    setText(this._rollText, answered ? t('business.present') : t('business.rollCall'));
    this._present.hidden = answered || this._you.role !== 'head';
    setText(this._present, t('business.answerPresent'));

    // The open decision: a ballot or an objection, once.
    const decision = openDecision(state);
    const may = answersForDelegation(state, this._you, mine);
    this._decision.hidden = !decision;
    if (decision) {
      const cast = decision.ballots.find((b) => b.delegation_id === mine);
      const objected = Boolean(mine && decision.objections.includes(mine));
      const vote = decision.kind === 'vote';
      this._decision.dataset.kind = decision.kind;
      this._decision.dataset.state = (vote ? cast : objected) ? 'done' : 'asked';
      setText(this._decisionText, t(vote ? 'business.vote' : 'business.consensus', {text: decision.text}));
      for (const [ballot, button] of this._ballots) {
        button.hidden = !vote || !may || Boolean(cast);
        setText(button, t(/** @type {any} */ (`ballot.${ballot}`)));
      }
      this._object.hidden = vote || !may || objected;
      setText(this._object, t('business.object'));
      let note = '';
      if (vote && cast) note = t('business.voted', {ballot: t(/** @type {any} */ (`ballot.${cast.ballot}`))});
      else if (!vote && objected) note = t('business.objected');
      else if (!vote && decision.closes_at) note = t('business.objectUntil', {time: timeOfDay(decision.closes_at)});
      else if (!mine) note = t('business.noDelegation');
      else if (observer) note = t('business.observerNoVote');
      else if (!may) note = t('business.notVoter');
      setText(this._decisionNote, note);
    }

    const result = lastResult(state);
    this._result.hidden = !result || Boolean(decision);
    if (result) {
      const outcome = result.adopted ? t('business.adopted') : t('business.notAdopted');
      const counts = result.kind === 'vote'
        ? t('business.counts', {yes: result.yes, no: result.no, abstain: result.abstain}) : '';
      setText(this._result, `${outcome}: ${result.text}${counts ? ` (${counts})` : ''}`);
      this._result.dataset.adopted = String(Boolean(result.adopted));
    }
  }

  retranslate() {
    this.render();
  }
}
