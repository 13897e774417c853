// The grid of participants on camera: the local preview first, then the
// chair, then the delegations in their order; each tile shows its video
// and the microphone state the server decided.

import {h, keyedList} from '../dom.js';
import {t} from '../i18n.js';
import {VideoTile} from './video-tile.js';

/** @typedef {import('../conference.js').ViewContext} ViewContext */
/** @typedef {import('../protocol.js').RoomState} RoomState */

/** Roles shown as video tiles (those who publish). */
export const ON_CAMERA = new Set(['chair', 'head', 'delegate', 'interpreter']);

export class ParticipantGrid {
  /**
   * @param {ViewContext} ctx
   * @param {{withLocal: boolean}} options  withLocal: show the local preview tile
   */
  constructor(ctx, {withLocal}) {
    /** @private */ this._ctx = ctx;
    /** @private @type {Map<string, VideoTile>} */ this._tiles = new Map();
    /** @private @type {RoomState | null} */ this._state = null;
    /** @private @type {Set<string>} */ this._exclude = new Set();
    const you = /** @type {import('../people.js').Person} */ (ctx.conn.you);
    /** The local preview, or null. */
    this.localTile = withLocal ? new VideoTile(you, {local: true}) : null;
    if (this.localTile) this.localTile.element.id = 'tile-local';
    this.element = h('div', {class: 'grid', id: 'grid'});
    /** @private */ this._onRemote = () => this.render();
    /** @private */ this._onLocal = () => this.render();
    ctx.remote.addEventListener('change', this._onRemote);
    ctx.local.addEventListener('change', this._onLocal);
  }

  /**
   * @param {RoomState | null} state
   * @param {Iterable<string>} [exclude]  participant ids not to show (the one on the stage)
   */
  update(state, exclude = []) {
    this._state = state;
    this._exclude = new Set(exclude);
    this.render();
  }

  /** How many tiles are shown. */
  get count() {
    return this.element.children.length;
  }

  render() {
    const ctx = this._ctx;
    const state = this._state;
    const you = ctx.conn.you?.id ?? '';
    const order = new Map(state?.delegations.map((d, i) => [d.delegation_id, i]) ?? []);
    const people = (state?.participants ?? [])
      .filter((p) => ON_CAMERA.has(p.role) && p.participant_id !== you && !this._exclude.has(p.participant_id))
      .sort((a, b) => (a.role === 'chair' ? -1 : b.role === 'chair' ? 1 : 0) ||
        (order.get(a.delegation_id ?? '') ?? 99) - (order.get(b.delegation_id ?? '') ?? 99));
    /** @type {Array<{key: string, tile: VideoTile}>} */
    const items = [];
    const local = this.localTile;
    if (local && !this._exclude.has(you)) {
      const me = state?.participants.find((p) => p.participant_id === you);
      local.setTrack(ctx.local.videoTrack ?? null);
      local.setCameraOff(!ctx.local.camOn || !ctx.local.videoTrack);
      local.setState({audible: Boolean(me?.audible) && ctx.local.micOn && Boolean(ctx.local.audioTrack), muted: me?.muted});
      items.push({key: 'local', tile: local});
    }
    for (const p of people) {
      let tile = this._tiles.get(p.participant_id);
      if (!tile) {
        const id = p.participant_id;
        tile = new VideoTile(ctx.people.person(id), {onPin: () => void this._togglePin(id)});
        this._tiles.set(p.participant_id, tile);
      } else if (tile.person.name !== p.name) {
        tile.setPerson(ctx.people.person(p.participant_id));
      }
      const video = ctx.remote.of(p.participant_id).video;
      const paused = video?.forwarded === false;
      tile.setTrack(paused ? null : video?.track ?? null, video?.producer_id);
      tile.setVideoPaused(paused);
      tile.setPinned(ctx.conn.pinned === p.participant_id);
      tile.setState({audible: p.audible, muted: p.muted, presence: p.presence,
        floor: Boolean(state?.holders.some((r) => r.delegation_id === p.delegation_id))});
      items.push({key: p.participant_id, tile});
    }
    const keep = new Set(items.map((x) => x.key));
    for (const [id, tile] of this._tiles) {
      if (!keep.has(id)) {
        tile.destroy();
        this._tiles.delete(id);
      }
    }
    keyedList(this.element, items, (x) => x.key, (x) => x.tile.element, () => {});
    const cols = Math.ceil(Math.sqrt(Math.max(1, items.length)));
    this.element.style.setProperty('--cols', String(cols));
    this.element.style.setProperty('--rows', String(Math.ceil(Math.max(1, items.length) / cols)));
    this.element.dataset.count = String(items.length);
  }

  /**
   * Pins a participant's video (higher quality), or unpins it if pinned.
   * @private @param {string} id
   */
  async _togglePin(id) {
    const ctx = this._ctx;
    try {
      await ctx.conn.pin(ctx.conn.pinned === id ? null : id);
    } catch (e) {
      console.warn('palabra: pin refused', e);
      ctx.toast(t('tile.pinFailed'), 'error');
    }
    this.render();
  }

  retranslate() {
    this.localTile?.retranslate();
    for (const tile of this._tiles.values()) tile.retranslate();
  }

  destroy() {
    this._ctx.remote.removeEventListener('change', this._onRemote);
    this._ctx.local.removeEventListener('change', this._onLocal);
    this.localTile?.destroy();
    for (const tile of this._tiles.values()) tile.destroy();
    this.element.remove();
  }
}
