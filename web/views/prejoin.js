// The delegation's lobby: before entering, the participant checks camera and
// microphone (preview, device choice, level meter) while the chair admits
// them; once the check passes, the server is told (`participant.ready`) and
// the chair's lobby entry says so. Enters the meeting once they have said so
// and are admitted.

import {h, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {admitted} from '../room.js';
import {badge} from '../widgets/badge.js';
import {DevicePicker} from '../widgets/device-picker.js';
import {icon} from '../widgets/icons.js';
import {VideoTile, describePerson} from '../widgets/video-tile.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../conference.js').View} View */
/** @typedef {import('../protocol.js').RoomUpdate} RoomUpdate */

const PUBLISHING = new Set(['head', 'delegate', 'interpreter']);

/**
 * @param {ViewContext} ctx
 * @param {() => void} enter  switches to the meeting
 * @param {{entered?: boolean}} [options]  entered: had entered before (a reload), enter once admitted
 * @returns {View}
 */
export function createPrejoinView(ctx, enter, options = {}) {
  const you = /** @type {import('../people.js').Person} */ (ctx.conn.you);
  const publishing = PUBLISHING.has(you.role);
  let entered = options.entered ?? false;
  let done = false;
  /** @type {'pending' | 'ok' | 'failed' | 'skipped'} */
  let capture = publishing ? 'pending' : 'skipped';

  const heading = h('h2', {id: 'prejoin-title', class: 'prejoin-title'});
  const lead = h('p', {class: 'prejoin-lead'});
  const who = h('div', {class: 'prejoin-who'}, badge(you.delegation, 'large'),
    h('div', {}, h('div', {class: 'name', text: you.name}), h('div', {class: 'meta'})));
  const preview = new VideoTile(you, {local: true, className: 'prejoin-preview'});
  preview.element.id = 'tile-local';
  const problemText = h('p', {class: 'problem-text'});
  const retry = h('button', {class: 'button primary', type: 'button', on: {click: () => void start()}});
  const skip = h('button', {class: 'button', type: 'button', on: {click: () => {
    capture = 'skipped';
    render();
  }}});
  const problem = h('div', {class: 'problem', attrs: {role: 'alert'}, hidden: true},
    icon('alert', 'problem-icon'), problemText, h('div', {class: 'problem-actions'}, retry, skip));
  preview.element.querySelector('.media')?.append(problem);
  const picker = publishing ? new DevicePicker(ctx.local, {remote: ctx.remote}) : null;

  const micToggle = h('input', {type: 'checkbox', id: 'prejoin-mic', checked: true,
    on: {change: () => ctx.local.setMic(micToggle.checked)}});
  const camToggle = h('input', {type: 'checkbox', id: 'prejoin-cam', checked: true,
    on: {change: () => ctx.local.setCam(camToggle.checked)}});
  const micToggleLabel = h('label', {htmlFor: 'prejoin-mic'});
  const camToggleLabel = h('label', {htmlFor: 'prejoin-cam'});
  const switches = h('div', {class: 'switches'},
    h('div', {class: 'switch'}, micToggle, micToggleLabel),
    h('div', {class: 'switch'}, camToggle, camToggleLabel));

  const floorNote = h('p', {class: 'hint'});
  const cameraProblem = h('p', {class: 'field-error', attrs: {role: 'status'}, hidden: true});
  const admission = h('p', {class: 'admission', attrs: {role: 'status', 'aria-live': 'polite'}});
  const enterButton = h('button', {id: 'btn-enter', class: 'button primary large', type: 'button',
    on: {click: () => { entered = true; render(); proceed(); }}});
  const devicesHeading = h('h3', {class: 'panel-subtitle'});

  // The connectivity check, in a new tab, with the same link's token.
  const checkLink = h('a', {id: 'prejoin-check', class: 'check-link', attrs: {
    href: `/check${location.search}`, target: '_blank', rel: 'noopener'}});
  const entry = h('div', {class: 'prejoin-entry'}, admission, enterButton, checkLink);
  const side = h('div', {class: 'prejoin-side'},
    heading, lead, who,
    publishing ? devicesHeading : null,
    picker?.element ?? null,
    publishing ? cameraProblem : null,
    publishing ? switches : null,
    publishing ? floorNote : null,
    publishing ? null : entry);
  const element = h('section', {class: 'prejoin', attrs: {'aria-labelledby': 'prejoin-title'}},
    h('div', {class: `prejoin-card ${publishing ? '' : 'no-media'}`},
      publishing ? h('div', {class: 'prejoin-main'}, preview.element, entry) : null, side));

  const onLocal = () => {
    preview.setTrack(ctx.local.videoTrack ?? null);
    preview.setCameraOff(!ctx.local.camOn || !ctx.local.videoTrack);
  };
  ctx.local.addEventListener('change', onLocal);

  async function start() {
    capture = 'pending';
    render();
    const failure = await ctx.startCapture();
    capture = failure ? 'failed' : 'ok';
    problem.dataset.reason = failure ?? '';
    render();
    if (!failure) void declareReady();
  }

  /** Tells the chair the camera and microphone work (once per seat). */
  async function declareReady() {
    const room = ctx.conn.room;
    const me = [...(room?.lobby ?? []), ...(room?.participants ?? [])].find((p) => p.participant_id === you.id);
    if (me?.ready) return;
    try {
      await ctx.conn.command('participant.ready');
    } catch (e) {
      console.warn('participant.ready refused', e); // the marker only; joining goes on
    }
  }

  function isAdmitted() {
    return admitted(ctx.conn.room, you.id);
  }

  function proceed() {
    if (done || !entered || !isAdmitted()) return;
    done = true;
    enter();
  }

  function render() {
    setText(heading, t('prejoin.title'));
    setText(checkLink, t('prejoin.check'));
    setText(lead, publishing ? t('prejoin.lead') : t('prejoin.leadObserver'));
    setText(/** @type {HTMLElement} */ (who.querySelector('.meta')), describePerson(you));
    setText(devicesHeading, t('prejoin.devices'));
    setText(micToggleLabel, t('prejoin.micAtEntry'));
    setText(camToggleLabel, t('prejoin.camAtEntry'));
    setText(floorNote, t('prejoin.floorNote'));
    setText(retry, t('retry'));
    setText(skip, t('prejoin.continueWithout'));
    micToggle.checked = ctx.local.micOn;
    camToggle.checked = ctx.local.camOn;

    problem.hidden = capture !== 'failed';
    if (capture === 'failed') {
      setText(problemText, t(/** @type {any} */ (`media.${problem.dataset.reason || 'other'}`)));
    }
    const cameraNote = capture === 'ok' && ctx.local.videoFailure
      ? t(/** @type {any} */ (`media.camera.${ctx.local.videoFailure}`)) : '';
    setText(cameraProblem, cameraNote);
    cameraProblem.hidden = !cameraNote;
    const waiting = !isAdmitted();
    element.dataset.admitted = String(!waiting);
    element.dataset.capture = capture;
    if (waiting) setText(admission, entered ? t('prejoin.waitingEntered') : t('prejoin.waiting'));
    else setText(admission, entered ? t('prejoin.entering') : t('prejoin.admitted'));
    admission.dataset.state = waiting ? 'waiting' : 'admitted';
    setText(enterButton, entered && waiting ? t('prejoin.waitingButton') : t('prejoin.enter'));
    enterButton.disabled = (entered && waiting) || capture === 'pending';
    setAttr(enterButton, 'aria-describedby', null);
  }

  if (publishing) void start();
  else entered = true; // nothing to check: observers enter once admitted
  render();
  queueMicrotask(() => enterButton.focus());

  return {
    name: 'prejoin',
    element,
    update(update) {
      if (update) render();
      proceed();
    },
    retranslate() {
      preview.retranslate();
      picker?.retranslate();
      render();
    },
    rejoined() {
      render();
    },
    destroy() {
      ctx.local.removeEventListener('change', onLocal);
      picker?.destroy();
      preview.setTrack(null);
      element.remove();
    },
  };
}
