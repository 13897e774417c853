// Languages: Spanish (default) and English. Strings live in web/i18n/<lang>.js,
// one flat object per language with `{name}` placeholders. Static markup is
// translated through data attributes:
//   data-i18n="key"        -> textContent
//   data-i18n-label="key"  -> aria-label
//   data-i18n-title="key"  -> title
// The choice is kept in localStorage; `?lang=en` in the URL overrides it.

import es from './i18n/es.js';
import en from './i18n/en.js';

/** @typedef {'es' | 'en'} Lang */
/** @typedef {keyof typeof es} StringKey */

/** @type {Record<Lang, Record<string, string>>} */
export const STRINGS = {es, en};
export const LANGS = /** @type {Lang[]} */ (['es', 'en']);
const STORAGE_KEY = 'palabra.lang';

/** @type {Lang} */
let current = 'es';
const changes = new EventTarget();

/** @returns {Lang} */
export function lang() {
  return current;
}

/**
 * The language to start with: the URL's `lang`, else the saved choice, else Spanish.
 * @param {URLSearchParams} [params]
 * @returns {Lang}
 */
export function initialLang(params = new URLSearchParams(globalThis.location?.search ?? '')) {
  const wanted = params.get('lang') ?? safeStorage()?.getItem(STORAGE_KEY) ?? 'es';
  return LANGS.includes(/** @type {Lang} */ (wanted)) ? /** @type {Lang} */ (wanted) : 'es';
}

/**
 * Switches the language of the whole page and tells the views.
 * @param {Lang} next
 * @param {{persist?: boolean}} [options]
 */
export function setLang(next, {persist = true} = {}) {
  if (!LANGS.includes(next)) return;
  current = next;
  if (persist) safeStorage()?.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  translateTree(document.body);
  changes.dispatchEvent(new Event('change'));
}

/**
 * @param {() => void} listener
 * @returns {() => void} unsubscribe
 */
export function onLangChange(listener) {
  changes.addEventListener('change', listener);
  return () => changes.removeEventListener('change', listener);
}

/**
 * The string for `key` in the current language, placeholders filled.
 * Falls back to Spanish, then to the key itself.
 * @param {StringKey} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function t(key, vars = {}) {
  const template = STRINGS[current][key] ?? STRINGS.es[key];
  if (template === undefined) {
    console.warn(`i18n: missing string ${key}`);
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/**
 * Whether a key exists (for codes coming from the server).
 * @param {string} key
 * @returns {key is StringKey}
 */
export function has(key) {
  return key in STRINGS.es;
}

/**
 * Translates the data-i18n* attributes under `root`.
 * @param {ParentNode} root
 */
export function translateTree(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(/** @type {StringKey} */ (el.getAttribute('data-i18n')));
  }
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(/** @type {StringKey} */ (el.getAttribute('data-i18n-label'))));
  }
  for (const el of root.querySelectorAll('[data-i18n-title]')) {
    el.setAttribute('title', t(/** @type {StringKey} */ (el.getAttribute('data-i18n-title'))));
  }
}

/**
 * Clock time of a unix timestamp, in the page's language ("14:05:09").
 * @param {number} unixSeconds
 * @returns {string}
 */
export function timeOfDay(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString(current === 'es' ? 'es-ES' : 'en-GB', {
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/**
 * A number in the page's language.
 * @param {number} value
 * @param {number} [digits]
 * @returns {string}
 */
export function num(value, digits = 0) {
  return value.toLocaleString(current === 'es' ? 'es-ES' : 'en-GB', {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
}

/** @returns {Storage | null} */
function safeStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled (private mode, policies)
  }
}
