// The agent's screen. The server renders the desk; this script only swaps in the desk the server pushes
// (Server-Sent Events, GET /console/agent/events), runs the clocks, and adds number keys for dispositions.
(function () {
  "use strict";
  var clockOffset = 0;

  function nowMs() { return performance.timeOrigin + performance.now(); }
  function clock(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
  }

  function tick() {
    var now = Date.now() + clockOffset;
    document.querySelectorAll("[data-since-ms]").forEach(function (el) {
      var since = Number(el.dataset.sinceMs);
      if (since) el.textContent = clock(now - since);
    });
    document.querySelectorAll("[data-until-ms]").forEach(function (el) {
      var left = Number(el.dataset.untilMs) - now;
      el.textContent = left > 0 ? clock(left) : "0:00";
      if (left <= 0 && el.dataset.expire) {
        var box = document.querySelector(el.dataset.expire);
        if (box) box.querySelectorAll("button, input, select, fieldset").forEach(function (c) { c.disabled = true; });
      }
    });
  }

  // A desk came in (pushed, or the answer to one of the agent's own actions): note when a call's card
  // first reached the page, localize times, restart the clocks.
  function settle(desk, previousAttempt) {
    if (!desk) return;
    clockOffset = Number(desk.dataset.nowMs) - Date.now();
    var card = desk.querySelector("#lead-card[data-attempt-id]");
    if (card && card.dataset.attemptId !== previousAttempt) {
      card.dataset.shownMs = String(Math.round(nowMs()));
      window.clearlineAgent.cardShown[card.dataset.attemptId] = Number(card.dataset.shownMs);
    } else if (card && window.clearlineAgent.cardShown[card.dataset.attemptId]) {
      card.dataset.shownMs = String(window.clearlineAgent.cardShown[card.dataset.attemptId]);
    }
    desk.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) t.textContent = d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    });
    tick();
  }

  function currentAttempt() {
    var card = document.querySelector("#lead-card[data-attempt-id]");
    return card ? card.dataset.attemptId : "";
  }

  // While one of the agent's own actions is in flight, a pushed desk waits: htmx swaps the action's
  // answer into the #desk it started from, so a push replacing that element first would drop the answer
  // (the refusal next to the number they typed) into a detached element.
  var actionsInFlight = 0, heldPush = null;

  function swapIn(html) {
    if (actionsInFlight > 0) { heldPush = html; return; }
    var old = document.getElementById("desk");
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var fresh = holder.querySelector("#desk");
    if (!old || !fresh || fresh.dataset.key === old.dataset.key) return;
    // A push rendered before the desk on screen (an action's answer) is older news: keep what is shown.
    if (Number(fresh.dataset.nowMs) < Number(old.dataset.nowMs)) return;
    var focused = document.activeElement && document.activeElement.id;
    var previous = currentAttempt();
    // What the agent is typing (a number to dial, a skip note) survives a pushed desk.
    old.querySelectorAll("input[data-keep]").forEach(function (el) {
      var twin = el.value && fresh.querySelector("#" + el.id);
      if (twin && !twin.value) twin.value = el.value;
    });
    old.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    settle(fresh, previous);
    var again = focused && document.getElementById(focused);
    if (again) again.focus();
    else if (fresh.dataset.state === "WRAP") {
      var first = fresh.querySelector(".dispo-btn:not([disabled])");
      if (first) first.focus();
    }
  }

  function connect(root) {
    var link = document.getElementById("desk-link");
    var source = new EventSource(root.dataset.events);
    source.addEventListener("open", function () {
      link.textContent = "● live";
      link.classList.remove("lost");
    });
    source.addEventListener("desk", function (e) { swapIn(e.data); });
    source.addEventListener("error", function () {
      link.textContent = "connection lost: reconnecting…";
      link.classList.add("lost");
    });
  }

  window.clearlineAgent = { cardShown: {} };
  var beforeSwapAttempt = "";
  document.addEventListener("htmx:beforeRequest", function () { actionsInFlight += 1; });
  document.addEventListener("htmx:afterRequest", function () {
    actionsInFlight = Math.max(0, actionsInFlight - 1);
    if (actionsInFlight === 0 && heldPush !== null) {
      var held = heldPush;
      heldPush = null;
      setTimeout(function () { swapIn(held); }, 0);  // after the answer's own swap
    }
  });
  document.addEventListener("htmx:beforeSwap", function () { beforeSwapAttempt = currentAttempt(); });
  document.addEventListener("htmx:afterSwap", function () { settle(document.getElementById("desk"), beforeSwapAttempt); });
  // A callback's local date and time goes with the browser's UTC offset on that date.
  document.addEventListener("htmx:configRequest", function (e) {
    var at = e.detail.parameters.callback_at;
    if (at !== undefined) {
      var d = new Date(at);
      e.detail.parameters.tz_offset_min = String(isNaN(d) ? new Date().getTimezoneOffset() : d.getTimezoneOffset());
    }
  });
  // Number keys press the disposition buttons (not while typing in a field).
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || !/^[1-9]$/.test(e.key)) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    var button = document.querySelector('.dispo-btn[data-key-number="' + e.key + '"]:not([disabled])');
    if (button) { e.preventDefault(); button.click(); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("agent-desk");
    if (!root) return;
    settle(document.getElementById("desk"), "");
    setInterval(tick, 500);
    connect(root);
  });
})();
