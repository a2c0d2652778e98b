// Compliance pages: upload a file (a DNC list, a lead file to scrub) with a progress bar for the upload
// itself; the form's other fields go in the query string, checked by the server before the file is read.
// The server's answer (the job's progress fragment, or why it was refused) replaces the form's target.
(function () {
  "use strict";
  function setup(form) {
    var input = form.querySelector("input[type=file]");
    var progress = form.querySelector(".upload-progress");
    var bar = progress.querySelector(".progress > span");
    var meter = progress.querySelector(".progress");
    var label = progress.querySelector(".upload-label");
    var target = document.querySelector(form.dataset.target);
    var button = form.querySelector("button[type=submit]");

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var file = input.files[0];
      if (!file) { input.focus(); return; }
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (typeof value === "string" && value !== "") params.append(name, value);
      });
      var body = new FormData();
      body.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.uploadUrl + "?" + params.toString());
      xhr.setRequestHeader("X-CSRF-Token", window.clearline.csrfToken());
      xhr.setRequestHeader("HX-Request", "true");
      progress.hidden = false;
      button.disabled = true;
      label.textContent = "Uploading " + file.name + "…";
      bar.style.width = "0%";
      meter.setAttribute("aria-valuenow", "0");
      xhr.upload.onprogress = function (ev) {
        if (!ev.lengthComputable) return;
        var pct = Math.round((100 * ev.loaded) / ev.total);
        bar.style.width = pct + "%";
        meter.setAttribute("aria-valuenow", String(pct));
      };
      xhr.onload = function () {
        progress.hidden = true;
        button.disabled = false;
        input.value = "";
        var retarget = xhr.getResponseHeader("HX-Retarget");
        var where = (xhr.status >= 400 && retarget && document.querySelector(retarget)) || target;
        where.innerHTML = xhr.responseText;
        window.htmx.process(where);
      };
      xhr.onerror = function () {
        progress.hidden = true;
        button.disabled = false;
        target.innerHTML = '<div class="notice notice-error" role="alert">The upload failed (connection lost). Try again.</div>';
      };
      xhr.send(body);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload-url]").forEach(setup);
  });
})();
