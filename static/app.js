// The one progressive-enhancement script (the CSP forbids inline scripts).
// Every page works without it. It fills time-zone fields marked with
// data-detect-tz from the browser's zone when the field is still at UTC.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) return;
  document.addEventListener("DOMContentLoaded", function () {
    var fields = document.querySelectorAll("[data-detect-tz]");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.value && field.value !== "UTC") continue;
      if (field.tagName === "SELECT") {
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].value === zone) {
            field.value = zone;
            break;
          }
        }
      } else {
        field.value = zone;
      }
    }
  });
})();
