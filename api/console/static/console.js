// Clearline console: the small amount of script the pages share. No framework; htmx does the rest.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  window.clearline = window.clearline || {};
  window.clearline.csrfToken = csrfToken;

  // Every htmx request carries the page's CSRF token; the server refuses state changes without it.
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  if (window.htmx) {
    // Validation errors (422), conflicts (409) and refusals come back as fragments to show, not to drop.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[4]..", swap: true, error: false },
      { code: "...", swap: true, error: true },
    ];
  }
})();
