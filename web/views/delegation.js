// The delegation's meeting: whoever has the floor on the stage (else the
// chair), the other delegations as a grid, and the side panel with the
// microphone state decided by the server, the floor request with its
// priority and queue position, the speaking-time countdown and the speakers
// list. The moments a speaker must not miss (the floor given, taken back,
// time nearly up) come with a toast, a chime and the focus on the floor
// panel; on a phone the request and yield buttons stay in a bottom bar.

import {h, keyedList, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {agendaLetsSpeak} from '../agenda.js';
import {
  PRIORITIES, admitted, clock, mayRequestFloor, openRequest, participantOf, phase, remaining, speakerOf,
} from '../room.js';
import {badge, updateBadge} from '../widgets/badge.js';
import {chime} from '../widgets/chime.js';
import {Countdown} from '../widgets/countdown.js';
import {icon} from '../widgets/icons.js';
import {MediaControls} from '../widgets/media-controls.js';
import {ON_CAMERA, ParticipantGrid} from '../widgets/participant-grid.js';
import {ShareButton} from '../widgets/share-button.js';
import {ShareStage} from '../widgets/share-stage.js';
import {VideoTile} from '../widgets/video-tile.js';
import {screenShareOf} from '../screen-share.js';
import {floorAnnouncement} from './announcements.js';
import {BusinessPanel} from './business.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../conference.js').View} View */
/** @typedef {import('../protocol.js').RoomUpdate} RoomUpdate */
/** @typedef {import('../protocol.js').RoomState} RoomState */
/** @typedef {import('../protocol.js').FloorRequest} FloorRequest */
/** @typedef {import('../protocol.js').RoomParticipant} RoomParticipant */
/** @typedef {import('../people.js').Person} Person */

/**
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function createDelegationView(ctx) {
  const conn = ctx.conn;
  const you = /** @type {Person} */ (conn.you);
  const myDelegation = you.delegation?.id ?? null;
  const publishing = ON_CAMERA.has(you.role);

  // ---- stage: the floor
  const stageTile = new VideoTile(you, {className: 'stage-tile'});
  const stageEmpty = h('div', {class: 'stage-empty'});
  const stageLabel = h('span', {class: 'stage-label'});
  const countdown = new Countdown(() => conn.serverNow(), {onPhase: onPhase});
  stageTile.element.querySelector('.media')?.append(
    h('div', {class: 'stage-overlay'}, stageLabel, countdown.element));
  const stage = h('section', {class: 'stage-area', attrs: {'aria-labelledby': 'stage-heading'}},
    h('h2', {id: 'stage-heading', class: 'visually-hidden'}),
    stageTile.element, stageEmpty);
  // A screen share takes the stage; the speaker's camera becomes the small picture.
  const share = screenShareOf(conn);
  const shareStage = new ShareStage(ctx, share, stage);
  stage.append(shareStage.element);

  // ---- grid of the others (and the local preview)
  const grid = new ParticipantGrid(ctx, {withLocal: publishing});
  const gridSection = h('section', {class: 'grid-area', attrs: {'aria-labelledby': 'grid-heading'}},
    h('h2', {id: 'grid-heading', class: 'visually-hidden'}), grid.element);

  // ---- side panel: microphone state
  const micIcon = h('span', {class: 'mic-panel-icon'});
  const micTitle = h('p', {class: 'mic-panel-title'});
  const micText = h('p', {class: 'mic-panel-text'});
  const micPanel = h('section', {class: 'panel mic-panel', id: 'mic-panel'},
  micIcon, h('div', {}, micTitle, micText));

  // ---- side panel: the floor request
  const floorHeading = h('h2', {class: 'panel-title', id: 'floor-heading'});
  const priorityLegend = h('legend', {class: 'field-label'});
  /** @type {Map<string, {input: HTMLInputElement, label: HTMLElement, hint: HTMLElement}>} */
  const priorityInputs = new Map();
  const priorityFieldset = h('fieldset', {class: 'priorities'}, priorityLegend,
    ...PRIORITIES.map((p) => {
      const input = h('input', {type: 'radio', name: 'priority', value: p, id: `priority-${p}`,
        checked: p === 'ordinary'});
      const label = h('span', {class: 'priority-name'});
      const hint = h('span', {class: 'priority-hint'});
      priorityInputs.set(p, {input, label, hint});
      return h('label', {class: 'priority', htmlFor: `priority-${p}`, dataset: {priority: p}},
        input, h('span', {}, label, hint));
    }));
  const requestButton = h('button', {id: 'btn-request', class: 'button primary large', type: 'button',
    dataset: {action: 'request'}, on: {click: () => void request()}}, icon('hand'), h('span'));
  const cancelButton = h('button', {id: 'btn-cancel', class: 'button', type: 'button',
    dataset: {action: 'cancel'}, on: {click: () => void cancel()}});
  const releaseButton = h('button', {id: 'btn-release', class: 'button', type: 'button',
    dataset: {action: 'release'}, on: {click: () => void release()}});
  const floorStatus = h('div', {class: 'floor-status', id: 'floor-status'});
  const position = h('p', {class: 'queue-position', id: 'queue-position'});
  const myCountdown = new Countdown(() => conn.serverNow(), {size: 'small'});
  myCountdown.element.id = 'my-countdown';
  const warning = h('p', {class: 'speaker-warning', id: 'speaker-warning', hidden: true});
  const floorNote = h('p', {class: 'hint'});
  const floorPanel = h('section', {class: 'panel floor-panel', id: 'floor-panel', tabIndex: -1,
    attrs: {'aria-labelledby': 'floor-heading'}},
  floorHeading, floorStatus, position, myCountdown.element, warning, priorityFieldset,
    h('div', {class: 'panel-actions'}, requestButton, cancelButton, releaseButton), floorNote);

  // ---- side panel: speakers list
  const speakersHeading = h('h2', {class: 'panel-title', id: 'speakers-heading'});
  const speakersList = h('ol', {class: 'speakers', id: 'speakers'});
  const speakersEmpty = h('p', {class: 'empty'});
  const speakersPanel = h('section', {class: 'panel', attrs: {'aria-labelledby': 'speakers-heading'}},
    speakersHeading, speakersList, speakersEmpty);

  // ---- phone: the floor at thumb's reach, above the media controls
  const barStatus = h('p', {class: 'floor-bar-status'});
  const barRequest = h('button', {class: 'button primary', type: 'button', dataset: {action: 'request'},
    on: {click: () => void request()}}, icon('hand'), h('span'));
  const barCancel = h('button', {class: 'button', type: 'button', dataset: {action: 'cancel'},
    on: {click: () => void cancel()}});
  const barRelease = h('button', {class: 'button primary', type: 'button', dataset: {action: 'release'},
    on: {click: () => void release()}});
  const floorBar = h('div', {class: 'floor-bar', id: 'floor-bar', attrs: {role: 'region'}},
    barStatus, h('div', {class: 'floor-bar-actions'}, barRequest, barCancel, barRelease));

  // ---- side panel: the order of business (current item, roll call, votes)
  const business = new BusinessPanel(ctx, you, myDelegation);

  const controls = new MediaControls({local: ctx.local, remote: ctx.remote, leave: ctx.leave, publishing});
  const shareButton = new ShareButton(ctx, share);
  controls.element.querySelector('.controls-spacer')?.before(shareButton.element);
  const waitingOverlay = h('div', {class: 'waiting-overlay', attrs: {role: 'status'}, hidden: true});

  const element = h('section', {class: 'meeting delegation-view'},
    h('div', {class: 'meeting-body'},
      h('div', {class: 'meeting-main'}, stage, gridSection),
      h('aside', {class: 'sidebar', attrs: {'aria-label': ''}}, business.element, micPanel, floorPanel,
        speakersPanel)),
    h('div', {class: 'bottom-dock'}, floorBar, controls.element), waitingOverlay);

  /** @type {RoomState | null} */
  let state = conn.room;
  let sending = false;
  /** A full render is due after the urgent part of an update. */
  let restScheduled = false;
  /** The floor panel's last state, to notice the end of a turn. @type {string | null} */
  let lastStatus = null;

  const onRemote = () => renderMedia();
  ctx.remote.addEventListener('change', onRemote);
  const onLocal = () => {
    renderMic();
    if (stagePerson()?.id === you.id) renderMedia();
  };
  ctx.local.addEventListener('change', onLocal);
  ctx.wantPublish(publishing);

  // ------------------------------------------------------------ actions

  async function request() {
    if (!myDelegation || sending) return;
    const checked = [...priorityInputs.values()].find((x) => x.input.checked)?.input.value ?? 'ordinary';
    sending = true;
    render();
    await ctx.act('floor.request', {delegation_id: myDelegation, priority: checked});
    sending = false;
    render();
  }

  async function cancel() {
    const mine = openRequest(state, myDelegation);
    if (!mine || sending) return;
    sending = true;
    render();
    await ctx.act('floor.cancel', {request_id: mine.request_id});
    sending = false;
    render();
  }

  async function release() {
    const mine = openRequest(state, myDelegation);
    if (!mine || mine.status !== 'granted' || sending) return;
    sending = true;
    render();
    await ctx.act('floor.release', {request_id: mine.request_id});
    sending = false;
    render();
  }

  /**
   * @param {ReturnType<typeof phase>} p
   * @param {FloorRequest} holder
   */
  function onPhase(p, holder) {
    const mine = holder.delegation_id === myDelegation;
    const name = ctx.people.delegation(holder.delegation_id)?.name ?? '';
    if (p === 'warning') {
      const left = Math.max(0, Math.round(remaining(holder, conn.serverNow()) ?? 0));
      ctx.announce(mine ? t('floor.warningYou', {time: clock(left)}) : t('floor.warningOther', {delegation: name}), mine);
      if (mine) cue('warning', t('floor.warningYou', {time: clock(left)}));
    } else if (p === 'overtime') {
      ctx.announce(mine ? t('floor.overtimeYou') : t('floor.overtimeOther', {delegation: name}), mine);
    }
    render();
  }

  /**
   * Makes a moment of the floor unmistakable: a toast, a chime, the floor
   * panel lit and focused (unless a dialog is open: it keeps the focus).
   * @param {import('../widgets/chime.js').ChimeKind} kind
   * @param {string} text
   */
  function cue(kind, text) {
    chime(kind);
    ctx.toast(text, 'cue');
    floorPanel.dataset.cue = kind;
    floorBar.dataset.cue = kind;
    // Restart the highlight even when the same cue comes twice in a row.
    floorPanel.classList.remove('cued');
    void floorPanel.offsetWidth;
    floorPanel.classList.add('cued');
    if (!document.querySelector('dialog[open]')) floorPanel.focus({preventScroll: false});
  }

  /**
   * The cue for a batch of events about my delegation's floor, if any.
   * @param {import('../protocol.js').RoomEvent[]} events
   * @returns {{kind: 'granted' | 'revoked', text: string} | null}
   */
  function floorCue(events) {
    /** @type {{kind: 'granted' | 'revoked', text: string} | null} */
    let found = null;
    for (const e of events) {
      if (e.delegation_id !== myDelegation || !myDelegation) continue;
      if (e.type === 'floor.granted') found = {kind: 'granted', text: t('announce.grantedYou')};
      else if (e.type === 'floor.revoked') {
        const system = e.actor === 'system';
        found = {kind: 'revoked', text: e.reason === 'time_limit' ? t('announce.timeUpYou')
          : system ? t('announce.revokedYouSystem') : t('announce.revokedYou')};
      }
    }
    return found;
  }

  // ------------------------------------------------------------ rendering

  /** The participant the stage shows: the floor's speaker, else the chair. */
  function stagePerson() {
    if (!state) return null;
    const holder = state.holders[0];
    if (holder) {
      const speaker = speakerOf(state, holder);
      if (speaker) return {id: speaker.participant_id, holder};
    }
    const chair = state.participants.find((p) => p.role === 'chair');
    return chair ? {id: chair.participant_id, holder: null} : null;
  }

  function renderMedia() {
    const onStage = stagePerson();
    // Stage
    stageTile.element.hidden = !onStage;
    stageEmpty.hidden = Boolean(onStage);
    if (onStage) {
      const person = ctx.people.person(onStage.id);
      if (stageTile.person.id !== person.id || stageTile.person.name !== person.name) stageTile.setPerson(person);
      if (person.id === you.id) {
        stageTile.setTrack(ctx.local.videoTrack ?? null);
        stageTile.element.classList.add('local');
      } else {
        const video = ctx.remote.of(person.id).video;
        const paused = video?.forwarded === false;
        stageTile.setTrack(paused ? null : video?.track ?? null, video?.producer_id);
        stageTile.setVideoPaused(paused);
        stageTile.element.classList.remove('local');
      }
      const p = participantOf(state, person.id);
      stageTile.setState({audible: p?.audible, muted: p?.muted, floor: Boolean(onStage.holder), presence: p?.presence});
    }
    grid.update(state, onStage ? [onStage.id] : []);
    element.classList.toggle('no-grid', grid.count === 0);
  }


  function renderMic() {
    const me = participantOf(state, you.id);
    /** @type {'open' | 'closed' | 'muted' | 'local-off' | 'none'} */
    let mic;
    if (!publishing) mic = 'none';
    else if (me?.muted) mic = 'muted';
    else if (me?.audible) mic = ctx.local.micOn && ctx.local.audioTrack ? 'open' : 'local-off';
    else mic = 'closed';
    micPanel.dataset.micState = mic;
    micIcon.replaceChildren(icon(mic === 'open' ? 'mic' : 'micOff'));
    // Say truthfully who muted: the technical team, or the chair.
    const key = mic === 'muted' && me?.muted_by === 'technician' ? 'mutedTech' : mic;
    micPanel.dataset.mutedBy = mic === 'muted' ? me?.muted_by ?? '' : '';
    setText(micTitle, t(`mic.${key}.title`));
    setText(micText, t(`mic.${key}.text`));
  }

  function renderFloor() {
    const mine = openRequest(state, myDelegation);
    const may = mayRequestFloor(state, {role: you.role, delegation_id: myDelegation});
    const holder = state?.holders.find((r) => r.delegation_id === myDelegation) ?? null;
    /** @type {'idle' | 'pending' | 'queued' | 'holding' | 'unavailable'} */
    let status;
    if (!may && !mine) status = 'unavailable';
    else if (!mine) status = 'idle';
    else if (mine.status === 'granted') status = 'holding';
    else if (mine.status === 'pending') status = 'pending';
    else status = 'queued';
    // After a turn (or a request withdrawn or denied) the next request is ordinary again.
    if (status === 'idle' && lastStatus !== null && lastStatus !== 'idle') {
      const ordinary = priorityInputs.get('ordinary');
      if (ordinary) ordinary.input.checked = true;
    }
    lastStatus = status;
    floorPanel.dataset.floorState = status;

    setText(floorHeading, t('floor.title'));
    setText(priorityLegend, t('floor.priority'));
    for (const [p, {label, hint}] of priorityInputs) {
      setText(label, t(`priority.${p}`));
      setText(hint, t(`priority.${p}.hint`));
    }
    setText(/** @type {HTMLElement} */ (requestButton.lastElementChild), t('floor.request'));
    setText(cancelButton, t('floor.cancel'));
    setText(releaseButton, t('floor.release'));

    priorityFieldset.hidden = status !== 'idle';
    requestButton.hidden = status !== 'idle';
    cancelButton.hidden = status !== 'pending' && status !== 'queued';
    releaseButton.hidden = status !== 'holding';
    requestButton.disabled = sending || !admitted(state, you.id);
    cancelButton.disabled = sending;
    releaseButton.disabled = sending;

    const statusText = {
      idle: t('floor.status.idle'),
      pending: t('floor.status.pending', {priority: mine ? t(`priority.${mine.priority}`) : ''}),
      queued: t('floor.status.queued', {priority: mine ? t(`priority.${mine.priority}`) : ''}),
      holding: t('floor.status.holding'),
      unavailable: !agendaLetsSpeak(state, myDelegation) ? t('floor.status.observerItem')
        : you.role === 'delegate' ? t('floor.status.delegateNotAllowed') : t('floor.status.observer'),
    }[status];
    setText(floorStatus, statusText);
    floorStatus.dataset.state = status;

    const queued = mine && mine.status === 'accepted' ? state?.queue.find((r) => r.request_id === mine.request_id) : null;
    position.hidden = !queued;
    if (queued) {
      position.replaceChildren(
        h('span', {class: 'queue-position-number', text: String(queued.position ?? '?')}),
        h('span', {text: t('floor.position', {total: state?.queue.length ?? 0})}));
      position.dataset.position = String(queued.position ?? '');
    } else {
      delete position.dataset.position;
    }

    myCountdown.set(holder);
    const p = holder ? phase(holder, conn.serverNow()) : null;
    warning.hidden = !(p === 'warning' || p === 'overtime');
    warning.dataset.phase = p ?? '';
    if (p === 'warning') setText(warning, t('floor.warningBanner'));
    else if (p === 'overtime') setText(warning, t('floor.overtimeBanner'));
    setText(floorNote, status === 'holding' ? t('floor.note.holding') : t('floor.note.idle'));
    floorNote.hidden = status === 'unavailable';
  }

  /** The phone's bottom bar: the same floor state as the panel, one button. */
  function renderFloorBar() {
    const status = floorPanel.dataset.floorState ?? 'unavailable';
    floorBar.dataset.floorState = status;
    floorBar.hidden = status === 'unavailable' || !admitted(state, you.id);
    setAttr(floorBar, 'aria-label', t('floor.title'));
    setText(barStatus, floorStatus.textContent ?? '');
    setText(/** @type {HTMLElement} */ (barRequest.lastElementChild), t('floor.request'));
    setText(barCancel, t('floor.cancel'));
    setText(barRelease, t('floor.release'));
    barRequest.hidden = status !== 'idle';
    barCancel.hidden = status !== 'pending' && status !== 'queued';
    barRelease.hidden = status !== 'holding';
    barRequest.disabled = requestButton.disabled;
    barCancel.disabled = sending;
    barRelease.disabled = sending;
  }

  function renderSpeakers() {
    setText(speakersHeading, t('speakers.title'));
    /** @type {FloorRequest[]} */
    const rows = state ? [...state.holders, ...state.queue, ...state.pending] : [];
    keyedList(speakersList, rows, (r) => r.request_id, (r) => {
      const li = h('li', {class: 'speaker-row', dataset: {requestId: r.request_id}},
        h('span', {class: 'speaker-pos'}), badge(null), h('span', {class: 'speaker-name'}),
        h('span', {class: 'tag priority-tag'}));
      return li;
    }, (li, r) => {
      const d = ctx.people.delegation(r.delegation_id);
      const [pos, b, name, tag] = /** @type {HTMLElement[]} */ ([...li.children]);
      const status = r.status === 'granted' ? 'granted' : r.status === 'pending' ? 'pending' : 'queued';
      li.dataset.status = status;
      li.classList.toggle('mine', r.delegation_id === myDelegation);
      if (status === 'granted') pos.replaceChildren(icon('mic'));
      else setText(pos, status === 'pending' ? '…' : String(r.position ?? ''));
      updateBadge(b, d);
      setText(name, d?.name ?? r.delegation_id);
      tag.hidden = r.priority === 'ordinary' && status !== 'granted' && status !== 'pending';
      setText(tag, status === 'granted' ? t('speakers.speaking') : status === 'pending' ? t('speakers.pending')
        : t(`priority.${r.priority}`));
      tag.dataset.priority = status === 'granted' ? 'speaking' : r.priority;
      setAttr(li, 'aria-current', status === 'granted' ? 'true' : null);
    });
    speakersEmpty.hidden = rows.length > 0;
    setText(speakersEmpty, t('speakers.empty'));
  }

  function renderStageText() {
    const onStage = stagePerson();
    setText(/** @type {HTMLElement} */ (stage.querySelector('#stage-heading')), t('stage.title'));
    setText(/** @type {HTMLElement} */ (gridSection.querySelector('#grid-heading')), t('grid.title'));
    if (onStage?.holder) {
      const d = ctx.people.delegation(onStage.holder.delegation_id);
      setText(stageLabel, t('stage.hasFloor', {delegation: d?.name ?? ''}));
      stageLabel.dataset.kind = 'floor';
    } else if (onStage) {
      setText(stageLabel, t('stage.presiding'));
      stageLabel.dataset.kind = 'chair';
    }
    countdown.set(onStage?.holder ?? null);
    stage.dataset.holder = onStage?.holder?.delegation_id ?? '';
    stageEmpty.replaceChildren(h('p', {text: t('stage.empty')}));
  }

  function renderWaiting() {
    // After a reconnection the server may put us back in the lobby.
    const waiting = Boolean(state) && !admitted(state, you.id);
    waitingOverlay.hidden = !waiting;
    if (waiting) {
      waitingOverlay.replaceChildren(h('div', {class: 'waiting-card'},
        h('span', {class: 'spinner', attrs: {'aria-hidden': 'true'}}),
        h('p', {text: t('meeting.waitingAgain')})));
    }
  }

  function render() {
    setAttr(/** @type {HTMLElement} */ (element.querySelector('.sidebar')), 'aria-label', t('sidebar.label'));
    renderStageText();
    renderMedia();
    renderMic();
    renderFloor();
    renderFloorBar();
    renderSpeakers();
    renderWaiting();
    if (state) business.update(state);
  }

  render();

  return {
    name: 'delegation',
    element,
    update(update) {
      if (!update) return;
      state = update.state;
      // The speaker's own state first, from the same update that opens or
      // closes its microphone in the media: the panel never lags the room.
      renderMic();
      renderFloor();
      renderFloorBar();
      const text = floorAnnouncement(update.events, {
        you: you.id, delegation: myDelegation, people: ctx.people, state,
      });
      if (text) ctx.announce(text.words, text.assertive);
      const floor = floorCue(update.events);
      if (floor) cue(floor.kind, floor.text);
      else if (text?.toast) ctx.toast(text.text);
      shareButton.update(state);
      business.events(update.events);
      // The stage, the grid and the list follow in the next task, so that
      // the panel above is painted first.
      if (!restScheduled) {
        restScheduled = true;
        setTimeout(() => {
          restScheduled = false;
          if (element.isConnected) render();
        }, 0);
      }
    },
    retranslate() {
      business.retranslate();
      shareStage.retranslate();
      shareButton.render();
      stageTile.retranslate();
      grid.retranslate();
      controls.retranslate();
      countdown.retranslate();
      myCountdown.retranslate();
      render();
    },
    rejoined() {
      render();
    },
    destroy() {
      ctx.remote.removeEventListener('change', onRemote);
      ctx.local.removeEventListener('change', onLocal);
      countdown.destroy();
      myCountdown.destroy();
      controls.destroy();
      shareStage.destroy();
      shareButton.destroy();
      stageTile.destroy();
      grid.destroy();
      element.remove();
    },
  };
}
