// A modal confirmation for consequential actions (remove, disconnect,
// reject). Native <dialog>: focus is trapped and Escape cancels.

import {h} from '../dom.js';
import {t} from '../i18n.js';

/**
 * @param {{title: string, text: string, confirm: string, danger?: boolean}} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({title, text, confirm, danger = true}) {
  return new Promise((resolve) => {
    const returnFocus = document.activeElement;
    const cancelButton = h('button', {class: 'button', value: 'cancel', text: t('cancel'), autofocus: true});
    const dialog = h('dialog', {class: 'dialog', attrs: {'aria-labelledby': 'confirm-title'}},
      h('form', {method: 'dialog'},
        h('h2', {id: 'confirm-title', text: title}),
        h('p', {text}),
        h('div', {class: 'dialog-actions'}, cancelButton,
          h('button', {class: `button ${danger ? 'danger' : 'primary'}`, value: 'ok', text: confirm,
            dataset: {action: 'confirm'}}))));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
      if (returnFocus instanceof HTMLElement && returnFocus.isConnected) returnFocus.focus();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
