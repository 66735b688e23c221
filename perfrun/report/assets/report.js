// perfrun HTML report: draws the charts from the embedded report data with uPlot.
// Each drawn chart gets data-rendered="true"; <body data-charts-rendered="N"> when done.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("perfrun-data").textContent);
  var C = {
    blue: "#2563eb", red: "#dc2626", grey: "#6b7280", green: "#16a34a",
    orange: "#ea580c", purple: "#7c3aed"
  };
  var X_SECONDS = { label: "seconds since the load started", stroke: "#374151" };

  function line(label, color, scale, dash) {
    var s = { label: label, stroke: color, width: 2, spanGaps: false };
    if (scale) { s.scale = scale; }
    if (dash) { s.dash = [6, 4]; }
    return s;
  }
  // Start value axes at zero: a flat line must look flat, not like noise magnified.
  function fromZero(u, lo, hi) { return [0, hi > 0 ? hi * 1.1 : 1]; }
  function col(rows, key) { return rows.map(function (r) { return r[key]; }); }
  // Every point sits at the middle of the span it covers, so that the timeline (span_s
  // whole seconds from t) and the resource samples (the dt seconds before t) line up.
  // A point measured for part of its span (the load's last) sits in the middle of that part.
  function seconds(points) {
    return points.map(function (p) {
      return p.t + (p.measured_s == null ? span(p) : Math.min(p.measured_s, span(p))) / 2;
    });
  }
  // A long run's timeline points cover span_s seconds each: their counts are per span.
  function span(p) { return p.span_s || 1; }
  // A rate counts over the part of the span that was measured (the load's last second
  // ends early); under half of it, too few to be a rate: left out, not drawn as a drop.
  // The same rule as TimelinePoint.rate_s (perfrun/report/model.py).
  var MIN_RATE_FRACTION = 0.5;
  function rateSeconds(p) {
    var measured = p.measured_s == null ? span(p) : p.measured_s;
    return measured >= span(p) * MIN_RATE_FRACTION ? measured : null;
  }
  function perSecond(points, key) {
    return points.map(function (p) {
      var s = rateSeconds(p);
      return s == null || p[key] == null ? null : p[key] / s;
    });
  }
  function spans(samples) { return samples.map(function (r) { return r.t - r.dt / 2; }); }
  function yAxis(label, scale, right) {
    var a = { label: label, stroke: "#374151" };
    if (scale) { a.scale = scale; }
    if (right) { a.side = 1; a.grid = { show: false }; }
    return a;
  }
  function timeOpts(series, axes, scales) {
    var sc = scales || {};
    sc.x = { time: false };
    sc.y = sc.y || { range: fromZero };
    return { scales: sc, series: [{ label: "t (s)" }].concat(series), axes: [X_SECONDS].concat(axes) };
  }

  // Percentile p on a log axis, as in HdrHistogram plots: x = 1 / (1 - p/100).
  function percentileX(p) { return 1 / (1 - p / 100); }
  function percentileLabel(x) {
    if (!(x >= 1)) { return ""; }
    var p = 100 * (1 - 1 / x);
    return (Math.round(p * 1000) / 1000) + "%";
  }

  var charts = {
    throughput: function (s) {
      var t = s.timeline;
      var series = [line("requests/s", C.blue), line("errors/s", C.red, "errors")];
      var cols = [seconds(t), perSecond(t, "requests"), perSecond(t, "errors")];
      if (s.load.model === "open") {
        series.push(line("scheduled req/s", C.grey, null, true));
        cols.push(col(t, "target"));
      }
      var axes = [yAxis("req/s"), yAxis("errors/s", "errors", true)];
      return [timeOpts(series, axes, { errors: { range: fromZero } }), cols];
    },
    latency: function (s) {
      var t = s.timeline;
      var p99 = s.latency_ms.p99;
      var series = [line("p50 ms", C.green), line("p95 ms", C.orange), line("p99 ms", C.red),
                    line("p99 ms (whole run)", C.grey, null, true)];
      var cols = [seconds(t), col(t, "p50_ms"), col(t, "p95_ms"), col(t, "p99_ms"),
                  t.map(function () { return p99; })];
      return [timeOpts(series, [yAxis("ms")]), cols];
    },
    concurrency: function (s) {
      var t = s.timeline;
      var series = [line("users (schedule)", C.blue), line("in flight (sampled)", C.orange)];
      return [timeOpts(series, [yAxis("count")]), [seconds(t), col(t, "users"), col(t, "in_flight")]];
    },
    transfer: function (s) {
      var t = s.timeline;
      var rates = perSecond(t, "bytes_received");
      var top = Math.max.apply(null, rates.map(function (v) { return v || 0; }));
      var unit = top >= 1e6 ? ["MB/s", 1e6] : top >= 1e3 ? ["kB/s", 1e3] : ["B/s", 1];
      var scaled = rates.map(function (v) { return v == null ? null : v / unit[1]; });
      var series = [line("received " + unit[0], C.purple)];
      return [timeOpts(series, [yAxis(unit[0])]), [seconds(t), scaled]];
    },
    spectrum: function (s) {
      var points = s.latency_spectrum.filter(function (p) { return p.percentile < 100; });
      var xs = points.map(function (p) { return percentileX(p.percentile); });
      var opts = {
        scales: { x: { time: false, distr: 3, log: 10 }, y: { range: fromZero } },
        series: [
          { label: "percentile", value: function (u, v) { return v == null ? "-" : percentileLabel(v); } },
          { label: "latency ms", stroke: C.purple, width: 2, points: { show: true, size: 5 } }
        ],
        axes: [
          { label: "percentile (log scale)", stroke: "#374151",
            splits: function (u, i, min, max) {
              var out = [];
              for (var x = 1; x <= max * 1.0001; x *= 10) { if (x >= min) { out.push(x); } }
              return out;
            },
            values: function (u, splits) { return splits.map(percentileLabel); } },
          yAxis("ms")
        ]
      };
      return [opts, [xs, col(points, "ms")]];
    },
    resources: function (s) {
      var rows = s.resources.samples;
      if (s.resources.target) {
        var series = [line("target CPU %", C.blue), line("target memory MB", C.purple, "mb")];
        var axes = [yAxis("CPU % of one core"), yAxis("MB", "mb", true)];
        return [timeOpts(series, axes, { mb: { range: fromZero } }),
                [spans(rows), col(rows, "target_cpu_percent"), col(rows, "target_memory_mb")]];
      }
      return [timeOpts([line("system CPU %", C.grey)], [yAxis("CPU % of the machine")]),
              [spans(rows), col(rows, "system_cpu_percent")]];
    },
    generator: function (s) {
      var rows = s.resources.samples;
      var series = [line("perfrun CPU %", C.orange), line("perfrun memory MB", C.purple, "mb")];
      var axes = [yAxis("CPU % of one core"), yAxis("MB", "mb", true)];
      return [timeOpts(series, axes, { mb: { range: fromZero } }),
              [spans(rows), col(rows, "generator_cpu_percent"), col(rows, "generator_memory_mb")]];
    }
  };

  function plotWidth(el) { return Math.max(260, Math.floor(el.clientWidth || 560)); }

  var plots = [];
  var rendered = 0;
  var figures = document.querySelectorAll("figure.chart[data-chart]:not([data-chart-empty])");
  Array.prototype.forEach.call(figures, function (fig) {
    var name = fig.getAttribute("data-chart");
    var scenario = data.scenarios[Number(fig.getAttribute("data-scenario"))];
    var target = fig.querySelector(".plot");
    try {
      var built = charts[name](scenario);
      var opts = built[0];
      opts.width = plotWidth(target);
      opts.height = 240;
      plots.push([new uPlot(opts, built[1], target), target]);
      fig.setAttribute("data-rendered", "true");
      rendered += 1;
    } catch (e) {
      console.error("perfrun: chart " + name + " of " + (scenario && scenario.name) + " failed: " + e);
    }
  });
  document.body.setAttribute("data-charts-rendered", String(rendered));

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      plots.forEach(function (p) { p[0].setSize({ width: plotWidth(p[1]), height: 240 }); });
    }, 100);
  });
})();
