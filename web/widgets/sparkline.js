// A small bitrate chart on a canvas: the last N samples as a filled line,
// scaled to the largest value shown. No library.

export class Sparkline {
  /**
   * @param {{width?: number, height?: number, samples?: number, label?: string}} [options]
   */
  constructor({width = 120, height = 28, samples = 60, label = ''} = {}) {
    /** @private @type {number[]} */ this._values = [];
    /** @private */ this._max = samples;
    /** @private */ this._w = width;
    /** @private */ this._h = height;
    this.element = document.createElement('canvas');
    this.element.className = 'sparkline';
    this.element.style.width = `${width}px`;
    this.element.style.height = `${height}px`;
    // The numbers sit next to the chart; the chart itself is decorative.
    this.element.setAttribute('aria-hidden', 'true');
    if (label) this.element.title = label;
    const ratio = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
    this.element.width = width * ratio;
    this.element.height = height * ratio;
    /** @private */ this._ratio = ratio;
  }

  /** @param {number} value */
  push(value) {
    this._values.push(Number.isFinite(value) ? Math.max(0, value) : 0);
    if (this._values.length > this._max) this._values.shift();
    this.draw();
  }

  /** @param {boolean} alarm  draw in the alert colour */
  setAlarm(alarm) {
    this.element.classList.toggle('alarm', alarm);
  }

  draw() {
    const g = this.element.getContext('2d');
    if (!g) return;
    const r = this._ratio;
    const w = this._w * r;
    const h = this._h * r;
    g.clearRect(0, 0, w, h);
    const values = this._values;
    if (!values.length) return;
    const top = Math.max(1, ...values) * 1.15;
    const step = w / Math.max(1, this._max - 1);
    const x0 = w - (values.length - 1) * step;
    const y = (/** @type {number} */ v) => h - (v / top) * (h - 2 * r) - r;
    const color = getComputedStyle(this.element).color || '#6fbf8e';
    g.beginPath();
    g.moveTo(x0, h);
    values.forEach((v, i) => g.lineTo(x0 + i * step, y(v)));
    g.lineTo(x0 + (values.length - 1) * step, h);
    g.closePath();
    g.globalAlpha = 0.22;
    g.fillStyle = color;
    g.fill();
    g.globalAlpha = 1;
    g.beginPath();
    values.forEach((v, i) => (i ? g.lineTo(x0 + i * step, y(v)) : g.moveTo(x0, y(v))));
    g.lineWidth = 1.5 * r;
    g.strokeStyle = color;
    g.stroke();
  }
}
