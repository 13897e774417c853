// The chair console: the speakers list (left), the floor now and the
// delegations (centre: a compact grid with who speaks, or their cameras),
// the lobby, the room controls and the minutes so far (right). The chair
// publishes camera and microphone. A request for the floor chimes and
// shows a toast: the chair need not watch the list.

import {h, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {chime} from '../widgets/chime.js';
import {MediaControls} from '../widgets/media-controls.js';
import {ParticipantGrid} from '../widgets/participant-grid.js';
import {ShareButton} from '../widgets/share-button.js';
import {ShareStage} from '../widgets/share-stage.js';
import {screenShareOf} from '../screen-share.js';
import {floorAnnouncement} from './announcements.js';
import {AgendaPanel} from './chair/agenda.js';
import {BoothsPanel} from './chair/booths.js';
import {DelegationGrid} from './chair/delegations.js';
import {FloorNowPanel} from './chair/floor-now.js';
import {LobbyPanel} from './chair/lobby.js';
import {MinutesPanel} from './chair/minutes.js';
import {RoomPanel} from './chair/room.js';
import {SpeakersPanel} from './chair/speakers.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../conference.js').View} View */
/** @typedef {import('../protocol.js').RoomEvent} RoomEvent */

/** Above this many delegations in the room, the compact grid is the default. */
const COMPACT_FROM = 8;

/**
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function createChairView(ctx) {
  const agenda = new AgendaPanel(ctx);
  const speakers = new SpeakersPanel(ctx);
  const floorNow = new FloorNowPanel(ctx);
  const lobby = new LobbyPanel(ctx);
  const room = new RoomPanel(ctx);
  const minutes = new MinutesPanel(ctx);
  const booths = new BoothsPanel(ctx);
  const grid = new ParticipantGrid(ctx, {withLocal: true});
  const delegations = new DelegationGrid(ctx);
  const gridHeading = h('h2', {class: 'panel-title', id: 'chair-grid-heading'});
  /** The grid's layout: null until the chair chooses (then the room's size decides). @type {'compact' | 'video' | null} */
  let layout = null;
  const layoutButtons = /** @type {const} */ (['compact', 'video']).map((value) => h('button', {
    class: 'button small', type: 'button', dataset: {layout: value},
    on: {click: () => { layout = value; renderLayout(); }}}));
  const layoutSwitch = h('div', {class: 'layout-switch', attrs: {role: 'group'}}, ...layoutButtons);
  const gridPanel = h('section', {class: 'panel grid-panel', attrs: {'aria-labelledby': 'chair-grid-heading'}},
    h('div', {class: 'panel-head'}, gridHeading, layoutSwitch), delegations.element, grid.element);
  const controls = new MediaControls({local: ctx.local, remote: ctx.remote, leave: ctx.leave, publishing: true});
  const captureProblem = h('p', {class: 'field-error', attrs: {role: 'alert'}, hidden: true});

  const left = h('div', {class: 'col col-left'}, speakers.element, agenda.element, minutes.element);
  const center = h('div', {class: 'col col-center'}, captureProblem, floorNow.element, gridPanel);
  const right = h('div', {class: 'col col-right'}, lobby.element, room.element, booths.element);
  const element = h('section', {class: 'console chair-view'},
    h('div', {class: 'console-body'}, left, center, right), controls.element);
  // A screen share goes above the floor panel; the chair may stop it.
  const share = screenShareOf(ctx.conn);
  const shareStage = new ShareStage(ctx, share, center);
  captureProblem.after(shareStage.element);
  const shareButton = new ShareButton(ctx, share);
  controls.element.querySelector('.controls-spacer')?.before(shareButton.element);

  /** @type {import('../local-media.js').CaptureFailure | null} */
  let failure = null;
  void ctx.startCapture().then((f) => {
    failure = f;
    retranslate();
  });
  ctx.wantPublish(true);

  /** @type {import('../protocol.js').RoomState | null} */
  let state = null;

  function renderLayout() {
    const present = state?.delegations.filter((d) => d.members.length > 0).length ?? 0;
    const shown = layout ?? (present > COMPACT_FROM ? 'compact' : 'video');
    gridPanel.dataset.layout = shown;
    delegations.element.hidden = shown !== 'compact';
    grid.element.hidden = shown !== 'video';
    for (const button of layoutButtons) {
      setAttr(button, 'aria-pressed', String(button.dataset.layout === shown));
      setText(button, t(button.dataset.layout === 'compact' ? 'grid.compact' : 'grid.video'));
    }
    setAttr(layoutSwitch, 'aria-label', t('grid.layout'));
  }

  /**
   * A chime and a toast when a delegation asks for the floor (not when the
   * chair adds one itself).
   * @param {RoomEvent[]} events
   */
  function noticeRequests(events) {
    const you = ctx.conn.you?.id;
    const asked = events.filter((e) => e.type === 'floor.requested' && e.actor !== you);
    if (asked.length === 0) return;
    chime('request');
    const names = asked.map((e) => ctx.people.delegation(e.delegation_id)?.name ?? '');
    const first = asked[0];
    ctx.toast(asked.length > 1 ? t('chair.requestsArrived', {delegations: names.join(', ')})
      : first.priority && first.priority !== 'ordinary'
        ? t('announce.requestedPriority', {delegation: names[0], priority: t(`priority.${first.priority}`)})
        : t('announce.requested', {delegation: names[0]}), 'cue');
  }

  function retranslate() {
    setText(gridHeading, t('chair.delegations'));
    renderLayout();
    setAttr(left, 'aria-label', t('speakers.title'));
    captureProblem.hidden = !failure;
    if (failure) setText(captureProblem, t(/** @type {any} */ (`media.${failure}`)));
  }
  retranslate();

  return {
    name: 'chair',
    element,
    update(update) {
      if (!update) return;
      state = update.state;
      agenda.update(state);
      speakers.update(state);
      floorNow.update(state);
      lobby.update(state);
      room.update(state);
      booths.update(state);
      booths.events(update.events);
      minutes.update(update);
      grid.update(state);
      shareButton.update(state);
      delegations.update(state);
      renderLayout();
      noticeRequests(update.events);
      const you = ctx.conn.you?.id ?? '';
      const text = floorAnnouncement(update.events, {you, delegation: null, people: ctx.people, state, chair: true});
      if (text) ctx.announce(text.words, text.assertive);
      if (text?.toast) ctx.toast(text.text);
    },
    retranslate() {
      agenda.retranslate();
      speakers.retranslate();
      floorNow.retranslate();
      lobby.retranslate();
      room.retranslate();
      booths.retranslate();
      minutes.retranslate();
      grid.retranslate();
      delegations.retranslate();
      controls.retranslate();
      shareStage.retranslate();
      shareButton.render();
      retranslate();
    },
    rejoined() {
      void minutes.refresh();
    },
    destroy() {
      floorNow.destroy();
      minutes.destroy();
      grid.destroy();
      delegations.destroy();
      controls.destroy();
      shareStage.destroy();
      shareButton.destroy();
      element.remove();
    },
  };
}
