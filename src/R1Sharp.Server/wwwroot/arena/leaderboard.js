// The arena's leaderboard: the table, a plot of ratings with their 95% intervals (inline SVG drawn with DOM calls, so
// model names only ever become text), and the pairwise win-rate matrix, from GET /arena/api/leaderboard.
"use strict";

const $ = id => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

$("judge").addEventListener("change", load);

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

async function load() {
  const judge = $("judge").value;
  $("status").textContent = "Fitting…";
  try {
    const response = await api(`/arena/api/leaderboard?judge=${encodeURIComponent(judge)}`);
    const board = await response.json().catch(() => null);
    if (!response.ok) throw new Error(board?.error?.message ?? `HTTP ${response.status}`);
    show(board);
  } catch (error) {
    $("status").textContent = error.message;
  }
}

function show(board) {
  const empty = board.rows.length === 0;
  for (const id of ["ratings", "plot-figure", "matrix-title", "matrix"]) $(id).hidden = empty;
  $("summary").textContent = `${board.battles} battles · judge: ${board.judge} · ${board.bootstrap_rounds} bootstrap rounds`;
  $("status").textContent = empty ? "No decided battles yet." : "";
  if (empty) return;

  $("ratings").tBodies[0].replaceChildren(...board.rows.map(row => {
    const line = document.createElement("tr");
    line.append(cell("td", row.rank), cell("td", row.model, "model-name"), cell("td", row.rating.toFixed(1)),
      cell("td", `${row.ci_low.toFixed(1)} – ${row.ci_high.toFixed(1)}`), cell("td", row.battles));
    return line;
  }));
  plot(board.rows);

  const header = document.createElement("tr");
  header.append(cell("th", ""), ...board.models.map(model => Object.assign(cell("th", model), { scope: "col" })));
  const rows = board.models.map((model, i) => {
    const line = document.createElement("tr");
    line.append(Object.assign(cell("th", model), { scope: "row" }));
    for (const rate of board.win_rates[i]) {
      const td = cell("td", rate === null ? "–" : rate.toFixed(2));
      // Blue where the row's model wins more often, red where it loses more.
      if (rate !== null) td.style.backgroundColor = rate >= 0.5 ? `rgba(48, 86, 211, ${(rate - 0.5) * 0.8})` : `rgba(200, 40, 40, ${(0.5 - rate) * 0.8})`;
      line.append(td);
    }
    return line;
  });
  $("matrix").replaceChildren(header, ...rows);
}

// One line per model, best at the top: the interval as a bar, the rating as a dot, on a shared axis.
function plot(rows) {
  const width = 720, left = 180, right = 30, top = 16, lineHeight = 26, height = top + rows.length * lineHeight + 36;
  const low = Math.min(...rows.map(r => r.ci_low)), high = Math.max(...rows.map(r => r.ci_high));
  const pad = Math.max(10, (high - low) * 0.05);
  const from = low - pad, to = high + pad;
  const x = value => left + (value - from) / (to - from) * (width - left - right);
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "ratings with 95% intervals" });
  const axisY = top + rows.length * lineHeight + 4;
  chart.append(svg("line", { x1: left, x2: width - right, y1: axisY, y2: axisY, stroke: "#9ca3af" }));
  const step = niceStep((to - from) / 6);
  for (let tick = Math.ceil(from / step) * step; tick <= to; tick += step) {
    chart.append(svg("line", { x1: x(tick), x2: x(tick), y1: top - 6, y2: axisY, stroke: "#e3e6eb" }));
    chart.append(svg("text", { x: x(tick), y: axisY + 18, "text-anchor": "middle", "font-size": 12, fill: "#6b7280" }, Math.round(tick)));
  }
  rows.forEach((row, i) => {
    const y = top + i * lineHeight + lineHeight / 2;
    chart.append(svg("text", { x: left - 10, y: y + 4, "text-anchor": "end", "font-size": 13, fill: "#1d2330" }, row.model));
    chart.append(svg("line", { x1: x(row.ci_low), x2: x(row.ci_high), y1: y, y2: y, stroke: "#3056d3", "stroke-width": 3, "stroke-linecap": "round" }));
    chart.append(svg("circle", { cx: x(row.rating), cy: y, r: 5, fill: "#1d2330" }));
  });
  $("plot").replaceChildren(chart);
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map(m => m * power).find(step => step >= raw) ?? 10 * power;
}

load();
