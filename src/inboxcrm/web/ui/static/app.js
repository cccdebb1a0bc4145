// inboxcrm UI behaviour. Loaded as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request proves it comes from our own page, like the hidden field of plain forms.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // Buttons with data-confirm ask before a plain (non-htmx) form is submitted.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // "Add another address" on record forms: clone the last email row, emptied.
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-add-email]");
    if (!trigger) {
      return;
    }
    event.preventDefault();
    var list = document.getElementById(trigger.getAttribute("data-add-email"));
    var rows = list ? list.querySelectorAll(".email-row") : [];
    if (!rows.length) {
      return;
    }
    var copy = rows[rows.length - 1].cloneNode(true);
    copy.querySelectorAll("input").forEach(function (input) {
      input.value = "";
    });
    list.appendChild(copy);
    var first = copy.querySelector("input");
    if (first) {
      first.focus();
    }
  });
})();
