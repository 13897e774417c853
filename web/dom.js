// Small DOM helpers: element creation and keyed lists that update in place
// (so that a re-render keeps focus on the button a keyboard user is on).

/**
 * @typedef {Record<string, unknown> & {
 *   class?: string, text?: string, dataset?: Record<string, string>,
 *   on?: Record<string, EventListener>, attrs?: Record<string, string | boolean | null | undefined>,
 * }} Props
 */

/**
 * Creates an element. `props.class`, `props.text`, `props.dataset`, `props.on`
 * (listeners) and `props.attrs` (attributes; false/null/undefined omit them)
 * are special; other keys are set as properties.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'on') {
      for (const [type, fn] of Object.entries(/** @type {Record<string, EventListener>} */ (value))) {
        el.addEventListener(type, fn);
      }
    } else if (key === 'attrs') {
      for (const [name, v] of Object.entries(/** @type {Record<string, unknown>} */ (value))) {
        if (v === false || v === null || v === undefined) continue;
        el.setAttribute(name, v === true ? '' : String(v));
      }
    } else {
      /** @type {any} */ (el)[key] = value;
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

/**
 * Sets text only when it changed (no needless layout or screen-reader churn).
 * @param {Element} el
 * @param {string} text
 */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Sets or removes an attribute only when it changed.
 * @param {Element} el
 * @param {string} name
 * @param {string | null} value
 */
export function setAttr(el, name, value) {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

/**
 * Renders `items` into `container`, one element per key: existing elements
 * are updated in place and moved into order, new ones created, missing ones
 * removed. Children without a `data-key` are left alone; `after` (one of
 * them) places the list after it. Returns the elements by key.
 * @template T
 * @param {Element} container
 * @param {T[]} items
 * @param {(item: T) => string} keyOf
 * @param {(item: T) => HTMLElement} create
 * @param {(el: HTMLElement, item: T, index: number) => void} update
 * @param {Element | null} [after]
 * @returns {Map<string, HTMLElement>}
 */
export function keyedList(container, items, keyOf, create, update, after = null) {
  /** @type {Map<string, HTMLElement>} */
  const existing = new Map();
  for (const child of [...container.children]) {
    const key = /** @type {HTMLElement} */ (child).dataset.key;
    if (key !== undefined) existing.set(key, /** @type {HTMLElement} */ (child));
  }
  const focused = document.activeElement;
  /** @type {Map<string, HTMLElement>} */
  const result = new Map();
  let previous = /** @type {Element | null} */ (null);
  items.forEach((item, index) => {
    const key = keyOf(item);
    let el = existing.get(key);
    if (!el) {
      el = create(item);
      el.dataset.key = key;
    }
    existing.delete(key);
    update(el, item, index);
    const expected = previous ? previous.nextElementSibling
      : after ? after.nextElementSibling : container.firstElementChild;
    if (expected !== el) container.insertBefore(el, expected);
    previous = el;
    result.set(key, el);
  });
  for (const el of existing.values()) el.remove();
  // Moving an element blurs it: give the focus back (a reordered row's button).
  if (focused instanceof HTMLElement && focused !== document.activeElement && focused.isConnected &&
      container.contains(focused)) {
    focused.focus({preventScroll: true});
  }
  return result;
}

/**
 * A button that runs an async action, disabled while it runs.
 * @param {HTMLButtonElement} button
 * @param {() => Promise<unknown>} action
 */
export async function busy(button, action) {
  if (button.dataset.busy) return;
  button.dataset.busy = 'true';
  button.setAttribute('aria-busy', 'true');
  try {
    await action();
  } finally {
    delete button.dataset.busy;
    button.removeAttribute('aria-busy');
  }
}
