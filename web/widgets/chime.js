// Short chimes for the moments nobody may miss: the floor given, taken back,
// time nearly up; a request or an arrival reaching the chair. Generated with
// Web Audio (two soft sine notes), so there are no sound files; quieter than
// speech, and silent until the page has had a user gesture (autoplay rules).

/** @typedef {'granted' | 'revoked' | 'warning' | 'request'} ChimeKind */

/** Notes of each chime: [frequency Hz, start s]. Rising: yours; falling: over. */
const NOTES = /** @type {Record<ChimeKind, Array<[number, number]>>} */ ({
  granted: [[660, 0], [880, 0.15]],
  revoked: [[784, 0], [523, 0.18]],
  warning: [[740, 0], [740, 0.25]],
  request: [[587, 0], [698, 0.12]],
});
const NOTE_SECONDS = 0.35;
const VOLUME = 0.18;

/** @type {AudioContext | null} */
let context = null;

/** How many chimes were started, by kind (for tests and debugging). */
export const played = /** @type {Record<ChimeKind, number>} */ ({granted: 0, revoked: 0, warning: 0, request: 0});

/**
 * Plays a chime; never throws (no sound is better than a broken page).
 * @param {ChimeKind} kind
 */
export function chime(kind) {
  try {
    const Ctor = globalThis.AudioContext ?? /** @type {any} */ (globalThis).webkitAudioContext;
    if (!Ctor) return;
    context ??= new Ctor();
    const ctx = /** @type {AudioContext} */ (context);
    if (ctx.state === 'suspended') void ctx.resume().catch(() => {});
    const start = ctx.currentTime + 0.02;
    for (const [frequency, offset] of NOTES[kind]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = frequency;
      // A quick attack and an exponential fade: a bell, not a beep.
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(VOLUME, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + NOTE_SECONDS);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + offset);
      osc.stop(start + offset + NOTE_SECONDS + 0.05);
    }
    played[kind] += 1;
  } catch (e) {
    console.warn('chime failed', e);
  }
}
