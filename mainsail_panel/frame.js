// The live frame: the RAW snapshot (as the camera gave it) with the detector's boxes drawn in
// an SVG overlay (only boxes scoring at least the display threshold; failure boxes held for a
// few seconds after the last failure frame), and the mask editor (click points on the frame;
// masks are polygons in 0..1 frame coordinates, as the `masks` setting takes them).
//
// With an older component that cannot serve the raw picture, the worker's annotated picture is
// shown instead and the overlay draws no boxes (they are in the picture already).

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

/**
 * Which boxes to draw at `now` (ms): the latest detection's, plus the last failure frame's
 * boxes while `now` is within `holdMs` of it; of those, only boxes scoring at least
 * `threshold` (detections carry every box down to the model's decode floor).
 * Pure: state is {latest, held: {boxes, at}}.
 */
export function boxesToDraw(state, now, holdMs, threshold = 0) {
  const shown = (boxes, held) => boxes.filter((b) => b.score >= threshold).map((b) => ({ ...b, held }));
  const latest = shown(state.latest ? state.latest.boxes || [] : [], false);
  if (!state.held || now - state.held.at > holdMs || (state.latest && state.latest.band === "failure")) {
    return latest;
  }
  return [...latest, ...shown(state.held.boxes, true)];
}

/** Polygons (lists of [x, y]) rounded to 4 decimals and clamped to 0..1, as the server stores them. */
export function normaliseMasks(polygons) {
  const clamp = (v) => Math.round(Math.min(Math.max(v, 0), 1) * 10000) / 10000;
  return polygons.filter((p) => p.length >= 3).map((p) => p.map(([x, y]) => [clamp(x), clamp(y)]));
}

export class FrameView {
  /** `root`: the .frame element holding an <img> and an <svg>. */
  constructor(root, { holdMs = 5000 } = {}) {
    this.root = root;
    this.img = root.querySelector("img");
    this.svg = root.querySelector("svg");
    this.holdMs = holdMs;
    this.drawBoxes = true;       // false while the picture shown is the annotated one
    this.state = { latest: null, held: null };
    this.size = { width: 0, height: 0 };
    this.masks = [];            // saved masks (from the settings)
    this.editing = null;        // {polygons, current} while the mask editor is open
    this.onEditChange = () => {};
    this.expiry = null;
    this.svg.addEventListener("click", (event) => this.onClick(event));
    this.img.addEventListener("load", () => {
      if (this.img.naturalWidth) this.setSize(this.img.naturalWidth, this.img.naturalHeight);
    });
    // Shown again (its tab, a dashboard tile) or resized: the labels are sized for the screen.
    new ResizeObserver(() => this.render()).observe(root);
  }

  setSize(width, height) {
    if (width === this.size.width && height === this.size.height) return;
    this.size = { width, height };
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.root.style.aspectRatio = `${width} / ${height}`;
    this.render();
  }

  /** Show a new picture (an object URL); the previous one is revoked once replaced. */
  showPicture(objectUrl) {
    const old = this.img.dataset.objectUrl;
    this.img.src = objectUrl;
    this.img.dataset.objectUrl = objectUrl;
    this.root.classList.add("has-picture");
    if (old) setTimeout(() => URL.revokeObjectURL(old), 1000);
  }

  detection(message) {
    if (message.width && message.height) this.setSize(message.width, message.height);
    const now = performance.now();
    this.state.latest = message;
    if (message.band === "failure" && (message.boxes || []).length) {
      this.state.held = { boxes: message.boxes, at: now };
    }
    this.render();
    clearTimeout(this.expiry);
    if (this.state.held) {
      const left = this.holdMs - (now - this.state.held.at);
      if (left > 0) this.expiry = setTimeout(() => this.render(), left + 20);
    }
  }

  /** Forget the latest detection and the held failure boxes (the print they belong to ended). */
  clearDetection() {
    this.state = { latest: null, held: null };
    clearTimeout(this.expiry);
    this.render();
  }

  /** The threshold the shown boxes are filtered with: the latest detection's (null: none yet). */
  displayThreshold() {
    const own = this.state.latest && this.state.latest.display_threshold;
    return typeof own === "number" ? own : null;
  }

  setMasks(masks) {
    this.masks = Array.isArray(masks) ? masks : [];
    this.render();
  }

  // -- mask editor -------------------------------------------------------------------------
  startEditing() {
    this.editing = { polygons: this.masks.map((p) => p.map((pt) => [...pt])), current: [] };
    this.root.classList.add("editing");
    this.render();
    this.onEditChange();
  }

  stopEditing() {
    this.editing = null;
    this.root.classList.remove("editing");
    this.render();
    this.onEditChange();
  }

  /** Close the polygon being drawn (3 points at least); true if one was added. */
  finishPolygon() {
    if (!this.editing || this.editing.current.length < 3) return false;
    this.editing.polygons.push(this.editing.current);
    this.editing.current = [];
    this.render();
    this.onEditChange();
    return true;
  }

  undo() {
    if (!this.editing) return;
    if (this.editing.current.length) this.editing.current.pop();
    else this.editing.polygons.pop();
    this.render();
    this.onEditChange();
  }

  clearAll() {
    if (!this.editing) return;
    this.editing.polygons = [];
    this.editing.current = [];
    this.render();
    this.onEditChange();
  }

  /** The masks as edited (an unfinished polygon of 3+ points counts). */
  editedMasks() {
    if (!this.editing) return this.masks;
    const all = [...this.editing.polygons];
    if (this.editing.current.length >= 3) all.push(this.editing.current);
    return normaliseMasks(all);
  }

  onClick(event) {
    if (!this.editing) return;
    const rect = this.svg.getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    const x = (event.clientX - rect.left) / rect.width;
    const y = (event.clientY - rect.top) / rect.height;
    const current = this.editing.current;
    // A click near the first point closes the polygon.
    if (current.length >= 3 && Math.hypot((x - current[0][0]) * rect.width, (y - current[0][1]) * rect.height) < 12) {
      this.finishPolygon();
      return;
    }
    current.push([x, y]);
    this.render();
    this.onEditChange();
  }

  // -- drawing -----------------------------------------------------------------------------
  render() {
    const { width, height } = this.size;
    this.svg.replaceChildren();
    if (!width || !height) return;
    const points = (poly) => poly.map(([x, y]) => `${x * width},${y * height}`).join(" ");
    const masks = this.editing ? this.editing.polygons : this.masks;
    for (const poly of masks) el("polygon", { points: points(poly), class: "mask" }, this.svg);
    if (this.editing) {
      const current = this.editing.current;
      if (current.length) el("polyline", { points: points(current), class: "mask-drawing" }, this.svg);
      const r = Math.max(width, height) / 140;
      current.forEach(([x, y], i) => el("circle", { cx: x * width, cy: y * height, r, class: i ? "mask-point" : "mask-point first" }, this.svg));
      return; // boxes would hide what is being drawn
    }
    const threshold = this.displayThreshold();
    const boxes = this.drawBoxes && threshold !== null ? boxesToDraw(this.state, performance.now(), this.holdMs, threshold) : [];
    // For tests and the curious: which detection is drawn, and how many of its boxes.
    this.svg.dataset.frameId = this.state.latest ? String(this.state.latest.frame_id ?? "") : "";
    this.svg.dataset.threshold = threshold === null ? "" : String(threshold);
    this.svg.dataset.boxes = this.drawBoxes ? String(boxes.length) : "off";
    // Hidden (another tab): the labels cannot be sized; drawn when shown (the ResizeObserver).
    const shown = this.svg.clientHeight;
    if (!shown) return;
    const fontSize = Math.round(12 * (height / shown) * 10) / 10;  // about 12 CSS px on screen
    const labels = [];  // [x, y, width] of the labels drawn: overlapping boxes share one label
    for (const box of boxes) {
      const failure = !box.held && this.state.latest && this.state.latest.band === "failure";
      const kind = box.held || failure ? "failure" : this.state.latest.band === "warning" ? "warning" : "seen";
      const g = el("g", { class: `box ${kind}${box.held ? " held" : ""}` }, this.svg);
      el("rect", { x: box.x1, y: box.y1, width: Math.max(box.x2 - box.x1, 1), height: Math.max(box.y2 - box.y1, 1) }, g);
      // The label sits above the box, or inside it when the box touches the top edge.
      const above = box.y1 - fontSize * 0.35;
      const y = above - fontSize >= 0 ? above : box.y1 + fontSize * 1.15;
      const text = `${box.label} ${Math.round(box.score * 100)}%`;
      const x = box.x1 + 2, w = text.length * fontSize * 0.62;
      if (labels.some(([lx, ly, lw]) => Math.abs(ly - y) < fontSize && x < lx + lw && lx < x + w)) continue;
      labels.push([x, y, w]);
      el("text", { x, y, "font-size": fontSize }, g).textContent = text;
    }
  }
}
