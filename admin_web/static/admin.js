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

  // A checkbox with data-submit-on-change sends its form at once (the header's
  // "accept queue calls"); without script the form's own button does.
  document.addEventListener('change', function (event) {
    const box = event.target;
    if (box.dataset && 'submitOnChange' in box.dataset && box.form) {
      box.form.requestSubmit();
    }
  });

  // An element with data-refresh-url is fetched again every data-refresh-seconds
  // (the live Queues page, the operator's header while no phone is bound) and
  // replaced by the answer; an answer with the same data-refresh-key as the element
  // is dropped, so an open dropdown stays open until something changed. A session
  // that ended (the answer is the login page) stops the refreshing.
  function keepFresh(element) {
    const seconds = function (el) { return (Number(el.dataset.refreshSeconds) || 5) * 1000; };
    const tick = async function () {
      try {
        const response = await fetch(element.dataset.refreshUrl, {credentials: 'same-origin'});
        if (response.redirected) return;
        if (response.ok) {
          const template = document.createElement('template');
          template.innerHTML = (await response.text()).trim();
          const fresh = template.content.firstElementChild;
          if (!fresh) {
            element.remove();
            return;
          }
          if (!('refreshKey' in element.dataset)
              || fresh.dataset.refreshKey !== element.dataset.refreshKey) {
            element.replaceWith(fresh);
            element = fresh;
          }
        }
      } catch (error) {
        // the server is restarting: try again at the next tick
      }
      if (element.dataset.refreshUrl) window.setTimeout(tick, seconds(element));
    };
    window.setTimeout(tick, seconds(element));
  }
  for (const element of document.querySelectorAll('[data-refresh-url]')) {
    keepFresh(element);
  }
})();
