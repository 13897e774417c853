// The interpreter console: the speaker on the floor, what the interpreter
// works from (the floor or a relay channel), the big ON AIR button, the
// handover with the booth partner, a "slow down" signal to the chair, the
// microphone level, and a limiter on everything the interpreter hears.
//
// The interpreter publishes its microphone only; the server forwards it as
// the booth's channel while it is on air, and never back to the interpreter.

import {busy, h, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {speakerOf} from '../room.js';
import {ChannelMixer} from '../interpretation-audio.js';
import {LevelMeter} from '../widgets/level-meter.js';
import {languageName} from '../widgets/language-menu.js';
import {MediaControls} from '../widgets/media-controls.js';
import {VideoTile} from '../widgets/video-tile.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../conference.js').View} View */
/** @typedef {import('../protocol.js').RoomState} RoomState */
/** @typedef {import('../protocol.js').InterpretationChannel} InterpretationChannel */
/** @typedef {import('../protocol.js').InterpretationSeat} InterpretationSeat */

/**
 * What the console shows, from the room state.
 * @param {RoomState | null} state
 * @param {string} you
 */
export function boothOf(state, you) {
  for (const channel of state?.interpretation?.channels ?? []) {
    const seat = channel.interpreters.find((s) => s.participant_id === you);
    if (seat) {
      const partners = channel.interpreters.filter((s) => s.participant_id !== you);
      return {channel, seat, partners};
    }
  }
  return null;
}

/**
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function createInterpreterView(ctx) {
  const conn = ctx.conn;
  const you = conn.you?.id ?? '';
  /** @type {RoomState | null} */
  let state = null;

  const heading = h('h2', {class: 'panel-title', id: 'interp-heading'});
  const onAirState = h('p', {class: 'on-air-state', attrs: {'data-testid': 'on-air-state', role: 'status'}});
  const speaker = new VideoTile(/** @type {any} */ (conn.you), {className: 'stage-tile'});
  const speakerLabel = h('p', {class: 'stage-label'});

  const sourceLabel = h('label', {class: 'field-label', htmlFor: 'interp-source'});
  const source = /** @type {HTMLSelectElement} */ (h('select', {id: 'interp-source',
    attrs: {'data-testid': 'interp-source'},
    on: {change: () => void ctx.act('interpretation.set_source', {source: source.value})}}));

  const onAir = /** @type {HTMLButtonElement} */ (h('button', {class: 'button on-air-button', type: 'button',
    attrs: {'data-testid': 'on-air'}, on: {click: () => void busy(onAir, () => mainAction())}}));
  const accept = /** @type {HTMLButtonElement} */ (h('button', {class: 'button primary', type: 'button',
    hidden: true, attrs: {'data-testid': 'accept-handover'},
    on: {click: () => void busy(accept, () => ctx.act('interpretation.accept_handover'))}}));
  const slowDown = /** @type {HTMLButtonElement} */ (h('button', {class: 'button', type: 'button',
    attrs: {'data-testid': 'slow-down'},
    on: {click: () => void busy(slowDown, async () => {
      if (await ctx.act('interpretation.slow_down')) ctx.toast(t('interp.slowDownSent'));
    })}}));
  const partner = h('p', {class: 'partner-state', attrs: {'data-testid': 'partner-state'}});

  const meterLabel = h('p', {class: 'field-label'});
  const meter = new LevelMeter();
  const volumeLabel = h('span', {});
  const mixer = new ChannelMixer(ctx.remote, {limiter: true});
  mixer.set(true, 1);
  const volume = /** @type {HTMLInputElement} */ (h('input', {type: 'range', min: '0', max: '100', step: '5',
    value: '100', on: {input: () => mixer.set(true, Number(volume.value) / 100)}}));
  const limiterNote = h('p', {class: 'hint'});
  const controls = new MediaControls({local: ctx.local, remote: ctx.remote, leave: ctx.leave, publishing: true});
  const captureProblem = h('p', {class: 'field-error', attrs: {role: 'alert'}, hidden: true});

  const element = h('section', {class: 'console interpreter-view', attrs: {'aria-labelledby': 'interp-heading'}},
    h('div', {class: 'console-body'},
      h('div', {class: 'col col-center'}, captureProblem, speaker.element, speakerLabel),
      h('div', {class: 'col col-right'},
        h('section', {class: 'panel booth-panel'}, heading, onAirState, onAir, accept, partner),
        h('section', {class: 'panel'}, sourceLabel, source, h('label', {class: 'field'}, volumeLabel, volume),
          limiterNote),
        h('section', {class: 'panel'}, meterLabel, meter.element, slowDown))),
    controls.element);

  /** @type {string | null} */
  let failure = null;
  void ctx.local.start({video: false}).then(() => {
    meter.setTrack(ctx.local.stream?.getAudioTracks()[0] ?? null);
    ctx.wantPublish(true);
  }, (e) => {
    failure = 'media.denied';
    console.warn('microphone failed', e);
    render();
  });
  ctx.wantPublish(true);
  const onAnyClick = () => mixer.resume();
  element.addEventListener('pointerdown', onAnyClick);

  async function mainAction() {
    const booth = boothOf(state, you);
    if (!booth) return;
    const {channel} = booth;
    mixer.resume();
    if (channel.active === you) await ctx.act('interpretation.off_air');
    else if (channel.active === null) await ctx.act('interpretation.on_air');
    else await ctx.act('interpretation.request_handover');
  }

  function render() {
    const booth = boothOf(state, you);
    captureProblem.hidden = !failure;
    if (failure) setText(captureProblem, t(/** @type {any} */ (failure)));
    if (!booth) {
      setText(heading, t('interp.noBooth'));
      onAir.disabled = true;
      accept.hidden = true;
      element.dataset.onAir = 'none';
      setText(onAirState, '');
      return;
    }
    const {channel, seat, partners} = booth;
    setText(heading, t('interp.booth', {language: languageName(channel.language)}));
    const active = channel.active === you;
    const asked = channel.handover_to === you;
    element.dataset.onAir = active ? 'on' : channel.active ? 'partner' : 'idle';
    setText(onAirState, !channel.open ? t('interp.channelClosed')
      : active ? t('interp.onAir') : channel.active ? t('interp.passive') : t('interp.idle'));
    onAirState.dataset.state = active ? 'on-air' : 'passive';
    onAir.disabled = !channel.open || asked;
    onAir.classList.toggle('live', active);
    setText(onAir, active ? t('interp.goOffAir')
      : channel.active === null ? (partners.length ? t('interp.takeOver') : t('interp.goOnAir'))
        : asked ? t('interp.handoverAsked') : t('interp.requestHandover'));
    accept.hidden = !(active && channel.handover_to);
    setText(accept, t('interp.acceptHandover', {name: channel.handover_to ? ctx.people.name(channel.handover_to) : ''}));
    setText(partner, partners.length === 0 ? t('interp.noPartner') : partners.map((p) => t(
      p.active ? 'interp.partnerOnAir' : present(p) ? 'interp.partnerPassive' : 'interp.partnerAway',
      {name: ctx.people.name(p.participant_id)})).join(' · '));
    renderSource(channel, seat);
    renderSpeaker();
  }

  /** @param {InterpretationSeat} p */
  function present(p) {
    return Boolean(state?.participants.some((q) => q.participant_id === p.participant_id));
  }

  /**
   * @param {InterpretationChannel} channel
   * @param {InterpretationSeat} seat
   */
  function renderSource(channel, seat) {
    const relays = (state?.interpretation?.channels ?? []).filter((c) => c.open &&
      c.language !== channel.language && seat.working_languages.includes(c.language));
    const values = ['floor', ...relays.map((c) => c.language)];
    if ([...source.options].map((o) => o.value).join() !== values.join()) {
      source.replaceChildren(...values.map((value) => h('option', {value})));
    }
    for (const option of source.options) {
      option.textContent = option.value === 'floor' ? t('interp.floor')
        : t('interp.relay', {language: languageName(option.value)});
    }
    source.value = seat.source;
  }

  function renderSpeaker() {
    const holder = state?.holders[0];
    const person = (holder && state ? speakerOf(state, holder) : null) ??
      state?.participants.find((p) => p.role === 'chair');
    if (!person) return;
    if (speaker.person.id !== person.participant_id) speaker.setPerson(ctx.people.person(person.participant_id));
    const video = ctx.remote.of(person.participant_id).video;
    const paused = video?.forwarded === false;
    speaker.setTrack(paused ? null : video?.track ?? null, video?.producer_id);
    speaker.setVideoPaused(paused);
    setText(speakerLabel, ctx.people.name(person.participant_id));
  }
  ctx.remote.addEventListener('change', renderSpeaker);

  function retranslate() {
    setText(sourceLabel, t('interp.source'));
    setText(meterLabel, t('interp.yourMic'));
    setText(volumeLabel, t('interp.originalVolume'));
    setText(limiterNote, t('interp.limiter'));
    setText(slowDown, t('interp.slowDown'));
    setAttr(element, 'aria-label', t('role.interpreter'));
    render();
  }
  retranslate();

  return {
    name: 'interpreter',
    element,
    update(update) {
      if (!update) return;
      state = update.state;
      render();
      for (const event of update.events) {
        if (event.type === 'interpretation.handover_requested' && boothOf(state, you)?.channel.active === you) {
          ctx.announce(t('interp.partnerAsks', {name: ctx.people.name(event.participant_id)}), true);
        } else if (event.type === 'interpretation.shift_ended' && event.participant_id !== you &&
            boothOf(state, you)?.channel.language === event.booth) {
          ctx.announce(t('interp.partnerOff', {name: ctx.people.name(event.participant_id)}), true);
          ctx.toast(t('interp.partnerOff', {name: ctx.people.name(event.participant_id)}));
        }
      }
    },
    retranslate() {
      controls.retranslate();
      meter.retranslate();
      speaker.retranslate();
      retranslate();
    },
    destroy() {
      ctx.remote.removeEventListener('change', renderSpeaker);
      mixer.destroy();
      meter.destroy();
      speaker.destroy();
      controls.destroy();
      element.remove();
    },
  };
}
