// The live wallboard: one EventSource per page; the server's publisher pushes a snapshot on every change.
(function () {
  "use strict";
  var root, chart, clockOffset = 0, last = null;
  var STATE_PILL = { READY: "ready", INCALL: "incall", WRAP: "wrap", PAUSED: "paused", CONNECTING: "queued" };

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, obj);
  }
  function pct(x) { return (100 * x).toFixed(2) + "%"; }
  function num(x) { return Number(x).toLocaleString("en-US"); }
  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
  }
  function text(el, value) { if (el.textContent !== value) el.textContent = value; }

  function drawRate(which, rate, limit, answered) {
    var box = root.querySelector('[data-rate="' + which + '"]');
    var scale = Math.max(2 * limit, rate * 1.2);  // the 3% line sits in the middle unless the rate is higher
    var fill = box.querySelector(".fill");
    fill.style.width = Math.min(100, (100 * rate) / scale) + "%";
    fill.classList.toggle("over", rate > limit);
    box.querySelector(".limit").style.left = (100 * limit) / scale + "%";
    text(box.querySelector("strong"), answered ? pct(rate) : "–");
  }

  function render(s) {
    last = s;
    clockOffset = s.now_ms - Date.now();
    root.querySelectorAll("[data-k]").forEach(function (el) {
      var key = el.dataset.k, v = get(s, key);
      if (key.endsWith("abandon_rate")) return;
      text(el, key === "dial_level" ? Number(v).toFixed(2) : num(v || 0));
    });
    var status = document.getElementById("wb-status");
    text(status, s.status);
    status.className = "pill pill-" + s.status;
    text(document.getElementById("wb-engine"), s.engine_running ? "● dialer running" : "dialer not running");
    document.getElementById("wb-engine").style.color = s.engine_running ? "var(--ok)" : "var(--muted)";
    drawRate("today", s.today.abandon_rate, s.legal_limit, s.today.answered);
    drawRate("rolling", s.rolling.abandon_rate, s.legal_limit, s.rolling.answered);
    text(document.getElementById("wb-budget"), s.rolling.answered
      ? (s.rolling.drops_until_limit >= 0
          ? s.rolling.drops_until_limit + (s.rolling.drops_until_limit === 1 ? " more drop" : " more drops") + " allowed at this volume (" + num(s.rolling.abandoned) + " of " + num(s.rolling.answered) + " answered calls)"
          : "Over the limit by " + (-s.rolling.drops_until_limit) + (s.rolling.drops_until_limit === -1 ? " drop" : " drops"))
      : "No call answered by a person in the last 30 days.");
    var states = document.getElementById("wb-states");
    states.innerHTML = "";
    Object.keys(s.agent_states).forEach(function (k) {
      var span = document.createElement("span");
      span.className = "pill pill-" + (STATE_PILL[k] || "");
      span.textContent = k + " " + s.agent_states[k];
      states.appendChild(span);
    });
    var body = root.querySelector("#wb-agents tbody");
    body.innerHTML = "";
    if (!s.agents.length) {
      body.innerHTML = '<tr><td colspan="4" class="empty">No agent is logged in to this campaign.</td></tr>';
    }
    s.agents.forEach(function (a) {
      var tr = document.createElement("tr");
      var cells = [a.name, "", "", a.pause_code || (a.pause_requested ? "pause after this call" : "–")];
      cells.forEach(function (c) { var td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
      var pill = document.createElement("span");
      pill.className = "pill pill-" + (STATE_PILL[a.state] || "");
      pill.textContent = a.state;
      tr.children[1].appendChild(pill);
      tr.children[2].className = "num-left";
      tr.children[2].dataset.since = a.since_ms;
      body.appendChild(tr);
    });
    tick();
    root.dataset.chartPlaced = String(s.chart.placed.reduce(function (a, b) { return a + b; }, 0));
    if (window.uPlot) drawChart(s.chart);
  }

  function tick() {
    var now = Date.now() + clockOffset;
    root.querySelectorAll("[data-since]").forEach(function (td) {
      text(td, duration(now - Number(td.dataset.since)));
    });
  }

  function drawChart(c) {
    var data = [c.t, c.placed, c.answered, c.abandoned];
    if (chart) { chart.setData(data); return; }
    var el = document.getElementById("wb-chart");
    chart = new uPlot({
      width: el.clientWidth || 600, height: 240,
      series: [
        {},
        { label: "Placed", stroke: "#1d5fd1", width: 2, fill: "rgba(29,95,209,.08)" },
        { label: "Answered", stroke: "#1b7f4b", width: 2 },
        { label: "Dropped", stroke: "#b42318", width: 2 },
      ],
      axes: [{}, { label: "calls / min", size: 50 }],
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(5, max)]; } } },
      legend: { live: false },
    }, data, el);
    window.addEventListener("resize", function () { chart.setSize({ width: el.clientWidth, height: 240 }); });
  }

  function connect() {
    var link = document.getElementById("wb-link");
    var source = new EventSource(root.dataset.events);
    source.addEventListener("update", function (e) {
      render(JSON.parse(e.data));
      text(link, "live · updated " + new Date().toLocaleTimeString());
      root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
    });
    source.onerror = function () { text(link, "connection lost, reconnecting…"); };
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("wallboard");
    if (!root) return;
    render(JSON.parse(document.getElementById("wallboard-data").textContent));
    setInterval(tick, 1000);
    connect();
  });
})();
