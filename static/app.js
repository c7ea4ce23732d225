// The one progressive-enhancement script (the CSP forbids inline scripts).
// Every page works without it. It reloads a page the back-forward cache
// brings back, puts the keyboard focus on the first field a form came back
// with an error for, selects the whole of a read-only field to copy (the
// feed URL) when it gets the focus, takes a shown ?notice= off the address,
// fills time-zone fields marked with data-detect-tz from
// the browser's zone when the field is still at UTC, and reloads a slot page
// marked data-tz-auto with ?tz=<the browser's zone>.
(function () {
  "use strict";
  // Back (or Forward) to a page kept in the browser's back-forward cache
  // would show it as it was: a booking as "Booked" with its cancel form
  // after it was cancelled, a slot as free after it was taken. Every page
  // here shows live state, so such a page is fetched again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      window.location.reload();
    }
  });
  // A form that came back with errors (a POST form: a GET form's marks,
  // e.g. a shared link's unknown ?tz=, do not move a reader past the
  // heading): the first field marked invalid gets the focus (its error is
  // tied to it by aria-describedby, so a screen reader reads it out),
  // unless the page chose a field itself.
  document.addEventListener("DOMContentLoaded", function () {
    var invalid = document.querySelector('form[method="post"] [aria-invalid="true"]');
    if (invalid && !document.querySelector("[autofocus]")) {
      invalid.focus();
    }
  });
  // A notice (?notice=…, "Session cancelled.") reports what the last
  // action did: once shown it leaves the address, so a reload, a bookmark
  // or a copied link does not say it again.
  if (window.URL && window.history && window.history.replaceState) {
    var here = new URL(window.location.href);
    if (here.searchParams.has("notice")) {
      here.searchParams.delete("notice");
      window.history.replaceState(window.history.state, "", here.pathname + here.search + here.hash);
    }
  }
  // A URL to copy: one click or tab selects all of it.
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field && field.hasAttribute && field.hasAttribute("data-select-all")) {
      field.select();
    }
  });
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) return;
  document.addEventListener("DOMContentLoaded", function () {
    // Slot pages shown in UTC only because nothing (or a zone the server
    // does not know) chose a zone: show them in the browser's zone instead
    // (once: the link then names it, and a page that already asked for the
    // browser's zone is left as it is).
    if (zone !== "UTC" && document.querySelector("[data-tz-auto]") && window.URL) {
      var url = new URL(window.location.href);
      if (url.searchParams.get("tz") !== zone) {
        url.searchParams.set("tz", zone);
        window.location.replace(url.toString());
        return;
      }
    }
    var fields = document.querySelectorAll("[data-detect-tz]");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.value && field.value !== "UTC") continue;
      if (field.tagName === "SELECT") {
        for (var j = 0; j < field.options.length; j++) {
          var option = field.options[j];
          // A browser may say Asia/Calcutta: the list has it as the old
          // name of Asia/Kolkata.
          if (option.value === zone || option.getAttribute("data-old") === zone) {
            field.value = option.value;
            break;
          }
        }
      } else {
        field.value = zone;
      }
    }
  });
})();
