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
  // data-upload-progress="<id>": show a multipart upload's progress in that
  // <progress> element (htmx:xhr:progress), then say the server is working.
  document.addEventListener("htmx:xhr:progress", function (e) {
    var f = e.target;
    if (!f || !f.dataset || !f.dataset.uploadProgress || !e.detail.lengthComputable) return;
    var p = document.getElementById(f.dataset.uploadProgress);
    var t = document.getElementById(f.dataset.uploadProgress + "-text");
    if (!p) return;
    var pct = Math.round(e.detail.loaded / e.detail.total * 100);
    p.hidden = false;
    p.value = pct;
    if (t) {
      t.hidden = false;
      t.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Uploaded; checking every line…";
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var f = e.target;
    if (!f || !f.dataset || !f.dataset.uploadProgress) return;
    var p = document.getElementById(f.dataset.uploadProgress);
    var t = document.getElementById(f.dataset.uploadProgress + "-text");
    if (p) { p.hidden = true; p.value = 0; }
    if (t) t.hidden = true;
  });
  // data-swap-invalid: a form whose 422 answer (line-numbered validation
  // errors) should be swapped in like a success, not shown as a failure.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var el = e.detail.elt;
    if (e.detail.xhr && e.detail.xhr.status === 422 && el && el.closest && el.closest("[data-swap-invalid]")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
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
