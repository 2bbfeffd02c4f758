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
  // The exception queue ([data-queue]): j and k move the selected row, x
  // ticks it for a bulk action, a assigns it to me, r opens its actions,
  // Enter opens it. The selection and the ticks survive the list's own
  // refresh, and the refresh asks the server to keep the selected row
  // (keep=<id>) even when it no longer matches the filter.
  var selected = null;
  var ticked = {};
  function queueRows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-queue] tr[data-exception-id]"));
  }
  function markSelected() {
    queueRows().forEach(function (r) {
      var on = r.getAttribute("data-exception-id") === selected;
      r.classList.toggle("selected", on);
      if (on) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
    });
  }
  function selectedRow() {
    var rs = queueRows();
    for (var i = 0; i < rs.length; i++) if (rs[i].getAttribute("data-exception-id") === selected) return rs[i];
    return null;
  }
  function moveSelection(d) {
    var rs = queueRows();
    if (!rs.length) return;
    var i = rs.indexOf(selectedRow());
    i = i < 0 ? 0 : Math.max(0, Math.min(rs.length - 1, i + d));
    selected = rs[i].getAttribute("data-exception-id");
    markSelected();
    rs[i].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el && el.name === "ids" && el.closest && el.closest("[data-queue]")) ticked[el.value] = el.checked;
  });
  document.addEventListener("htmx:configRequest", function (e) {
    var el = e.detail.elt;
    if (el && el.hasAttribute && el.hasAttribute("data-queue") && selected) e.detail.parameters.keep = selected;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!document.querySelector("[data-queue]")) return;
    document.querySelectorAll("[data-queue] input[name=ids]").forEach(function (b) {
      if (ticked[b.value]) b.checked = true;
    });
    markSelected();
  });
  function queueKey(e) {
    if (!document.querySelector("[data-queue]")) return false;
    var row = selectedRow();
    switch (e.key) {
      case "j": moveSelection(1); return true;
      case "k": moveSelection(-1); return true;
      case "x":
        if (!row) return false;
        var box = row.querySelector("input[name=ids]");
        if (box) { box.checked = !box.checked; ticked[box.value] = box.checked; }
        return true;
      case "a":
        var take = row && row.querySelector("form[data-take]");
        if (take) { if (take.requestSubmit) take.requestSubmit(); else take.submit(); }
        return !!take;
      case "r":
        if (row) window.location.assign(row.getAttribute("data-href") + "#resolve");
        return !!row;
      case "Enter":
        if (row) window.location.assign(row.getAttribute("data-href"));
        return !!row;
    }
    return false;
  }
  // "?" lists keyboard shortcuts; "/" jumps to the search or scan field.
  document.addEventListener("keydown", function (e) {
    var t = e.target && e.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT") return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (queueKey(e)) { e.preventDefault(); return; }
    if (e.key === "/") {
      var s = document.querySelector("[data-autofocus-scan], input[type=search]");
      if (s) { e.preventDefault(); s.focus(); }
    } else if (e.key === "?") {
      var d = document.getElementById("shortcuts");
      if (d && d.showModal) d.showModal();
    }
  });
})();
