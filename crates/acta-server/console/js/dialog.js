// Modal dialogs on the native <dialog> element: focus moves into it, Escape cancels, focus returns after.
// (window.confirm would block the page and cannot show an API error next to the fields.)

import {h, replace} from './dom.js';

/**
 * Opens a dialog with `fields` (elements) and resolves when it closes. `onSubmit()` runs on the primary
 * button; it returns normally to close, or throws an Error whose message is shown in the dialog (which stays open).
 */
export function openDialog({title, fields = [], submitLabel = 'Save', danger = false, onSubmit}) {
  return new Promise((resolve) => {
    const error = h('p', {class: 'dialog-error', role: 'alert', hidden: true});
    const submit = h('button', {type: 'submit', class: danger ? 'danger' : 'primary'}, submitLabel);
    const cancel = h('button', {type: 'button', on: {click: () => close(false)}}, 'Cancel');
    const form = h('form', {method: 'dialog', class: 'dialog-form'},
      h('h2', {}, title), ...fields, error, h('div', {class: 'dialog-actions'}, cancel, submit));
    const dialog = h('dialog', {'aria-label': title}, form);
    const opener = document.activeElement;
    let done = false;
    function close(result) {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      if (opener instanceof HTMLElement) opener.focus();
      resolve(result);
    }
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        if (onSubmit) await onSubmit();
        close(true);
      } catch (failure) {
        replace(error, failure && failure.describe ? failure.describe() : String(failure && failure.message || failure));
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector('input, textarea, select');
    // A confirmation of something destructive starts on Cancel, so a stray Enter deletes nothing.
    (first || (danger ? cancel : submit)).focus();
  });
}

let hints = 0;

/**
 * A labelled field for a dialog or form. The control is named by `label` alone; the hint describes it
 * (screen readers say it after the name), so the name stays short and exact.
 */
export function field(label, input, hint) {
  let hintElement = null;
  if (hint) {
    hints += 1;
    hintElement = h('span', {class: 'field-hint', id: `field-hint-${hints}`}, hint);
    if (input instanceof Element && !input.hasAttribute('aria-describedby')) input.setAttribute('aria-describedby', hintElement.id);
  }
  if (input instanceof Element && !input.hasAttribute('aria-label')) input.setAttribute('aria-label', label);
  return h('label', {class: 'field'}, h('span', {class: 'field-label'}, label), input, hintElement);
}
