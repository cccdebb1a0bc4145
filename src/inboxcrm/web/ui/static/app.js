// inboxcrm UI behaviour. Loaded as a file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  // Pages work without JavaScript; with it, a few things (the phone menu, tabs) collapse.
  document.documentElement.classList.add("js");

  // The browser's time zone, as the default for showing times (a saved preference wins).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone) && document.cookie.indexOf("inboxcrm_tz=" + zone) === -1) {
      document.cookie = "inboxcrm_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (ignored) {
    // no Intl support: times stay in UTC
  }

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

  // The phone layout's menu button opens and closes the navigation.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (!toggle) {
      return;
    }
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (nav) {
      nav.classList.toggle("open", open);
    }
  });

  // Section tabs (Setup → Email): show one section at a time; the links are plain anchors, so
  // without JavaScript every section is on the page and the tabs jump to them.
  function showSection(tabs, id) {
    var links = tabs.querySelectorAll("a[href^='#']");
    var found = false;
    links.forEach(function (link) {
      if (link.getAttribute("href") === "#" + id) {
        found = true;
      }
    });
    if (!found) {
      return false;
    }
    links.forEach(function (link) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      var current = link.getAttribute("href") === "#" + id;
      if (current) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
      if (target) {
        target.hidden = !current;
      }
    });
    return true;
  }

  function setUpTabs() {
    document.querySelectorAll("nav.section-tabs").forEach(function (tabs) {
      var first = tabs.querySelector("a[href^='#']");
      var withError = document.querySelector("[data-section] .alert.error");
      var section = withError ? withError.closest("[data-section]") : null;
      var wanted = section ? section.id : window.location.hash.slice(1);
      if (!showSection(tabs, wanted) && first) {
        showSection(tabs, first.getAttribute("href").slice(1));
      }
      tabs.addEventListener("click", function (event) {
        var link = event.target.closest("a[href^='#']");
        if (!link) {
          return;
        }
        event.preventDefault();
        var id = link.getAttribute("href").slice(1);
        showSection(tabs, id);
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", "#" + id);
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpTabs);
  } else {
    setUpTabs();
  }

  // Deals board: drag a card onto another stage. The drop sets the card's stage select and fires
  // its change event, so the move goes through the same form (and htmx request) as the keyboard.
  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card[data-deal-id]");
    if (!card) {
      return;
    }
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal-id"));
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });
  document.addEventListener("dragend", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card");
    if (card) {
      card.classList.remove("dragging");
    }
    document.querySelectorAll(".column.drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  });
  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".column[data-stage]");
    if (column) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      column.classList.add("drop-target");
    }
  });
  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".column[data-stage]");
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("drop-target");
    }
  });
  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".column[data-stage]");
    if (!column) {
      return;
    }
    event.preventDefault();
    column.classList.remove("drop-target");
    var id = event.dataTransfer.getData("text/plain");
    var card = id && /^[0-9]+$/.test(id) ? document.getElementById("deal-" + id) : null;
    var select = card ? card.querySelector("select[name=stage]") : null;
    var stage = column.getAttribute("data-stage");
    if (!select || select.value === stage) {
      return;
    }
    select.value = stage;
    column.appendChild(card); // shown at once; the board is re-rendered when the move is saved
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
