// The severity gauge and the severity timeline, drawn as SVG (crisp at any size, no library).

import { browserStorage } from "./dom.js";

// The bands' limits until the worker's history message says (its `thresholds`).
export const WARNING_ABOVE = 0.33;  // pinozcam_klipper/engine/assess.py
export const FAILURE_ABOVE = 0.66;
export const DEFAULT_THRESHOLDS = Object.freeze({ warning: WARNING_ABOVE, failure: FAILURE_ABOVE });
const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

export function bandOf(severity, thresholds = DEFAULT_THRESHOLDS) {
  return severity > thresholds.failure ? "failure" : severity > thresholds.warning ? "warning" : "ok";
}

/** A point on the gauge's half circle (value 0 at the left, 1 at the right). */
function polar(cx, cy, r, value) {
  const angle = Math.PI * (1 - Math.min(Math.max(value, 0), 1));
  return [cx + r * Math.cos(angle), cy - r * Math.sin(angle)];
}

function arc(cx, cy, r, from, to) {
  const [x1, y1] = polar(cx, cy, r, from);
  const [x2, y2] = polar(cx, cy, r, to);
  return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${r} ${r} 0 0 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}

/** Draw the gauge into `svg` (viewBox 0 0 200 120) for `severity` in 0..1 (null: unknown). */
export function drawGauge(svg, severity, thresholds = DEFAULT_THRESHOLDS) {
  const { warning: warnAbove, failure: failAbove } = thresholds;
  svg.setAttribute("viewBox", "0 0 200 118");
  svg.replaceChildren();
  const cx = 100, cy = 100, r = 80;
  el("path", { d: arc(cx, cy, r, 0, warnAbove), class: "zone ok" }, svg);
  el("path", { d: arc(cx, cy, r, warnAbove, failAbove), class: "zone warning" }, svg);
  el("path", { d: arc(cx, cy, r, failAbove, 1), class: "zone failure" }, svg);
  const known = typeof severity === "number" && Number.isFinite(severity);
  if (known) {
    el("path", { d: arc(cx, cy, r, 0, Math.max(severity, 0.004)), class: `fill ${bandOf(severity, thresholds)}` }, svg);
    const [mx, my] = polar(cx, cy, r, severity);
    el("circle", { cx: mx.toFixed(2), cy: my.toFixed(2), r: 9, class: `marker ${bandOf(severity, thresholds)}` }, svg);
  }
  el("text", { x: cx, y: cy - 14, class: "value" }, svg, known ? severity.toFixed(2) : "–");
  el("text", { x: cx, y: cy + 12, class: `band ${known ? bandOf(severity, thresholds) : ""}` }, svg,
     known ? bandOf(severity, thresholds).toUpperCase() : "NO DATA");
  svg.setAttribute("aria-label", known ? `severity ${severity.toFixed(2)}, ${bandOf(severity, thresholds)}` : "severity: no data");
}

// More than a check's age and the Date header's rounding: the printer's clock was set.
const COARSE_JUMP_MS = 5000;

/**
 * The printer's clock as seen from this browser. The worker stamps checks and incidents with
 * the printer's time, which may be minutes or hours off this browser's (a Pi without a
 * real-time clock or internet access): the timeline's "now" must be the printer's.
 */
export class PrinterClock {
  constructor() {
    this.offset = 0;        // printer time - browser time, ms
    this.known = false;
  }

  /**
   * The printer's time `printerMs` seen at `receivedAt` (this browser's Date.now()). A check's
   * time is exact but a little old when it arrives; a `coarse` one (an HTTP Date header, whole
   * seconds) only sets the clock when nothing better is known or the printer's clock jumped
   * (it synchronised), so that the two do not make the axis jitter.
   */
  observe(printerMs, receivedAt = Date.now(), { coarse = false } = {}) {
    if (!Number.isFinite(printerMs)) return;
    const offset = printerMs - receivedAt;
    if (coarse && this.known && Math.abs(offset - this.offset) < COARSE_JUMP_MS) return;
    this.offset = offset;
    this.known = true;
  }

  /** The printer's time now, ms. */
  now() {
    return Date.now() + this.offset;
  }
}

/**
 * Draw the timeline into `svg` at its current size: severity `points` ({t: ms, s: 0..1}),
 * `incidents` ({t: ms, id, band}), the band thresholds, and a time axis from the first point
 * to `now` (live) or to the last point (a print that has ended: `live` false). All times are
 * the printer's (PrinterClock gives its `now`).
 * The svg's data-points / data-incidents say how many of each are drawn.
 */
export function drawTimeline(svg, points, incidents, { now = Date.now(), live = true, thresholds = DEFAULT_THRESHOLDS } = {}) {
  const { warning: warnAbove, failure: failAbove } = thresholds;
  // The axis starts with the print; while it runs it spans a minute at least (the first checks
  // fill it from the left); a print that has ended ends it.
  if (!live && points.length) now = points[points.length - 1].t;
  // A check never lies beyond "now" (a clock estimate a second short would hide the newest).
  else if (points.length) now = Math.max(now, points[points.length - 1].t);
  const width = Math.max(svg.clientWidth || 600, 200);
  const height = Math.max(svg.clientHeight || 150, 100);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const left = 30, right = 8, top = 8, bottom = 20;
  const w = width - left - right, h = height - top - bottom;
  const start = points.length ? Math.min(points[0].t, now) : now - 60000;
  const end = live ? Math.max(now, start + 60000) : Math.max(now, start + 1000);
  const span = end - start;
  const x = (t) => left + ((t - start) / span) * w;
  const y = (s) => top + (1 - Math.min(Math.max(s, 0), 1)) * h;

  el("rect", { x: left, y: y(1), width: w, height: y(failAbove) - y(1), class: "area failure" }, svg);
  el("rect", { x: left, y: y(failAbove), width: w, height: y(warnAbove) - y(failAbove), class: "area warning" }, svg);
  for (const [value, kind] of [[warnAbove, "warning"], [failAbove, "failure"]]) {
    el("line", { x1: left, x2: left + w, y1: y(value), y2: y(value), class: `threshold ${kind}` }, svg);
    el("text", { x: left - 4, y: y(value) + 4, class: "axis y" }, svg, value.toFixed(2));
  }
  el("text", { x: left - 4, y: y(0) + 4, class: "axis y" }, svg, "0");
  el("text", { x: left - 4, y: y(1) + 8, class: "axis y" }, svg, "1");
  el("line", { x1: left, x2: left + w, y1: y(0), y2: y(0), class: "baseline" }, svg);
  const minutes = (now - start) / 60000;
  const stepMin = [1, 2, 5, 10, 15, 30, 60, 120, 240].find((m) => minutes / m <= 6) || 480;
  // The left end says when the print started; ticks count back from now (or its end).
  const clock = new Date(start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const first = el("text", { x: left, y: height - 4, class: "axis x first" }, svg, points.length ? clock : "");
  // Ticks stay clear of the start label, as wide as the locale makes it ("01:43 AM", "13:43").
  const startEnds = left + textWidth(first) + 4;
  for (let m = 0; m <= minutes; m += stepMin) {
    const t = now - m * 60000;
    const label = el("text", { x: x(t), y: height - 4, class: "axis x" }, svg,
                     m === 0 ? (live ? "now" : "end") : `-${m >= 60 ? (m / 60) + "h" : m + "m"}`);
    if (x(t) - textWidth(label) / 2 < startEnds) {  // centred on its tick
      label.remove();
      continue;
    }
    el("line", { x1: x(t), x2: x(t), y1: y(0), y2: y(0) + 4, class: "tick" }, svg);
  }
  let drawnIncidents = 0;
  for (const incident of incidents) {
    if (incident.t < start || incident.t > end) continue;
    drawnIncidents += 1;
    const g = el("g", { class: `incident-marker ${incident.band || "failure"}` }, svg);
    el("line", { x1: x(incident.t), x2: x(incident.t), y1: y(1), y2: y(0), class: "marker" }, g);
    el("path", { d: `M ${x(incident.t) - 5} ${y(1)} h 10 l -5 7 z`, class: "flag" }, g);
    el("title", {}, g, `incident ${incident.id}`);
  }
  if (points.length) {
    const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p.s).toFixed(1)}`).join(" ");
    el("polygon", { points: `${x(points[0].t).toFixed(1)},${y(0)} ${line} ${x(points[points.length - 1].t).toFixed(1)},${y(0)}`, class: "severity-fill" }, svg);
    el("polyline", { points: line, class: "severity" }, svg);
    const last = points[points.length - 1];
    el("circle", { cx: x(last.t), cy: y(last.s), r: 3, class: `last ${bandOf(last.s, thresholds)}` }, svg);
  } else {
    el("text", { x: left + w / 2, y: top + h / 2, class: "empty" }, svg, "severity is recorded while a print runs");
  }
  svg.dataset.points = String(points.length);
  svg.dataset.incidents = String(drawnIncidents);
}

/** The drawn width of an SVG text in its svg's units (an estimate where it is not rendered). */
function textWidth(text) {
  const measured = text.textContent ? text.getComputedTextLength() : 0;
  return measured || text.textContent.length * 6;  // the axis font is 10 px
}

/** A worker history message's points ([[unix_time, severity, band], ...]) as timeline points. */
export function historyPoints(points) {
  return (Array.isArray(points) ? points : [])
    .filter((p) => Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number")
    .map(([t, s]) => ({ t: t * 1000, s }));
}

/** The worse of two points (the later one on a tie): what a merged point shows. */
function worst(a, b) {
  return b.s >= a.s ? b : a;
}

/**
 * Severity history of one print, kept in this browser so a reload does not lose it. It never
 * holds more than `max` points: when full, neighbouring pairs are merged (the worse point
 * stays) and from then on twice as many checks make one point, as the worker's own history
 * does (pinozcam_klipper/worker/history.py): a long print keeps its start, at one resolution.
 * `key`: the storage key (one per Moonraker: api.js storageKey).
 */
export class TimelineStore {
  constructor(storage = browserStorage(), key = "pinozcam-panel-timeline", max = 3000) {
    this.storage = storage;
    this.key = key;
    this.max = Math.max(max, 4);
    this.file = "";
    this.points = [];
    this.resetThinning();
    try {
      const saved = JSON.parse(storage.getItem(key) || "null");
      if (saved && Array.isArray(saved.points)) { this.file = saved.file || ""; this.points = saved.points; this.thinWhileFull(); }
    } catch { /* unreadable: start empty */ }
  }

  resetThinning() {
    this.stride = 1;      // checks per point
    this.filling = 0;     // checks merged into the last point so far (while below `stride`)
  }

  /** A new print (another file, or a start after an end) clears the history. */
  printStarted(file) {
    this.file = file || "";
    this.points = [];
    this.resetThinning();
    this.save();
  }

  /**
   * The history the worker keeps for `file` (points sorted by time) replaces this browser's;
   * live points of the same print newer than its last one are kept, and so are points from
   * before its first one since `started` (ms; a restarted worker knows only the checks it
   * made itself).
   */
  replace(file, points, started = -Infinity) {
    const same = (file || "") === this.file;
    const first = points.length ? points[0].t : Infinity;
    const last = points.length ? points[points.length - 1].t : -Infinity;
    const older = same ? this.points.filter((p) => p.t >= started && p.t < first) : [];
    const newer = same ? this.points.filter((p) => p.t > last) : [];
    this.file = file || "";
    this.points = [...older, ...points, ...newer];
    this.resetThinning();
    this.thinWhileFull();
    this.save();
  }

  /** One check of the running print (`t`: ms, the printer's clock). */
  add(t, severity) {
    const point = { t, s: severity };
    const last = this.points.length - 1;
    if (this.filling > 0 && this.filling < this.stride) {
      // The last point is still taking checks: it stays the worst of them.
      this.points[last] = worst(this.points[last], point);
      this.filling += 1;
    } else {
      this.points.push(point);
      this.filling = 1;
      this.thinWhileFull();
    }
    // Checks can come several times a second: write to storage at most every 2 s.
    if (!this.saving) this.saving = setTimeout(() => { this.saving = null; this.save(); }, 2000);
  }

  /** Merge neighbouring pairs (keeping the worse) until the points fit in `max`. */
  thinWhileFull() {
    while (this.points.length > this.max) {
      const merged = [];
      for (let i = 0; i + 1 < this.points.length; i += 2) merged.push(worst(this.points[i], this.points[i + 1]));
      // An odd last point stays alone, and takes the checks that follow until it is a whole one.
      const odd = this.points.length % 2 === 1;
      if (odd) merged.push(this.points[this.points.length - 1]);
      // The axis starts with the print's first check, wherever the worst of its pair was.
      merged[0] = { t: this.points[0].t, s: merged[0].s };
      this.stride *= 2;
      this.filling = odd ? this.filling : this.stride;
      this.points = merged;
    }
  }

  save() {
    try { this.storage.setItem(this.key, JSON.stringify({ file: this.file, points: this.points })); } catch { /* full or disabled */ }
  }
}
