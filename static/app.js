// Stockline's only script besides htmx. No inline script anywhere: the CSP
// forbids it. Behaviour hangs off data- attributes.
(function () {
  "use strict";
  // Show the global progress bar for any htmx request that takes a while.
  document.addEventListener("htmx:beforeRequest", function () {
    var p = document.getElementById("progress");
    if (p) p.classList.add("htmx-request");
  });
  document.addEventListener("htmx:afterRequest", function () {
    var p = document.getElementById("progress");
    if (p) p.classList.remove("htmx-request");
  });
  // data-autofocus-scan: keep the cursor in the scan field after swaps.
  function focusScan() {
    var el = document.querySelector("[data-autofocus-scan]");
    if (el && document.activeElement === document.body) el.focus();
  }
  document.addEventListener("DOMContentLoaded", focusScan);
  document.addEventListener("htmx:afterSettle", focusScan);
  // data-confirm: ask before destructive actions (no inline handlers).
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f && f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
  }, true);
  // "?" lists keyboard shortcuts; "/" jumps to the search or scan field.
  document.addEventListener("keydown", function (e) {
    var t = e.target && e.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT") return;
    if (e.key === "/") {
      var s = document.querySelector("[data-autofocus-scan], input[type=search]");
      if (s) { e.preventDefault(); s.focus(); }
    } else if (e.key === "?") {
      var d = document.getElementById("shortcuts");
      if (d && d.showModal) d.showModal();
    }
  });
})();
