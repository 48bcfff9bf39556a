// Small SVG line charts for the monitor: no library, no network.
//
// SluiceChart.lineChart({series: [{name, color, points: [[x, y], ...], dash, fill}],
//   width, height, title, xLabel: x => text, yLabel: y => text, log, xInteger,
//   marker: {x, label}, dots: [{x, y, color, label}]})
// returns an <svg> element. A point whose y is null breaks its line. With log
// the y axis is logarithmic (powers of ten; values below 1 sit on the axis).
"use strict";

window.SluiceChart = (function () {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // niceMax rounds v up to 1, 2, 2.5 or 5 × 10^n.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p * 1.0000001) return m * p;
    return 10 * p;
  }

  function lineChart(opt) {
    const W = opt.width || 640, H = opt.height || 220;
    const L = 58, R = 34, T = 16, B = 28;
    const series = opt.series || [];
    const xs = [], ys = [];
    for (const s of series) for (const [x, y] of s.points) { xs.push(x); if (y !== null) ys.push(y); }
    for (const d of opt.dots || []) { xs.push(d.x); ys.push(d.y); }
    if (opt.marker) xs.push(opt.marker.x);
    const x0 = xs.length ? Math.min(...xs) : 0, x1 = xs.length ? Math.max(...xs) : 1;
    const top = ys.length ? Math.max(...ys) : 1;
    let sy, ticks;
    if (opt.log) {
      const hi = Math.max(1, Math.ceil(Math.log10(Math.max(top, 10))));
      sy = y => T + (1 - Math.log10(Math.max(y, 1)) / hi) * (H - T - B);
      ticks = Array.from({length: hi + 1}, (_, i) => Math.pow(10, i));
    } else {
      const yMax = niceMax(top);
      sy = y => T + (1 - y / yMax) * (H - T - B);
      ticks = [0, 1, 2, 3, 4].map(i => yMax * i / 4);
    }
    const sx = x => L + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - L - R);
    const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opt.title || "chart"});
    for (const v of ticks) {
      const y = sy(v);
      svg.appendChild(el("line", {x1: L, x2: W - R, y1: y, y2: y, class: "grid"}));
      svg.appendChild(el("text", {x: L - 8, y: y + 4, class: "tick", "text-anchor": "end"}, (opt.yLabel || String)(v)));
    }
    svg.appendChild(el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis"}));
    let xt = [];
    if (opt.xInteger) {
      const step = Math.max(1, Math.ceil((x1 - x0) / 6));
      for (let v = Math.ceil(x0); v <= x1; v += step) xt.push(v);
    } else if (x1 > x0) {
      xt = [0, 1, 2, 3, 4].map(i => x0 + (x1 - x0) * i / 4);
    } else {
      xt = [x0];
    }
    for (const v of xt) {
      svg.appendChild(el("text", {x: sx(v), y: H - 8, class: "tick", "text-anchor": "middle"}, (opt.xLabel || String)(v)));
    }
    if (opt.marker) {
      const mx = sx(opt.marker.x);
      svg.appendChild(el("line", {x1: mx, x2: mx, y1: T, y2: H - B, class: "marker"}));
      svg.appendChild(el("text", {x: mx + 5, y: T + 10, class: "marker-label"}, opt.marker.label));
    }
    for (const s of series) {
      let d = "", open = false, first = null, last = null;
      for (const [x, y] of s.points) {
        if (y === null) { open = false; continue; }
        d += (open ? "L" : "M") + sx(x).toFixed(1) + " " + sy(y).toFixed(1) + " ";
        if (first === null) first = x;
        last = x;
        open = true;
      }
      if (!d) continue;
      if (s.fill && first !== null) {
        const area = d + `L${sx(last).toFixed(1)} ${sy(0)} L${sx(first).toFixed(1)} ${sy(0)} Z`;
        svg.appendChild(el("path", {d: area, fill: s.color, "fill-opacity": 0.15, stroke: "none"}));
      }
      const path = el("path", {d, fill: "none", stroke: s.color, "stroke-width": 2,
        "stroke-dasharray": s.dash || "none", "stroke-linejoin": "round", "stroke-linecap": "round"});
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
