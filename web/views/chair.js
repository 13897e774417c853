// The chair console: the speakers list (left), the floor now and the
// delegations on camera (centre), the lobby, the room controls and the
// minutes so far (right). The chair publishes camera and microphone.

import {h, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {MediaControls} from '../widgets/media-controls.js';
import {ParticipantGrid} from '../widgets/participant-grid.js';
import {ShareButton} from '../widgets/share-button.js';
import {ShareStage} from '../widgets/share-stage.js';
import {screenShareOf} from '../screen-share.js';
import {floorAnnouncement} from './announcements.js';
import {AgendaPanel} from './chair/agenda.js';
import {BoothsPanel} from './chair/booths.js';
import {FloorNowPanel} from './chair/floor-now.js';
import {LobbyPanel} from './chair/lobby.js';
import {MinutesPanel} from './chair/minutes.js';
import {RoomPanel} from './chair/room.js';
import {SpeakersPanel} from './chair/speakers.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../conference.js').View} View */

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
  const gridHeading = h('h2', {class: 'panel-title', id: 'chair-grid-heading'});
  const gridPanel = h('section', {class: 'panel grid-panel', attrs: {'aria-labelledby': 'chair-grid-heading'}},
    gridHeading, grid.element);
  const controls = new MediaControls({local: ctx.local, remote: ctx.remote, leave: ctx.leave, publishing: true});
  const captureProblem = h('p', {class: 'field-error', attrs: {role: 'alert'}, hidden: true});

  const left = h('div', {class: 'col col-left'}, agenda.element, speakers.element, minutes.element);
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

  function retranslate() {
    setText(gridHeading, t('chair.delegations'));
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
      const state = update.state;
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
      controls.destroy();
      shareStage.destroy();
      shareButton.destroy();
      element.remove();
    },
  };
}
