// Live campaign results: per variant rates, the significance line, who was held back, and a chart of deliveries
// and opens since launch (uPlot, served from static/vendor/uplot). Drawn first from the page's JSON, then again
// for each "campaign-results" event (progress.js passes on what the beat sends over the WebSocket).
// Variant names are the marketer's own text: everything goes in with textContent, never as HTML.
(function () {
  "use strict";
  const panel = document.getElementById("campaign-results");
  const initial = document.getElementById("campaign-results-data");
  if (!panel || !initial) return;
  const part = (name) => panel.querySelector(`[data-results="${name}"]`);
  const count = (n) => Number(n).toLocaleString();
  const percent = (rate) => `${(100 * rate).toFixed(1)}%`;
  const SERIES = [
    { key: "delivered", label: "Deliveries", colour: "#2a9d8f" },
    { key: "opened", label: "Opens", colour: "#457b9d" },
  ];
  let chart = null; // { unit, plot }

  function cell(row, column, text) {
    const td = document.createElement("td");
    td.dataset.column = column;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function bar(kind, rate, label) {
    const shown = document.createElement("span");
    shown.className = `rate-bar rate-${kind}`;
    shown.style.width = `${Math.round(100 * Math.min(1, Math.max(0, rate)))}%`;
    shown.title = `${label} ${percent(rate)}`;
    return shown;
  }

  function renderRows(variants) {
    part("rows").replaceChildren(
      ...variants.map((v) => {
        const row = document.createElement("tr");
        const name = document.createElement("strong");
        name.textContent = v.name;
        cell(row, "name", "").appendChild(name);
        cell(row, "targeted", count(v.targeted));
        cell(row, "delivered", `${count(v.delivered)} (${percent(v.delivery_rate)})`);
        cell(row, "opened", `${count(v.opened)} (${percent(v.open_rate)})`);
        cell(row, "converted", `${count(v.converted)} (${percent(v.conversion_rate)})`);
        const bars = cell(row, "bars", "");
        bars.className = "rate-bars";
        bars.setAttribute("aria-label", `open rate ${percent(v.open_rate)}, conversion rate ${percent(v.conversion_rate)}`);
        bars.append(bar("open", v.open_rate, "open rate"), bar("conversion", v.conversion_rate, "conversion rate"));
        return row;
      })
    );
  }

  function chartWidth() {
    return Math.max(320, part("chart").clientWidth || 640);
  }

  function renderChart(c) {
    const box = part("chart");
    const total = (key) => c[key].reduce((sum, n) => sum + n, 0);
    const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many}`;
    box.setAttribute(
      "aria-label",
      `Per ${c.unit} since launch: ${plural(total("delivered"), "delivery", "deliveries")}, ` +
        `${plural(total("opened"), "open", "opens")}.`
    );
    box.setAttribute("role", "img");
    if (!window.uPlot) {
      part("chart_note").textContent = "The chart could not be loaded; the numbers above are complete.";
      return;
    }
    // Each bucket is drawn as a step from its start to the next one's; one more point closes the last bucket,
    // so that a campaign launched a minute ago shows a step, not a lone dot.
    const close = (values) => (values.length ? [...values, values[values.length - 1]] : values);
    const times = c.times.length ? [...c.times, c.times[c.times.length - 1] + c.step] : [];
    const data = [times, ...SERIES.map((s) => close(c[s.key]))];
    if (chart && chart.unit === c.unit) {
      chart.plot.setData(data);
      return;
    }
    if (chart) chart.plot.destroy();
    const stepped = window.uPlot.paths.stepped({ align: 1 });
    const plot = new window.uPlot(
      {
        width: chartWidth(),
        height: 220,
        // From launch to the end of the last bucket: uPlot's own padding would span years around a single bucket.
        scales: { x: { time: true, range: (u, min, max) => [min, Math.max(max, min + c.step)] } },
        series: [
          { label: "Time" },
          ...SERIES.map((s) => ({ label: s.label, stroke: s.colour, fill: `${s.colour}22`, width: 2, paths: stepped })),
        ],
        axes: [{}, { label: `per ${c.unit}` }],
      },
      data,
      box
    );
    chart = { unit: c.unit, plot };
    part("chart_note").textContent = `Counted per ${c.unit}; times in your browser's time zone.`;
  }

  function render(results) {
    renderRows(results.variants);
    part("verdict").textContent = results.verdict;
    part("behind").textContent = results.behind || "";
    part("held_back").textContent = results.held_back.length
      ? results.held_back.map(([reason, n]) => `${reason}: ${count(n)}`).join(", ")
      : "none";
    renderChart(results.chart);
  }

  render(JSON.parse(initial.textContent));
  document.addEventListener("campaign-results", (event) => render(event.detail));
  window.addEventListener("resize", () => {
    if (chart) chart.plot.setSize({ width: chartWidth(), height: 220 });
  });
})();
