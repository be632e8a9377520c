// GhostTools progressive enhancements. Every page works without this file.
"use strict";

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
