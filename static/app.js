// GhostTools progressive enhancements. Every page works without this file.
"use strict";

// Navigation: on narrow screens the links fold behind a Menu button (CSS decides when).
(function () {
  function init() {
    var toggle = document.querySelector(".nav-toggle");
    var links = document.getElementById("nav-links");
    if (!toggle || !links) return;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      links.classList.toggle("open", open);
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        toggle.setAttribute("aria-expanded", "false");
        links.classList.remove("open");
        toggle.focus();
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

// Progress: a pressed submit button shows a spinner and its busy label while the next page
// (Stripe, a sign-in mail, …) is on its way, and cannot be pressed twice.
(function () {
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.querySelector || e.defaultPrevented) return;
    var button = e.submitter || form.querySelector('button[type="submit"], button:not([type])');
    if (!button || button.classList.contains("is-busy")) return;
    var label = button.getAttribute("data-busy-label");
    // After this event: a disabled button would not be submitted.
    setTimeout(function () {
      button.classList.add("is-busy");
      button.setAttribute("aria-disabled", "true");
      button.disabled = true;
      if (label) button.textContent = label;
      form.setAttribute("aria-busy", "true");
    }, 0);
  });
  // Back/forward cache: a page restored after leaving must not stay busy.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    var busy = document.querySelectorAll(".is-busy");
    for (var i = 0; i < busy.length; i++) {
      busy[i].classList.remove("is-busy");
      busy[i].disabled = false;
      busy[i].removeAttribute("aria-disabled");
    }
  });
})();

// Copy buttons (Refer & earn): copy the value of the input they name.
(function () {
  document.addEventListener("click", function (e) {
    var button = e.target && e.target.closest && e.target.closest("[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () {
      var status = document.getElementById(button.getAttribute("data-copy") + "-status");
      if (status) status.textContent = "Copied to the clipboard.";
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    }
  });
})();

// Rewardful: pass the visitor's referral id to checkout forms (the server sends it to Stripe
// as client_reference_id). `Rewardful.referral` is set by Rewardful's script once it is ready.
(function () {
  function fill() {
    var id = window.Rewardful && window.Rewardful.referral;
    if (!id) return;
    var fields = document.querySelectorAll('form[action="/billing/checkout"] input[name="referral"]');
    for (var i = 0; i < fields.length; i++) fields[i].value = id;
  }
  document.addEventListener("DOMContentLoaded", fill);
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.getAttribute && e.target.getAttribute("action") === "/billing/checkout") fill();
  }, true);
  if (typeof window.rewardful === "function") window.rewardful("ready", fill);
})();
