// Camera, microphone and speaker selection, with the microphone level meter.
// Used by the pre-join lobby and by the in-meeting devices dialog.

import {h, setText} from '../dom.js';
import {t} from '../i18n.js';
import {LevelMeter} from './level-meter.js';

/** @typedef {import('../local-media.js').LocalMedia} LocalMedia */
/** @typedef {import('../remote-media.js').RemoteMedia} RemoteMedia */

let uid = 0;

export class DevicePicker {
  /**
   * @param {LocalMedia} local
   * @param {{remote?: RemoteMedia, onSwitched?: () => void}} [options]
   *   onSwitched: a device was switched (the page republishes the new track)
   */
  constructor(local, {remote, onSwitched} = {}) {
    this.local = local;
    /** @private */ this._remote = remote;
    /** @private */ this._onSwitched = onSwitched ?? (() => {});
    const n = ++uid;
    /** @private */ this._mic = this._select(`dev-mic-${n}`, 'audioinput');
    /** @private */ this._cam = this._select(`dev-cam-${n}`, 'videoinput');
    /** @private */ this._out = this._select(`dev-out-${n}`, 'audiooutput');
    /** @private */ this._error = h('p', {class: 'field-error', attrs: {role: 'alert'}, hidden: true});
    this.meter = new LevelMeter();
    const canPickOutput = typeof (/** @type {any} */ (HTMLMediaElement.prototype)).setSinkId === 'function';
    this._out.row.hidden = !canPickOutput;
    this.element = h('div', {class: 'device-picker'},
      this._mic.row,
      h('div', {class: 'field meter-row'},
        h('span', {class: 'field-label', dataset: {i18n: 'devices.level'}, text: t('devices.level')}),
        this.meter.element),
      this._cam.row,
      this._out.row,
      this._error);
    /** @private */ this._onChange = () => this.render();
    local.addEventListener('change', this._onChange);
    this.render();
  }

  render() {
    this._fill(this._mic, 'audioinput');
    this._fill(this._cam, 'videoinput');
    this._fill(this._out, 'audiooutput');
    this.meter.setTrack(this.local.audioTrack ?? null);
  }

  retranslate() {
    this.meter.retranslate();
    this.render();
  }

  destroy() {
    this.local.removeEventListener('change', this._onChange);
    this.meter.destroy();
    this.element.remove();
  }

  /**
   * @private
   * @param {string} id
   * @param {MediaDeviceKind} kind
   */
  _select(id, kind) {
    const labelKey = kind === 'audioinput' ? 'devices.microphone'
      : kind === 'videoinput' ? 'devices.camera' : 'devices.speaker';
    const select = h('select', {id, class: 'select', dataset: {device: kind}});
    select.addEventListener('change', () => void this._switch(kind, select.value));
    const label = h('label', {class: 'field-label', htmlFor: id, dataset: {i18n: labelKey}, text: t(/** @type {any} */ (labelKey))});
    const row = h('div', {class: 'field'}, label, select);
    return {row, select};
  }

  /**
   * @private
   * @param {{select: HTMLSelectElement}} field
   * @param {MediaDeviceKind} kind
   */
  _fill(field, kind) {
    const devices = this.local.devicesOf(kind);
    const current = kind === 'audiooutput' ? (this.local.choice.audiooutput ?? 'default')
      : this.local.currentDevice(kind);
    const select = field.select;
    const options = devices.map((d, i) => ({
      value: d.deviceId,
      label: d.label || t(kind === 'audioinput' ? 'devices.micN' : kind === 'videoinput' ? 'devices.camN' : 'devices.speakerN', {n: i + 1}),
    }));
    if (!options.length) options.push({value: '', label: t('devices.none')});
    const signature = JSON.stringify(options);
    if (select.dataset.signature !== signature) {
      select.replaceChildren(...options.map((o) => h('option', {value: o.value, text: o.label})));
      select.dataset.signature = signature;
    }
    if (options.some((o) => o.value === current)) select.value = current;
    select.disabled = !devices.length;
  }

  /**
   * @private
   * @param {MediaDeviceKind} kind
   * @param {string} deviceId
   */
  async _switch(kind, deviceId) {
    this._error.hidden = true;
    try {
      if (kind === 'audiooutput') {
        this.local.useOutput(deviceId);
        await this._remote?.setOutput(deviceId);
        return;
      }
      await this.local.useDevice(kind, deviceId);
      this._onSwitched();
    } catch (e) {
      console.warn('device switch failed', e);
      setText(this._error, t('devices.switchFailed'));
      this._error.hidden = false;
      this.render();
    }
  }
}
