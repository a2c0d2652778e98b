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

// Lead list upload: drag and drop or the file input; the upload shows its own progress (XHR), then the
// server's column-mapping preview replaces #upload-step and htmx takes over.
(function () {
  "use strict";
  function setup(area) {
    var zone = area.querySelector("#dropzone");
    var input = area.querySelector("#lead-file");
    var progress = area.querySelector("#upload-progress");
    var bar = progress.querySelector(".progress > span");
    var label = progress.querySelector("#upload-label");
    var step = area.querySelector("#upload-step");

    function send(file) {
      if (!file) return;
      var form = new FormData();
      form.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", area.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRF-Token", window.clearline.csrfToken());
      xhr.setRequestHeader("HX-Request", "true");
      progress.hidden = false;
      step.innerHTML = "";
      label.textContent = "Uploading " + file.name + "…";
      bar.style.width = "0%";
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.style.width = Math.round((100 * e.loaded) / e.total) + "%";
      };
      xhr.onload = function () {
        progress.hidden = true;
        input.value = "";
        var retarget = xhr.getResponseHeader("HX-Retarget");
        var target = (xhr.status >= 400 && retarget && document.querySelector(retarget)) || step;
        target.innerHTML = xhr.responseText;
        window.htmx.process(target);
        var first = target.querySelector("select, input, button");
        if (first) first.focus();
      };
      xhr.onerror = function () {
        progress.hidden = true;
        step.innerHTML = '<div class="notice notice-error" role="alert">The upload failed (connection lost). Try again.</div>';
      };
      xhr.send(form);
    }

    input.addEventListener("change", function () { send(input.files[0]); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var area = document.getElementById("upload-area");
    if (area) setup(area);
  });
})();
