// The delegation badge: its ISO code on the accent colour, the full name as
// tooltip and accessible name.

import {h, setAttr, setText} from '../dom.js';

/** @typedef {import('../protocol.js').Delegation} Delegation */

/**
 * @param {Delegation | null} delegation
 * @param {string} [extraClass]
 * @returns {HTMLElement}
 */
export function badge(delegation, extraClass = '') {
  const el = h('span', {class: `badge ${extraClass}`.trim()});
  updateBadge(el, delegation);
  return el;
}

/**
 * @param {HTMLElement} el
 * @param {Delegation | null} delegation
 */
export function updateBadge(el, delegation) {
  el.hidden = !delegation;
  if (!delegation) return;
  setText(el, delegation.code.toUpperCase());
  setAttr(el, 'title', delegation.name);
  setAttr(el, 'data-code', delegation.code.toUpperCase());
}
