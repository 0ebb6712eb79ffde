// Clinician panel: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // A permalink (#suggestion-id) opens that suggestion's rationale and moves focus to it.
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) { return; }
    var el = document.getElementById(id);
    if (!el) { return; }
    var details = el.tagName === "DETAILS" ? el : el.querySelector("details.rationale");
    if (details) { details.open = true; }
    if (el.tabIndex < 0 && !el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "-1"); }
    el.focus({ preventScroll: false });
  }
  // Keep the fragment when switching language, so that a permalink stays on its suggestion.
  function keepHash() {
    var link = document.getElementById("lang-toggle");
    if (!link) { return; }
    link.addEventListener("click", function () {
      if (window.location.hash) { link.href = link.href.split("#")[0] + window.location.hash; }
    });
  }
  // After a failed submit, move focus to the error list so that it is read first.
  function focusErrors() {
    var box = document.getElementById("errors");
    if (box) { box.focus(); }
  }
  // A print button (the printable reports): the page prints the same without it (browser menu).
  function printButtons() {
    var buttons = document.querySelectorAll("button[data-print]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
      buttons[i].addEventListener("click", function () { window.print(); });
    }
  }
  // The file input is hidden behind a label in the page's language: say which file was chosen.
  function fileName() {
    var input = document.getElementById("file");
    var shown = document.getElementById("file-name");
    if (!input || !shown) { return; }
    input.addEventListener("change", function () {
      shown.textContent = input.files && input.files.length ? input.files[0].name : shown.getAttribute("data-empty");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    openTarget(); keepHash(); focusErrors(); printButtons(); fileName();
  });
  window.addEventListener("hashchange", openTarget);
}());
