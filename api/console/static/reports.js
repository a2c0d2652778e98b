// The abandon-rate report's chart: daily rate as bars, the legal limit as a red line.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("report-chart");
    var data = document.getElementById("report-data");
    if (!el || !data || !window.uPlot) return;
    var c = JSON.parse(data.textContent);
    if (!c || !c.t.length) return;
    // The limit line spans the whole 30-day window, whatever days had calls.
    var t = [c.from].concat(c.t, [c.to]);
    var rate = [null].concat(c.rate, [null]);
    var limit = t.map(function () { return c.limit; });
    var bars = uPlot.paths.bars({ size: [0.6, 24] });
    new uPlot({
      width: el.clientWidth || 600, height: 260,
      series: [
        {},
        { label: "Abandon rate %", stroke: "#1d5fd1", fill: "rgba(29,95,209,.35)", paths: bars, points: { show: false } },
        { label: "Legal limit 3%", stroke: "#b42318", width: 2, dash: [6, 4], points: { show: false } },
      ],
      axes: [{}, { label: "% of answered calls", size: 55 }],
      scales: {
        x: { time: true, range: function () { return [c.from, c.to]; } },
        y: { range: function (u, min, max) { return [0, Math.max(c.limit * 2, max * 1.2)]; } },
      },
      legend: { live: false },
    }, [t, rate, limit], el);
  });
})();
