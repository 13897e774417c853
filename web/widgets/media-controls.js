// The bottom bar of a meeting: the local microphone and camera switches,
// the devices dialog and the leave button.

import {h, setAttr, setText} from '../dom.js';
import {t} from '../i18n.js';
import {DevicePicker} from './device-picker.js';
import {icon} from './icons.js';

/** @typedef {import('../local-media.js').LocalMedia} LocalMedia */
/** @typedef {import('../remote-media.js').RemoteMedia} RemoteMedia */

export class MediaControls {
  /**
   * @param {{local: LocalMedia, remote: RemoteMedia, leave: () => void, publishing: boolean}} options
   *   publishing: false for roles without camera and microphone (only leave)
   */
  constructor({local, remote, leave, publishing}) {
    /** @private */ this._local = local;
    /** @private */ this._remote = remote;
    /** @private */ this._micState = h('span', {class: 'toggle-state'});
    /** @private */ this._camState = h('span', {class: 'toggle-state'});
    /** @private */ this._micLabel = h('span');
    /** @private */ this._camLabel = h('span');
    /** @private */ this._devicesLabel = h('span');
    /** @private */ this._leaveLabel = h('span');
    this.mic = h('button', {id: 'btn-mic', class: 'button toggle', type: 'button',
      on: {click: () => local.setMic(!local.micOn)}},
    icon('mic', 'on-icon'), icon('micOff', 'off-icon'), this._micLabel, this._micState);
    this.cam = h('button', {id: 'btn-cam', class: 'button toggle', type: 'button',
      on: {click: () => local.setCam(!local.camOn)}},
    icon('camera', 'on-icon'), icon('cameraOff', 'off-icon'), this._camLabel, this._camState);
    this.devices = h('button', {id: 'btn-devices', class: 'button', type: 'button',
      on: {click: () => this.openDevices()}}, icon('sliders'), this._devicesLabel);
    this.leave = h('button', {id: 'btn-leave', class: 'button danger', type: 'button',
      on: {click: leave}}, icon('leave'), this._leaveLabel);
    /** @private */ this._dialogTitle = h('h2', {id: 'devices-dialog-title'});
    /** @private */ this._dialogClose = h('button', {class: 'button', value: 'close'});
    /** @private @type {DevicePicker | null} */ this._picker = null;
    /** @private */ this._pickerSlot = h('div');
    this.dialog = h('dialog', {class: 'dialog devices-dialog', attrs: {'aria-labelledby': 'devices-dialog-title'}},
      h('form', {method: 'dialog'}, this._dialogTitle, this._pickerSlot,
        h('div', {class: 'dialog-actions'}, this._dialogClose)));
    this.dialog.addEventListener('close', () => {
      this._picker?.destroy();
      this._picker = null;
    });
    this.element = h('footer', {class: 'controls', attrs: {'aria-label': ''}},
      publishing ? this.mic : null, publishing ? this.cam : null, publishing ? this.devices : null,
      h('span', {class: 'controls-spacer'}), this.leave, this.dialog);
    /** @private */ this._onChange = () => this.render();
    local.addEventListener('change', this._onChange);
    this.retranslate();
  }

  openDevices() {
    this._picker?.destroy();
    this._picker = new DevicePicker(this._local, {remote: this._remote});
    this._pickerSlot.replaceChildren(this._picker.element);
    this.dialog.showModal();
  }

  render() {
    const local = this._local;
    for (const [button, state, on, track] of /** @type {const} */ ([
      [this.mic, this._micState, local.micOn, local.audioTrack],
      [this.cam, this._camState, local.camOn, local.videoTrack],
    ])) {
      button.disabled = !track;
      setAttr(button, 'aria-pressed', String(Boolean(track) && on));
      setText(state, track ? (on ? t('on') : t('off')) : t('unavailable'));
    }
  }

  retranslate() {
    setText(this._micLabel, t('controls.microphone'));
    setText(this._camLabel, t('controls.camera'));
    setText(this._devicesLabel, t('controls.devices'));
    setText(this._leaveLabel, t('controls.leave'));
    setText(this._dialogTitle, t('devices.title'));
    setText(this._dialogClose, t('close'));
    setAttr(this.element, 'aria-label', t('controls.region'));
    this._picker?.retranslate();
    this.render();
  }

  destroy() {
    this._local.removeEventListener('change', this._onChange);
    this._picker?.destroy();
    this.element.remove();
  }
}
