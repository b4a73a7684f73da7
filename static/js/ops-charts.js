// Ops console: the day's charts for one market, drawn with the vendored Chart.js and
// refreshed every minute from the market's metrics.json (same origin, session cookie).
(function () {
  "use strict";
  var root = document.querySelector("[data-metrics-url]");
  var seed = document.getElementById("metrics-data");
  if (!root || !seed || !window.Chart) return;
  var currency = root.getAttribute("data-currency") || "USD";
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: currency });
  var css = getComputedStyle(document.documentElement);
  function color(name, fallback) { return (css.getPropertyValue(name) || "").trim() || fallback; }
  var STAGE_COLORS = {
    created: "#9aa5b1", ready: color("--warn", "#b25e00"), assigned: color("--brand", "#0a6cff"),
    picked_up: "#6f42c1", delivered: color("--ok", "#17833a"), problem: color("--bad", "#c62828")
  };
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = color("--muted", "#5b6570");
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  var charts = {};

  function line(id, label, data, labels, opts) {
    opts = opts || {};
    var dataset = { label: label, data: data, borderColor: opts.color || color("--brand", "#0a6cff"),
      backgroundColor: opts.color || color("--brand", "#0a6cff"), spanGaps: true,
      cubicInterpolationMode: "monotone", pointRadius: 3 };
    var scales = { y: { beginAtZero: true, suggestedMax: opts.max, max: opts.max,
      ticks: { callback: opts.tick } } };
    draw(id, "line", labels, [dataset], scales, false);
  }

  function draw(id, type, labels, datasets, scales, legend) {
    var chart = charts[id];
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets = datasets;
      chart.update();
      return;
    }
    var canvas = document.getElementById(id);
    if (!canvas) return;
    charts[id] = new Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: { scales: scales, plugins: { legend: { display: legend, position: "bottom" } } }
    });
  }

  function pct(v) { return v + "%"; }

  function totals(t) {
    var text = {
      delivered: String(t.delivered),
      on_time_pct: t.on_time_pct === null ? "—" : t.on_time_pct + "%",
      median_time_to_assign_min: t.median_time_to_assign_min === null ? "—" : t.median_time_to_assign_min + " min",
      acceptance_pct: t.acceptance_pct === null ? "—" : t.acceptance_pct + "%",
      boosts_usd: money.format(t.boosts_usd)
    };
    document.querySelectorAll("[data-total]").forEach(function (el) {
      el.textContent = text[el.getAttribute("data-total")];
    });
  }

  function table(d) {
    var box = document.getElementById("chart-table");
    if (!box) return;
    var head = ["Hour"].concat(d.stages.names, ["Time to assign (min)", "On time %", "Accepted %", "Boosts"]);
    var rows = d.labels.map(function (label, i) {
      var cells = [label].concat(d.stages.keys.map(function (k) { return d.stages[k][i]; }),
        [d.time_to_assign_min[i], d.on_time_pct[i], d.acceptance_pct[i], money.format(d.boosts_usd[i])]);
      return "<tr>" + cells.map(function (c, j) {
        var v = c === null ? "—" : c;
        return j === 0 ? "<th scope=\"row\">" + v + "</th>" : "<td>" + v + "</td>";
      }).join("") + "</tr>";
    });
    box.innerHTML = "<table class=\"compact-table numbers\"><thead><tr>" +
      head.map(function (h) { return "<th scope=\"col\">" + h + "</th>"; }).join("") +
      "</tr></thead><tbody>" + rows.join("") + "</tbody></table>";
  }

  function render(d) {
    var stageSets = d.stages.keys.map(function (key, i) {
      return { label: d.stages.names[i], data: d.stages[key], borderColor: STAGE_COLORS[key],
        backgroundColor: STAGE_COLORS[key], cubicInterpolationMode: "monotone", pointRadius: 2,
        borderWidth: key === "delivered" ? 3 : 2 };
    });
    draw("chart-stages", "line", d.labels, stageSets,
      { y: { beginAtZero: true, ticks: { precision: 0 } } }, true);
    line("chart-assign", "Minutes", d.time_to_assign_min, d.labels, {});
    line("chart-ontime", "On time", d.on_time_pct, d.labels, { max: 100, tick: pct, color: color("--ok", "#17833a") });
    line("chart-acceptance", "Accepted", d.acceptance_pct, d.labels, { max: 100, tick: pct, color: "#6f42c1" });
    draw("chart-boosts", "bar", d.labels,
      [{ label: "Boosts", data: d.boosts_usd, backgroundColor: "#ffc220" }],
      { y: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } } }, false);
    totals(d.totals);
    table(d);
    root.setAttribute("data-rendered", d.generated_at);
  }

  render(JSON.parse(seed.textContent));
  setInterval(function () {
    if (document.hidden) return;
    fetch(root.getAttribute("data-metrics-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) render(d); })
      .catch(function () { /* the next tick tries again */ });
  }, 60000);
})();
