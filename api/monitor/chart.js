// Small SVG line charts for the monitor: no library, no network.
// lineChart({series: [{name, color, points: [[x, y], ...], dash}], width, height,
//            xLabel: fn(x) -> text, yLabel: fn(y) -> text, marker: {x, label}, dots: [{x, y, color, label}]})
// returns an <svg> element. Points need not share x values.
"use strict";

window.SluiceChart = (function () {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // niceMax rounds v up to 1, 2 or 5 × 10^n.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function lineChart(opt) {
    const W = opt.width || 640, H = opt.height || 220;
    const L = 56, R = 12, T = 14, B = 28;
    const series = opt.series || [];
    let xs = [], ys = [];
    for (const s of series) for (const [x, y] of s.points) { xs.push(x); ys.push(y); }
    for (const d of opt.dots || []) { xs.push(d.x); ys.push(d.y); }
    const x0 = xs.length ? Math.min(...xs) : 0, x1 = xs.length ? Math.max(...xs) : 1;
    const yMax = niceMax(ys.length ? Math.max(...ys) : 1);
    const sx = x => L + (x1 === x0 ? 0 : (x - x0) / (x1 - x0)) * (W - L - R);
    const sy = y => T + (1 - y / yMax) * (H - T - B);
    const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
      "aria-label": opt.title || "chart"});
    for (let i = 0; i <= 4; i++) {
      const v = yMax * i / 4, y = sy(v);
      svg.appendChild(el("line", {x1: L, x2: W - R, y1: y, y2: y, class: "grid"}));
      svg.appendChild(el("text", {x: L - 6, y: y + 4, class: "tick", "text-anchor": "end"},
        (opt.yLabel || String)(v)));
    }
    const nx = Math.min(6, Math.max(1, Math.round(x1 - x0) || 1));
    for (let i = 0; i <= nx; i++) {
      const v = x0 + (x1 - x0) * i / nx;
      svg.appendChild(el("text", {x: sx(v), y: H - 8, class: "tick", "text-anchor": "middle"},
        (opt.xLabel || String)(v)));
    }
    if (opt.marker) {
      const mx = sx(opt.marker.x);
      svg.appendChild(el("line", {x1: mx, x2: mx, y1: T, y2: H - B, class: "marker"}));
      svg.appendChild(el("text", {x: mx + 4, y: T + 10, class: "marker-label"}, opt.marker.label));
    }
    for (const s of series) {
      if (!s.points.length) continue;
      const d = s.points.map(([x, y], i) => (i ? "L" : "M") + sx(x).toFixed(1) + " " + sy(y).toFixed(1)).join(" ");
      const path = el("path", {d, fill: "none", stroke: s.color, "stroke-width": 2,
        "stroke-dasharray": s.dash || "none", "stroke-linejoin": "round"});
      path.appendChild(el("title", {}, s.name));
      svg.appendChild(path);
    }
    for (const d of opt.dots || []) {
      const c = el("circle", {cx: sx(d.x), cy: sy(d.y), r: 5, fill: d.color, stroke: "#fff", "stroke-width": 2});
      c.appendChild(el("title", {}, d.label || ""));
      svg.appendChild(c);
    }
    return svg;
  }

  function legend(series) {
    const div = document.createElement("div");
    div.className = "legend";
    for (const s of series) {
      const item = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = s.color;
      item.append(sw, s.name);
      div.appendChild(item);
    }
    return div;
  }

  return {lineChart, legend};
})();
