// Microphone level meter: a segmented bar driven by an AnalyserNode, so the
// participant sees that the microphone picks them up before they speak.

import {h, setAttr} from '../dom.js';
import {t} from '../i18n.js';

const SEGMENTS = 12;

/**
 * Level 0..1 from the RMS of time-domain samples, on a -60..0 dBFS scale.
 * @param {Float32Array} samples
 * @returns {number}
 */
export function levelOf(samples) {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  const db = 20 * Math.log10(Math.max(rms, 1e-6));
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

export class LevelMeter {
  constructor() {
    /** @private */ this._segments = Array.from({length: SEGMENTS}, () => h('i'));
    this.element = h('div', {class: 'level-meter', attrs: {role: 'meter', 'aria-valuemin': '0',
      'aria-valuemax': '100', 'aria-valuenow': '0'}}, ...this._segments);
    /** @private @type {AudioContext | null} */ this._ctx = null;
    /** @private @type {MediaStreamAudioSourceNode | null} */ this._source = null;
    /** @private @type {AnalyserNode | null} */ this._analyser = null;
    /** @private */ this._frame = 0;
    /** @private */ this._lastAria = 0;
    /** @private */ this._resume = () => void this._ctx?.resume();
    /** Latest level 0..1 (tests read it as data-level too). */
    this.level = 0;
    this.retranslate();
  }

  /**
   * Measures this track (null: stop).
   * @param {MediaStreamTrack | null | undefined} track
   */
  setTrack(track) {
    this._source?.disconnect();
    this._source = null;
    if (!track) {
      this._show(0);
      return;
    }
    if (!this._ctx) {
      this._ctx = new AudioContext();
      this._analyser = this._ctx.createAnalyser();
      this._analyser.fftSize = 1024;
      // A context created before any user gesture may start suspended.
      document.addEventListener('pointerdown', this._resume, {once: true});
      document.addEventListener('keydown', this._resume, {once: true});
    }
    this._source = this._ctx.createMediaStreamSource(new MediaStream([track]));
    this._source.connect(/** @type {AnalyserNode} */ (this._analyser));
    void this._ctx.resume().catch(() => {});
    if (!this._frame) this._loop();
  }

  retranslate() {
    setAttr(this.element, 'aria-label', t('devices.level'));
  }

  destroy() {
    cancelAnimationFrame(this._frame);
    this._frame = 0;
    this._source?.disconnect();
    void this._ctx?.close().catch(() => {});
    this._ctx = null;
    document.removeEventListener('pointerdown', this._resume);
    document.removeEventListener('keydown', this._resume);
    this.element.remove();
  }

  /** @private */
  _loop() {
    const analyser = this._analyser;
    if (!analyser) return;
    const samples = new Float32Array(analyser.fftSize);
    const step = () => {
      if (!this._analyser) return;
      this._analyser.getFloatTimeDomainData(samples);
      const level = this._source ? levelOf(samples) : 0;
      // Fast attack, slow release: easier to read.
      this._show(level > this.level ? level : this.level * 0.9 + level * 0.1);
      this._frame = requestAnimationFrame(step);
    };
    this._frame = requestAnimationFrame(step);
  }

  /** @private @param {number} level */
  _show(level) {
    this.level = level;
    const lit = Math.round(level * SEGMENTS);
    this._segments.forEach((seg, i) => seg.classList.toggle('lit', i < lit));
    this.element.dataset.level = level.toFixed(2);
    const now = performance.now();
    if (now - this._lastAria > 500) {
      this._lastAria = now;
      setAttr(this.element, 'aria-valuenow', String(Math.round(level * 100)));
    }
  }
}
