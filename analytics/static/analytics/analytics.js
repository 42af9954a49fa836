// The analytics page's charts, drawn with uPlot (static/vendor/uplot) from the numbers the server put in the page
// (json_script "analytics-data"): the same numbers as the tables under the charts and the CSV links.
// Times are UTC buckets, shown in UTC (the tables and CSVs say UTC too). A click on a point of the success-rate
// or deliveries chart opens that bucket's failures (the page again with at=<bucket>): the tables' links do the same
// for keyboards. Variant names are the marketer's text: they go in with textContent only.
(function () {
  "use strict";
  const source = document.getElementById("analytics-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const note = document.querySelector("[data-chart-note]");
  const HEIGHT = 220;
  const number = new Intl.NumberFormat("en-GB");
  const unitWords = data.unit === "day" ? "day" : "hour";
  const whenFormat = data.unit === "day" ? "{YYYY}-{MM}-{DD}" : "{YYYY}-{MM}-{DD} {HH}:{mm}";
  const drawn = []; // { box, plot }

  // The period's custom dates matter only for "From … to …".
  const period = document.getElementById("id_period");
  const custom = document.querySelectorAll("[data-custom-period]");
  if (period && custom.length) {
    const toggle = () => {
      custom.forEach((field) => {
        field.hidden = period.value !== "custom";
      });
    };
    period.addEventListener("change", toggle);
    toggle();
  }

  const formatValue = (kind) => (u, v) => {
    if (v == null) return "—";
    return kind === "percent" ? `${v.toFixed(2)}%` : number.format(v);
  };

  // Axis labels in UTC and 24-hour time, the date under the first label and under each midnight.
  const pad = (n) => String(n).padStart(2, "0");
  function timeLabels(u, splits) {
    return splits.map((ts, i) => {
      const d = new Date(ts * 1000);
      const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
      if (data.unit === "day") return i === 0 || (d.getUTCMonth() === 0 && d.getUTCDate() === 1) ? day : day.slice(5);
      const clock = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
      return i === 0 || clock === "00:00" ? `${clock}\n${day}` : clock;
    });
  }

  // The bucket being drilled into, shaded on every chart over time.
  function shadeDrilled(u) {
    if (data.drilled == null) return;
    const step = data.unit === "day" ? 86400 : 3600;
    const left = u.valToPos(data.drilled, "x", true);
    const right = u.valToPos(data.drilled + step, "x", true);
    const { ctx } = u;
    ctx.save();
    ctx.fillStyle = "rgba(230, 57, 70, 0.12)";
    ctx.fillRect(left - (right - left) / 2, u.bbox.top, right - left, u.bbox.height);
    ctx.restore();
  }

  function widthOf(box) {
    return Math.max(320, box.clientWidth || 720);
  }

  function drillTo(index) {
    const query = new URLSearchParams(data.query);
    query.set("at", data.drill_keys[index]);
    window.location.assign(`?${query.toString()}#failures`);
  }

  function describe(chart, times) {
    // What a screen reader hears instead of the picture: each series' total, or the rate's lowest point.
    if (chart.kind === "percent") {
      const values = chart.series[0].values;
      let lowest = null;
      values.forEach((v, i) => {
        if (v != null && (lowest === null || v < values[lowest])) lowest = i;
      });
      if (lowest === null) return `Success rate per ${unitWords}: nothing finished in this period.`;
      const when = new Date(times[lowest] * 1000).toISOString().slice(0, data.unit === "day" ? 10 : 16);
      return `Success rate per ${unitWords}; lowest ${values[lowest].toFixed(2)}% at ${when.replace("T", " ")} UTC.`;
    }
    const totals = chart.series.map((s) => `${s.label.toLowerCase()} ${number.format(s.values.reduce((a, b) => a + b, 0))}`);
    return `Per ${unitWords}, in this period: ${totals.join(", ")}.`;
  }

  function draw(box, chart, times, { drill = false } = {}) {
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", describe(chart, times));
    const step = data.unit === "day" ? 86400 : 3600;
    const percent = chart.kind === "percent";
    const plot = new window.uPlot(
      {
        width: widthOf(box),
        height: HEIGHT,
        tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        cursor: { drag: { x: false, y: false } },
        scales: {
          // One bucket alone would otherwise be a range of nothing.
          x: { time: true, range: (u, min, max) => (min === max ? [min - step, max + step] : [min, max]) },
          y: { range: percent ? [0, 100] : (u, min, max) => [0, Math.max(1, max)] },
        },
        series: [
          { label: `${unitWords[0].toUpperCase()}${unitWords.slice(1)} (UTC)`, value: whenFormat },
          ...chart.series.map((s) => ({
            label: s.label,
            stroke: s.colour,
            fill: percent ? undefined : `${s.colour}1a`,
            width: 2,
            spanGaps: false,
            value: formatValue(chart.kind),
          })),
        ],
        axes: [{ values: timeLabels, size: 50 }, { label: percent ? "% delivered" : `per ${unitWords}`, size: 60 }],
        hooks: { drawClear: [shadeDrilled] },
      },
      [times, ...chart.series.map((s) => s.values)],
      box
    );
    if (drill) {
      plot.over.classList.add("analytics-drillable");
      plot.over.title = `Click to see the failures of that ${unitWords}`;
      plot.over.addEventListener("click", () => {
        if (plot.cursor.idx != null) drillTo(plot.cursor.idx);
      });
    }
    box.dataset.drawn = "true";
    drawn.push({ box, plot });
  }

  if (!window.uPlot) {
    if (note) note.textContent = "The charts could not be loaded; the tables and CSV files hold every number.";
    return;
  }

  Object.entries(data.charts).forEach(([name, chart]) => {
    const box = document.querySelector(`[data-chart="${name}"]`);
    if (box) draw(box, chart, data.times, { drill: name === "success_rate" || name === "deliveries" });
  });

  const variantBox = document.querySelector("[data-variant-charts]");
  if (variantBox) {
    data.variants.forEach((variant) => {
      const figure = document.createElement("figure");
      figure.className = "analytics-variant";
      figure.dataset.variant = variant.name;
      const caption = document.createElement("figcaption");
      caption.textContent = variant.name ? `Variant ${variant.name}` : "The campaign's pushes (one template)";
      const box = document.createElement("div");
      box.className = "analytics-chart";
      figure.append(caption, box);
      variantBox.appendChild(figure);
      draw(box, { kind: "count", series: variant.series }, variant.times);
    });
  }

  window.addEventListener("resize", () => {
    drawn.forEach(({ box, plot }) => plot.setSize({ width: widthOf(box), height: HEIGHT }));
  });
})();
