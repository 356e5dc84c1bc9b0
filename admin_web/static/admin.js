// Behaviour the admin's pages share. It lives here, not inline in the HTML,
// so the Content-Security-Policy can refuse every inline script.
(function () {
  'use strict';

  // A form with data-confirm asks the browser for confirmation before it posts.
  document.addEventListener('submit', function (event) {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // An element with data-fields-for-choice shows only the fields the chosen
  // value of a select needs, e.g. a handler's key for "key" and its seconds
  // for "timeout"; without script every field shows.
  for (const marker of document.querySelectorAll('[data-fields-for-choice]')) {
    const select = document.getElementById(marker.dataset.fieldsForChoice);
    const fieldsByChoice = JSON.parse(marker.dataset.fieldsByChoice);
    if (!select) continue;
    const show = function () {
      for (const [choice, ids] of Object.entries(fieldsByChoice)) {
        for (const id of ids) {
          const field = document.getElementById(id);
          const wrapper = field && field.closest('.mb-3');
          if (wrapper) wrapper.hidden = select.value !== choice;
        }
      }
    };
    select.addEventListener('change', show);
    show();
  }
})();
