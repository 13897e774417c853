// The stage while a screen is shared: the presentation large, who presents,
// and (for the chair, and the sharer) the button that stops it. Mounted in a
// view's stage area; `host` gets the class `sharing` while it shows, so the
// view's own stage (the speaker's camera) becomes the small picture.

import {h, setText} from '../dom.js';
import {t} from '../i18n.js';
import {icon} from './icons.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../screen-share.js').ScreenShare} ScreenShare */
/** @typedef {import('../protocol.js').ShareStopped} ShareStopped */

export class ShareStage {
  /**
   * @param {ViewContext} ctx
   * @param {ScreenShare} share  ours
   * @param {HTMLElement} host
   */
  constructor(ctx, share, host) {
    /** @private */ this._ctx = ctx;
    /** @private */ this._share = share;
    /** @private */ this._host = host;
    /** @private */ this._screen = h('video', {class: 'share-video', autoplay: true, playsInline: true, muted: true});
    /** @private */ this._label = h('span', {class: 'share-label'});
    /** @private */ this._stopLabel = h('span');
    /** @private */ this._stop = h('button', {id: 'btn-stop-share', class: 'button danger small', type: 'button',
      on: {click: () => void this._stopShare()}}, icon('stop'), this._stopLabel);
    this.element = h('section', {class: 'share-stage', hidden: true, attrs: {'aria-live': 'off'}},
      h('div', {class: 'share-media'}, this._screen),
      h('div', {class: 'share-bar'}, icon('screen'), this._label, this._stop));
    /** Who shares now, or null. @type {string | null} */
    this.sharer = null;
    /** @private */ this._onChange = () => this.render();
    /** @private */ this._onStopped = (/** @type {Event} */ e) => {
      this._stopped(/** @type {CustomEvent<ShareStopped>} */ (e).detail);
    };
    ctx.remote.addEventListener('share', this._onChange);
    share.addEventListener('change', this._onChange);
    ctx.conn.addEventListener('producerremoved', this._onChange);
    ctx.conn.addEventListener('sharestopped', this._onStopped);
    this.render();
  }

  render() {
    const ctx = this._ctx;
    const you = ctx.conn.you;
    const mine = Boolean(this._share.track);
    // Gone as soon as the server says so (producer.removed), before the re-offer.
    const received = ctx.remote.share;
    const remote = received && ctx.conn.producers.has(received.producer_id) ? received : null;
    const sharer = mine ? you?.id ?? null : remote?.participant_id ?? null;
    const before = this.sharer;
    this.sharer = sharer;
    this.element.hidden = !sharer;
    this._host.classList.toggle('sharing', Boolean(sharer));
    if (!sharer) {
      setVideo(this._screen, null);
      return;
    }
    // Our own share is shown from the capture (the server does not send it back).
    setVideo(this._screen, mine ? this._share.track : remote?.track ?? null);
    this._screen.dataset.producerId = mine ? '' : remote?.producer_id ?? '';
    this.element.dataset.sharer = sharer;
    const person = ctx.people.person(sharer);
    const who = person.delegation?.name ?? person.name;
    setText(this._label, mine ? t('share.yours') : t('share.by', {name: who}));
    setText(this._stopLabel, mine ? t('share.stop') : t('share.stopChair'));
    this._stop.hidden = !mine && you?.role !== 'chair';
    if (before !== sharer && !mine) ctx.announce(t('share.started', {name: who}));
  }

  /** @private */
  async _stopShare() {
    const sharer = this.sharer;
    if (!sharer) return;
    if (this._share.track) {
      await this._share.stop().catch((e) => console.warn('stopping the share failed', e));
      return;
    }
    this._stop.disabled = true;
    try {
      await this._ctx.conn.stopShareOf(sharer);
    } catch (e) {
      console.warn('share.stop refused', e);
      this._ctx.toast(t('share.error.other'), 'error');
    } finally {
      this._stop.disabled = false;
    }
  }

  /**
   * Says why a share ended (everyone is told; the sharer most clearly).
   * @private
   * @param {ShareStopped} stopped
   */
  _stopped(stopped) {
    const ctx = this._ctx;
    const mine = stopped.participant_id === ctx.conn.you?.id;
    // Our own click; or the server confirming a drop this page already reported.
    if (mine && (stopped.reason === 'sharer' || (stopped.reason === 'left' && stopped.producer_id))) return;
    const person = ctx.people.person(stopped.participant_id);
    const name = person.delegation?.name ?? person.name;
    const key = mine ? `share.ended.yours.${stopped.reason}` : `share.ended.${stopped.reason}`;
    const text = t(/** @type {any} */ (key), {name});
    ctx.announce(text, mine);
    if (mine || stopped.reason === 'chair') ctx.toast(text);
  }

  retranslate() {
    this.render();
  }

  destroy() {
    const ctx = this._ctx;
    ctx.remote.removeEventListener('share', this._onChange);
    this._share.removeEventListener('change', this._onChange);
    ctx.conn.removeEventListener('producerremoved', this._onChange);
    ctx.conn.removeEventListener('sharestopped', this._onStopped);
    this._host.classList.remove('sharing');
    this.element.remove();
  }
}

/**
 * @param {HTMLVideoElement} video
 * @param {MediaStreamTrack | null} track
 */
function setVideo(video, track) {
  const current = video.srcObject instanceof MediaStream ? video.srcObject.getVideoTracks()[0] ?? null : null;
  if (current === track) return;
  video.srcObject = track ? new MediaStream([track]) : null;
  if (track) video.play().catch(() => {});
}
