// The participant's own camera and microphone: capture with the chosen
// devices, switching devices, the local on/off switches. No DOM.
//
// Events: `change` (stream, devices or switches changed);
//         `tracks` (a device switch replaced a track: republish).

const STORAGE_KEY = 'palabra.devices';

/**
 * Why capture failed, in terms the page can explain.
 * @typedef {'denied' | 'notfound' | 'busy' | 'insecure' | 'other'} CaptureFailure
 */

/**
 * @typedef {object} DeviceChoice
 * @property {string} [audioinput]
 * @property {string} [videoinput]
 * @property {string} [audiooutput]
 */

/**
 * Maps a getUserMedia error to a failure kind.
 * @param {unknown} error
 * @returns {CaptureFailure}
 */
export function captureFailure(error) {
  const name = error instanceof DOMException ? error.name : /** @type {any} */ (error)?.name;
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'notfound';
    case 'NotReadableError':
    case 'AbortError':
      return 'busy';
    case 'TypeError':
      return globalThis.isSecureContext === false ? 'insecure' : 'other';
    default:
      return 'other';
  }
}

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    /** The current capture, or null. @type {MediaStream | null} */
    this.stream = null;
    /** @type {MediaDeviceInfo[]} */
    this.devices = [];
    /** @type {DeviceChoice} */
    this.choice = loadChoice();
    /** Local microphone switch (the floor decides whether anyone hears it). */
    this.micOn = true;
    this.camOn = true;
    /** Why the camera is missing when capture fell back to audio only. @type {CaptureFailure | null} */
    this.videoFailure = null;
    /** @private */ this._onDeviceChange = () => void this.refreshDevices();
    navigator.mediaDevices?.addEventListener?.('devicechange', this._onDeviceChange);
  }

  /** @returns {MediaStreamTrack | undefined} */
  get audioTrack() {
    return this.stream?.getAudioTracks()[0];
  }

  /** @returns {MediaStreamTrack | undefined} */
  get videoTrack() {
    return this.stream?.getVideoTracks()[0];
  }

  /**
   * Captures camera and microphone with the chosen devices; if only the
   * camera fails, continues with the microphone alone (`videoFailure` says
   * why). Throws the getUserMedia error when the microphone fails.
   * @param {{video?: boolean}} [options]
   * @returns {Promise<MediaStream>}
   */
  async start({video = true} = {}) {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw Object.assign(new Error('getUserMedia is unavailable'), {
        name: globalThis.isSecureContext === false ? 'SecurityError' : 'NotFoundError',
      });
    }
    this.videoFailure = null;
    /** @type {MediaStream} */
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: this._audioConstraints(),
        video: video ? this._videoConstraints() : false,
      });
    } catch (e) {
      if (!video || captureFailure(e) === 'denied') throw e;
      // Perhaps only the camera is missing or busy: try the microphone alone.
      stream = await navigator.mediaDevices.getUserMedia({audio: this._audioConstraints()});
      this.videoFailure = captureFailure(e);
    }
    this._replaceStream(stream);
    await this.refreshDevices();
    return stream;
  }

  /**
   * Switches one device; the new track replaces the old one in the stream.
   * @param {'audioinput' | 'videoinput'} kind
   * @param {string} deviceId
   * @returns {Promise<MediaStreamTrack | null>} the new track
   */
  async useDevice(kind, deviceId) {
    this.choice = {...this.choice, [kind]: deviceId};
    saveChoice(this.choice);
    if (!this.stream) return null;
    const constraints = kind === 'audioinput'
      ? {audio: this._audioConstraints()}
      : {video: this._videoConstraints()};
    const fresh = await navigator.mediaDevices.getUserMedia(constraints);
    const track = fresh.getTracks()[0];
    const old = kind === 'audioinput' ? this.audioTrack : this.videoTrack;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    track.enabled = kind === 'audioinput' ? this.micOn : this.camOn;
    this.stream.addTrack(track);
    if (kind === 'videoinput') this.videoFailure = null;
    this._changed();
    this.dispatchEvent(new Event('tracks'));
    return track;
  }

  /**
   * Remembers the speaker choice (applied by the page with setSinkId).
   * @param {string} deviceId
   */
  useOutput(deviceId) {
    this.choice = {...this.choice, audiooutput: deviceId};
    saveChoice(this.choice);
    this._changed();
  }

  /** @param {boolean} on */
  setMic(on) {
    this.micOn = on;
    if (this.audioTrack) this.audioTrack.enabled = on;
    this._changed();
  }

  /** @param {boolean} on */
  setCam(on) {
    this.camOn = on;
    if (this.videoTrack) this.videoTrack.enabled = on;
    this._changed();
  }

  async refreshDevices() {
    try {
      this.devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      this.devices = [];
    }
    this._changed();
  }

  /**
   * The devices of one kind (labels are empty until capture is allowed).
   * @param {MediaDeviceKind} kind
   */
  devicesOf(kind) {
    return this.devices.filter((d) => d.kind === kind && d.deviceId);
  }

  /**
   * The device in use for a kind: the live track's, else the saved choice.
   * @param {MediaDeviceKind} kind
   * @returns {string}
   */
  currentDevice(kind) {
    const track = kind === 'audioinput' ? this.audioTrack : kind === 'videoinput' ? this.videoTrack : undefined;
    return track?.getSettings().deviceId ?? this.choice[/** @type {keyof DeviceChoice} */ (kind)] ?? '';
  }

  stop() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    navigator.mediaDevices?.removeEventListener?.('devicechange', this._onDeviceChange);
    this._changed();
  }

  /** @private @param {MediaStream} stream */
  _replaceStream(stream) {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = stream;
    if (this.audioTrack) this.audioTrack.enabled = this.micOn;
    if (this.videoTrack) this.videoTrack.enabled = this.camOn;
    this._changed();
  }

  /** @private @returns {MediaTrackConstraints} */
  _audioConstraints() {
    const id = this.choice.audioinput;
    return {
      ...(id ? {deviceId: {ideal: id}} : {}),
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    };
  }

  /** @private @returns {MediaTrackConstraints} */
  _videoConstraints() {
    const id = this.choice.videoinput;
    return {
      ...(id ? {deviceId: {ideal: id}} : {}),
      width: {ideal: 1280},
      height: {ideal: 720},
      frameRate: {ideal: 30},
    };
  }

  /** @private */
  _changed() {
    this.dispatchEvent(new Event('change'));
  }
}

/** @returns {DeviceChoice} */
function loadChoice() {
  try {
    const raw = globalThis.localStorage?.getItem(STORAGE_KEY);
    const parsed = raw ? JSON.parse(raw) : {};
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

/** @param {DeviceChoice} choice */
function saveChoice(choice) {
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify(choice));
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
}
