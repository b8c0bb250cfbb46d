// Small charts drawn as inline SVG: no library, and nothing but attributes (the page's
// Content-Security-Policy allows no inline style). Colours come from classes in tocsin.css.

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

/**
 * Vertical bars, one per {label, value}: a histogram. `description` is what a screen reader
 * hears; each bar also carries its value as a tooltip and in data-value.
 */
export function columnChart(bars, description) {
  const width = 360;
  const height = 160;
  const bottom = 28;
  const top = 14;
  const most = Math.max(1, ...bars.map((bar) => bar.value));
  const slot = width / Math.max(1, bars.length);
  const chart = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": description,
    class: "chart-svg", "data-chart": "columns" });
  bars.forEach((bar, index) => {
    const barHeight = ((height - bottom - top) * bar.value) / most;
    const x = index * slot + slot * 0.15;
    const y = height - bottom - barHeight;
    chart.append(
      svgEl("rect", { x, y, width: slot * 0.7, height: barHeight, class: "bar", "data-value": bar.value },
        svgEl("title", {}, `${bar.label}: ${bar.value}`)),
      svgEl("text", { x: x + slot * 0.35, y: height - bottom + 16, "text-anchor": "middle", class: "chart-label" },
        bar.label));
    if (bar.value) {
      chart.append(svgEl("text", { x: x + slot * 0.35, y: y - 3, "text-anchor": "middle", class: "chart-value" },
        String(bar.value)));
    }
  });
  chart.append(svgEl("line", { x1: 0, x2: width, y1: height - bottom, y2: height - bottom, class: "axis" }));
  return chart;
}

/**
 * Horizontal bars in groups, one group per row {label, values: [..]}, one bar per series
 * {name, className}; a legend above. The longest bar spans the width.
 */
export function barChart(rows, series, description) {
  const labelWidth = 130;
  const width = 520;
  const barHeight = 10;
  const groupHeight = series.length * (barHeight + 2) + 10;
  const legendHeight = 22;
  const height = legendHeight + rows.length * groupHeight;
  const most = Math.max(1, ...rows.flatMap((row) => row.values));
  const span = width - labelWidth - 40;
  const chart = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": description,
    class: "chart-svg", "data-chart": "bars" });
  series.forEach((one, index) => {
    const x = labelWidth + index * 110;
    chart.append(svgEl("rect", { x, y: 4, width: 10, height: 10, class: one.className }),
      svgEl("text", { x: x + 14, y: 13, class: "chart-label" }, one.name));
  });
  rows.forEach((row, rowIndex) => {
    const groupTop = legendHeight + rowIndex * groupHeight;
    chart.append(svgEl("text", { x: labelWidth - 6, y: groupTop + groupHeight / 2, "text-anchor": "end",
      class: "chart-label" }, row.label));
    row.values.forEach((value, index) => {
      const y = groupTop + index * (barHeight + 2);
      const length = (span * value) / most;
      chart.append(
        svgEl("rect", { x: labelWidth, y, width: length, height: barHeight, class: series[index].className,
          "data-value": value }, svgEl("title", {}, `${row.label}, ${series[index].name}: ${value}`)),
        svgEl("text", { x: labelWidth + length + 4, y: y + barHeight - 1, class: "chart-value" }, String(value)));
    });
  });
  return chart;
}
