// The PiNozCam panel: wires Moonraker (api.js) to the views (frame, charts, incidents, settings).

import { Moonraker, saveApiKey, storageKey, takeOverLegacyEntry } from "./api.js";
import { browserStorage } from "./dom.js";
import { FrameView } from "./frame.js";
import { bandOf, DEFAULT_THRESHOLDS, drawGauge, drawTimeline, historyPoints, PrinterClock, TimelineStore } from "./charts.js";
import { IncidentList } from "./incidents.js";
import { healthRows } from "./health.js";
import { SettingsForm } from "./settings.js";
import { blockedReason, cameraProblem, describeKlipper, klipperHasMessage, overdue } from "./watching.js";

const ACTIVE = new Set(["printing", "paused"]);
const $ = (selector) => document.querySelector(selector);

class Panel {
  constructor() {
    this.api = new Moonraker();
    this.status = null;
    this.printState = null;   // unknown until the first status
    // Whether Moonraker answers this page now (its websocket is open, or a status poll was
    // answered while it is down); until it does, nothing shown is current.
    this.reachable = false;
    this.openIncidentId = null;   // the status's open incident, as last seen
    // The latest check (notify_pinozcam_detection) while it is current, and when it came
    // (Date.now()); the status's own time, for the camera health it carries.
    this.lastDetection = null;
    this.lastDetectionAt = 0;
    this.statusAt = 0;
    // Since when checks are due (a print runs and nothing else stops them), Date.now(); null
    // while none are.
    this.checksDueSince = null;
    this.klipper = { asked: false, text: "" };   // Klipper's state while it is not ready
    this.pictureProblem = "";   // why the picture could not be had ("" : it was)
    this.watchProblem = "";     // why nothing is watched now ("" : it is)
    this.clock = new PrinterClock();
    this.frame = new FrameView($("#frame"));
    // Per Moonraker: two printers behind one address share this browser's storage.
    takeOverLegacyEntry("pinozcam-panel-timeline");
    this.timeline = new TimelineStore(browserStorage(), storageKey("pinozcam-panel-timeline"));
    this.liveIncidents = [];
    // The worker's history of the print (GET history): null until asked; `available` false
    // when the component predates it (then its snapshot cannot be raw either).
    this.history = { available: null, incidents: [], thresholds: DEFAULT_THRESHOLDS, loading: null };
    this.snapshot = { busy: false, last: 0 };
    this.incidents = new IncidentList($("#incidents"), this.api, {
      toast: (m, k) => this.toast(m, k), printState: () => this.printState || "standby",
      now: () => this.clock.now(),
      unavailable: () => {
        const worker = (this.status || {}).worker || {};
        if (!this.reachable) return "no connection to Moonraker";
        return worker.connected ? "" : `detector ${worker.state || "not connected"}`;
      } });
    this.incidents.onChange = () => this.showIncidentCount();
    this.settings = new SettingsForm($("#settings"), this.api, {
      toast: (m, k) => this.toast(m, k), onSaved: (data) => this.applySettings(data) });
  }

  async start() {
    // Inside Mainsail's or Fluidd's dashboard (an iframe webcam): a small tile gets the
    // compact layout (style.css), with a link to the whole panel in a tab of its own.
    let embedded = true;
    try { embedded = window.self !== window.top; } catch { /* a cross-origin parent: embedded */ }
    document.body.classList.toggle("embedded", embedded);
    $("#open-full").href = window.location.href;
    this.bindUi();
    drawGauge($("#gauge"), null);
    this.drawTimeline();
    this.api.on("notify_pinozcam_status", (s) => this.onStatus(s));
    this.api.on("notify_pinozcam_detection", (d) => this.onDetection(d));
    this.api.on("notify_pinozcam_incident", (i) => this.onIncident(i));
    this.api.on("notify_status_update", () => {});
    // Klipper shut down, went away or is back: the component's status says so (klippy_ready).
    for (const event of ["notify_klippy_ready", "notify_klippy_shutdown", "notify_klippy_disconnected"]) {
      this.api.on(event, () => {
        this.klipper.asked = false;
        this.api.get("status").then((s) => this.onStatus(s)).catch(() => {});
      });
    }
    this.api.onConnection = (state, detail) => this.onConnection(state, detail);
    this.api.onServerTime = (ms, receivedAt) => this.clock.observe(ms, receivedAt, { coarse: true });
    try {
      this.statusAnswered(await this.api.get("status"));
    } catch (exc) {
      if (exc.status === 401 || exc.status === 403) { this.needLogin(); return; }
      this.toast(`status: ${exc.message}`, "error");
    }
    this.api.connect();
    await this.loadHistory();   // first: it also tells whether the raw picture can be had
    await Promise.all([this.loadSettings(), this.incidents.load(), this.refreshSnapshot()]);
    // Between prints the worker checks nothing, so its last picture may be old: ask for one check.
    if (!ACTIVE.has(this.printState) && this.status && this.status.worker && this.status.worker.connected) {
      this.api.send("server.pinozcam.detect_now", "detect_now").catch(() => {});
    }
    setInterval(() => this.tick(), 5000);
    new ResizeObserver(() => this.drawTimeline()).observe($("#timeline"));
    document.body.dataset.ready = "1";   // for tests and for the curious
  }

  bindUi() {
    for (const tab of document.querySelectorAll("[data-tab]")) {
      tab.addEventListener("click", () => this.showTab(tab.dataset.tab));
    }
    const tools = $("#frame-tools");
    tools.querySelector('[data-action="detect-now"]').addEventListener("click", () => this.detectNow());
    tools.querySelector('[data-action="edit-masks"]').addEventListener("click", () => this.frame.startEditing());
    tools.querySelector('[data-action="mute"]').addEventListener("click", () => this.mute());
    const maskTools = $("#mask-tools");
    const on = (name, fn) => maskTools.querySelector(`[data-mask="${name}"]`).addEventListener("click", fn);
    on("finish", () => { if (!this.frame.finishPolygon()) this.maskMessage("a shape needs 3 points at least", "error"); });
    on("undo", () => this.frame.undo());
    on("clear", () => this.frame.clearAll());
    on("cancel", () => this.frame.stopEditing());
    on("save", () => this.saveMasks());
    this.frame.onEditChange = () => {
      const editing = !!this.frame.editing;
      maskTools.hidden = !editing;
      tools.hidden = editing;
      if (editing) {
        const e = this.frame.editing;
        this.maskMessage(`${e.polygons.length} shape(s)${e.current.length ? `, ${e.current.length} point(s) placed` : ""}`);
      }
    };
    $("#auth-form").addEventListener("submit", (event) => {
      event.preventDefault();
      saveApiKey($("#auth-key").value.trim());
      // A key or token in the address (a webcam URL's #apikey=...) would win over the pasted
      // key on reload: drop it, or a key reset in Moonraker would ask for a login forever.
      const url = new URL(window.location.href);
      url.hash = "";
      for (const name of ["apikey", "token"]) url.searchParams.delete(name);
      window.location.replace(url.toString());
    });
  }

  showTab(name) {
    for (const tab of document.querySelectorAll("[data-tab]")) tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    for (const panel of document.querySelectorAll("[data-tab-panel]")) panel.hidden = panel.dataset.tabPanel !== name;
    if (name === "live") {
      // Drawn while hidden, the box labels could not be sized for the screen.
      this.frame.render();
      this.drawTimeline();
    }
    if (name === "incidents") this.incidents.load();
  }

  needLogin() {
    // Shown instead of the tabs: nothing in them can load without a login, and a small
    // webcam tile would show only the empty picture above a form scrolled out of view.
    for (const panel of document.querySelectorAll("[data-tab-panel]")) panel.hidden = true;
    $("#auth").hidden = false;
    this.setConnection("login needed", "error");
  }

  /** Moonraker let us in after all (the login was asked for a handshake that failed): the tabs again. */
  loggedIn() {
    if ($("#auth").hidden) return;
    $("#auth").hidden = true;
    const selected = document.querySelector('[data-tab][aria-selected="true"]');
    this.showTab(selected ? selected.dataset.tab : "live");
  }

  onConnection(state, detail) {
    if (state === "open") {
      this.reachable = true;
      this.loggedIn();
      this.setConnection("live", "ok");
      // Catch up on what happened while disconnected: the status says whether the detector
      // is watching (until it comes, the view keeps saying it is not known).
      this.api.get("status").then((s) => this.onStatus(s)).catch(() => this.renderWatching());
      if (document.body.dataset.ready) this.catchUp();
    } else if (state === "auth") {
      this.needLogin();
      if (detail) this.toast(detail, "error");
    } else {
      if (state === "closed") {
        // No notifications come now: the gauge and the picture would go on saying "OK".
        this.reachable = false;
        this.renderWatching();
      }
      this.setConnection(state === "connecting" ? "connecting" : "reconnecting", "warn");
    }
  }

  /**
   * What may have happened while this page was not told (its connection was down): checks
   * went on (the timeline), an incident may have opened (the badge, the cards).
   */
  catchUp() {
    this.loadHistory();
    this.incidents.load();
    if (!this.settings.data) this.loadSettings();
  }

  /** A status Moonraker answered over HTTP: it is reachable (again, after an outage: catch up). */
  statusAnswered(status) {
    const was = this.reachable;
    this.reachable = true;
    this.onStatus(status);
    if (!was && document.body.dataset.ready) this.catchUp();
  }

  setConnection(text, kind) {
    const pill = $("#connection");
    pill.textContent = text;
    pill.className = `pill ${kind}`;
  }

  // -- data in ----------------------------------------------------------------------------
  onStatus(status) {
    const wasConnected = !!(this.status && this.status.worker && this.status.worker.connected);
    this.status = status;
    this.statusAt = Date.now();
    const connected = !!(status.worker && status.worker.connected);
    if (!wasConnected && connected && document.body.dataset.ready) {
      // The detector is (back): what needed it can be fetched now, and the settings it
      // owns (camera, CPU share) are known only once it has started.
      this.incidents.load();
      this.loadHistory();
      this.refreshSnapshot();
      this.loadSettings();
    }
    const detector = status.detector || {};
    const print = detector.print || {};
    const state = status.print_state || print.state || "standby";
    // Without the detector, or before a restarted one is told about the print, the print's
    // file is unknown, not another one.
    const file = ACTIVE.has(print.state) ? print.file || "" : this.timeline.file;
    // A print started (another file, or a start seen after an idle state): a new timeline.
    // The first status after a (re)load has no previous state, so a reload keeps the timeline.
    if (ACTIVE.has(state) && (this.timeline.file !== file || (this.printState !== null && !ACTIVE.has(this.printState)))) {
      this.timeline.printStarted(file);
      if (document.body.dataset.ready) this.loadHistory();
    }
    if (state !== this.printState && this.printState !== null) this.incidents.render();  // resume/cancel buttons follow the print
    const ended = ACTIVE.has(this.printState) && !ACTIVE.has(state);
    this.printState = state;
    if (ended) this.printEnded();
    if (status.klippy_ready !== false) this.klipper = { asked: false, text: "" };
    else if (!this.klipper.asked) this.loadKlipperState();
    this.renderHealth(status);
    this.renderMute(ACTIVE.has(state), !!detector.muted);
    this.renderWatching();
    // An incident that opened or closed while this page was not told (its connection was
    // down): the badge and the cards follow the status, not only the notifications.
    const openId = (status.open_incident && status.open_incident.id) || null;
    if (openId !== this.openIncidentId) {
      this.openIncidentId = openId;
      if (document.body.dataset.ready) this.incidents.load();
    }
    this.showTimelineFile();
    const warnings = status.warnings || [];
    const box = $("#warnings");
    box.hidden = !warnings.length;
    box.replaceChildren(...warnings.map((w) => Object.assign(document.createElement("div"), { textContent: w })));
    this.drawTimeline();
  }

  /**
   * Why nothing is watched now, or "" (watching.js): nothing can be (no connection, no
   * detector, Klipper not ready, detection off, the camera not ok), or a running print has
   * had no check for too long (a hung worker). Checks are due from when nothing stops them.
   */
  notWatchingReason() {
    const blocked = blockedReason(this.status, { reachable: this.reachable, klipper: this.klipper.text,
                                                 lastDetectionAt: this.lastDetectionAt, statusAt: this.statusAt });
    if (blocked || !ACTIVE.has(this.printState)) {
      this.checksDueSince = null;
      return blocked;
    }
    const now = Date.now();
    if (this.checksDueSince === null) this.checksDueSince = now;
    const { reason, wait } = overdue({
      printState: this.printState, now, lastDetectionAt: this.lastDetectionAt, dueSince: this.checksDueSince,
      checkInterval: ((this.settings.data || {}).settings || {}).check_interval ?? null });
    // Looked at again when the next check is overdue (and at every tick).
    clearTimeout(this.overdueTimer);
    if (Number.isFinite(wait)) this.overdueTimer = setTimeout(() => this.renderWatching(), wait + 50);
    return reason;
  }

  /**
   * The gauge, the band dot, the picture and the health list say whether what they show is
   * current: not while nothing is watched (no green "OK" from before): the gauge says NO DATA
   * with the reason, the dot is grey and the picture dimmed.
   */
  renderWatching() {
    const why = this.notWatchingReason();
    const gauge = $("#gauge"), dot = $("#band-dot"), engine = $("#engine-state");
    if (why) {
      this.lastDetection = null;
      drawGauge(gauge, null, this.history.thresholds);
      dot.className = "dot";
      engine.textContent = why;
    } else if (this.lastDetection) {
      const d = this.lastDetection;
      drawGauge(gauge, d.severity, this.history.thresholds);
      dot.className = `dot ${d.band || bandOf(d.severity, this.history.thresholds)}`;
      engine.textContent = `${d.engine_state || ""} · ${d.failures_in_window ?? 0} failure frame(s) in the window`;
    } else {
      // Watching, no check seen yet: the detector's last word, unless it is about another
      // print state than Klipper's (a print that just ended: its last severity is over).
      const detector = (this.status || {}).detector || {};
      const same = ACTIVE.has((detector.print || {}).state) === ACTIVE.has(this.printState);
      const severity = same && typeof detector.severity === "number" ? detector.severity : null;
      drawGauge(gauge, severity, this.history.thresholds);
      dot.className = severity === null ? "dot" : `dot ${bandOf(severity, this.history.thresholds)}`;
      engine.textContent = same ? detector.engine_state || "" : "";
    }
    this.watchProblem = why;
    $("#frame").classList.toggle("stale", !!why);
    $("#health").classList.toggle("stale", !this.reachable);
    this.renderPlaceholder();
  }

  /** Over the picture: why there is none, or why it is not watched (readable over it). */
  renderPlaceholder() {
    const box = $("#frame-placeholder");
    const hasPicture = $("#frame").classList.contains("has-picture");
    const text = this.pictureProblem ? `no picture: ${this.pictureProblem}`
      : this.watchProblem || (hasPicture ? "" : "waiting for a picture…");
    box.textContent = text;
    box.hidden = !text;
  }

  /**
   * The print has ended (printing or paused before): its last check (a failure, say) is over.
   * The gauge, the dot and the boxes go back to the idle look, and one check shows the bed
   * as it is now, as when the panel is opened between prints.
   */
  printEnded() {
    this.lastDetection = null;
    this.frame.clearDetection();
    if (this.status && this.status.worker && this.status.worker.connected) {
      this.api.send("server.pinozcam.detect_now", "detect_now").catch(() => {});
    }
  }

  /** Klipper is not ready: ask Moonraker what it is (shut down, with Klipper's message, or gone). */
  async loadKlipperState() {
    const asked = { asked: true, text: "" };
    this.klipper = asked;
    try {
      const server = await this.api.get("/server/info");
      // Klipper's own info only while it is connected: without it the endpoint answers 404.
      const info = klipperHasMessage(server) ? await this.api.get("/printer/info").catch(() => ({})) : {};
      asked.text = describeKlipper(server, info);
    } catch {
      asked.text = "";   // Moonraker did not say: "not ready"
    }
    if (this.klipper !== asked || !this.status || this.status.klippy_ready !== false) return;
    this.renderHealth(this.status);
    this.renderWatching();
  }

  onDetection(detection) {
    this.lastDetection = detection;
    this.lastDetectionAt = Date.now();
    // Checks carry the printer's time: the timeline's "now" follows it.
    if (typeof detection.time === "number") this.clock.observe(detection.time * 1000);
    this.frame.detection(detection);
    this.renderWatching();
    if (ACTIVE.has(this.printState)) {
      this.timeline.add((detection.time ? detection.time * 1000 : this.clock.now()), detection.severity);
      this.drawTimelineSoon();
    }
    this.refreshSnapshot({ afterCheck: true });
  }

  onIncident(message) {
    const incident = message.incident || {};
    if (message.event === "opened") {
      this.openIncidentId = message.incident_id;   // the status that follows needs no second load
      this.liveIncidents.push({ t: (incident.opened_at ? incident.opened_at * 1000 : this.clock.now()), id: message.incident_id, band: incident.band });
      this.toast(`incident opened: ${message.action || "alert"} (severity ${(incident.severity || 0).toFixed(2)})`, "error");
    } else if (message.event === "closed" && message.incident_id === this.openIncidentId) {
      this.openIncidentId = null;
    }
    this.incidents.load();
    this.drawTimeline();
  }

  /** (Re)load the settings form; the masks and the box hold follow what was loaded. */
  async loadSettings() {
    if (await this.settings.load()) this.applySettings(this.settings.data);
  }

  applySettings(data) {
    const settings = data.settings || {};
    this.frame.setMasks(settings.masks || []);
    if (typeof settings.failure_box_hold === "number") this.frame.holdMs = settings.failure_box_hold * 1000;
  }

  // -- views ------------------------------------------------------------------------------
  renderHealth(status) {
    const rows = healthRows(status, { klipper: this.klipper.text });
    const list = $("#health");
    list.replaceChildren();
    for (const [name, value, kind] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dd.dataset.health = name.toLowerCase().replace(/\s+/g, "-");
      if (kind) dd.className = kind;
      list.append(dt, dd);
    }
  }

  /**
   * Ask the worker for the print's severity history (the current print, or the last one) and
   * draw it: a panel opened after an incident shows what led to it. Once at a time.
   */
  loadHistory() {
    if (this.history.loading) return this.history.loading;
    const worker = (this.status || {}).worker || {};
    // Without the detector it would only fail; asked again once it connects (onStatus).
    if (!worker.connected) return Promise.resolve();
    this.history.loading = this.api.get("history").then((history) => {
      this.setHistoryAvailable(true);
      this.applyHistory(history || {});
    }).catch((exc) => {
      // 404: a component older than the history endpoint; other errors: it exists.
      if (exc.status === 404) this.setHistoryAvailable(false);
      else if (exc.status) this.setHistoryAvailable(true);
    }).finally(() => { this.history.loading = null; });
    return this.history.loading;
  }

  setHistoryAvailable(available) {
    const changed = this.history.available !== available;
    this.history.available = available;
    // Without the history endpoint the snapshot is the annotated one: its boxes are drawn already.
    this.frame.drawBoxes = available;
    this.frame.render();
    if (changed && available === false && document.body.dataset.ready) this.refreshSnapshot();
  }

  applyHistory(history) {
    const t = history.thresholds || {};
    if (typeof t.warning === "number" && typeof t.failure === "number") this.history.thresholds = { warning: t.warning, failure: t.failure };
    // Incident events (opened, escalated, closed): a marker where each incident opened.
    this.history.incidents = (Array.isArray(history.incidents) ? history.incidents : [])
      .filter((i) => i && typeof i.time === "number" && i.kind === "opened")
      .map((i) => ({ t: i.time * 1000, id: i.id, band: "failure" }));
    // No print since the worker started: what this browser recorded stays.
    if (history.print) {
      // Klipper's start of the print (the component's status) bounds what this browser kept
      // from before the worker's first point; the worker's own start is later after a restart.
      const klipper = (this.status || {}).print_started_at;
      const started = typeof klipper === "number" ? klipper * 1000 - 5000
        : typeof history.print.started === "number" ? history.print.started * 1000 : -Infinity;
      this.timeline.replace(history.print.file, historyPoints(history.points), started);
    }
    this.showTimelineFile();
    this.drawTimeline();
  }

  showTimelineFile() {
    const active = ACTIVE.has(this.printState);
    const file = this.timeline.file;
    const label = $("#timeline-file");
    label.textContent = active ? file : file && this.timeline.points.length ? `last print: ${file}` : "no print running";
    label.title = label.textContent;   // a long name is cut short on screen (style.css)
  }

  drawTimeline() {
    const svg = $("#timeline");
    if (!svg || svg.closest("[hidden]")) return;
    const fromList = (this.incidents.incidents || []).filter((i) => typeof i.opened_at === "number")
      .map((i) => ({ t: i.opened_at * 1000, id: i.id, band: i.band }));
    const all = new Map();
    for (const incident of [...this.history.incidents, ...fromList, ...this.liveIncidents]) {
      if (!all.has(incident.id)) all.set(incident.id, incident);
    }
    drawTimeline(svg, this.timeline.points, [...all.values()],
                 { now: this.clock.now(), live: ACTIVE.has(this.printState), thresholds: this.history.thresholds });
  }

  drawTimelineSoon() {
    if (this.timelineTimer) return;
    this.timelineTimer = setTimeout(() => { this.timelineTimer = null; this.drawTimeline(); }, 500);
  }

  showIncidentCount() {
    const open = (this.incidents.incidents || []).filter((i) => i.state === "open").length;
    const count = $("#incident-count");
    count.hidden = !this.incidents.incidents.length;
    // "open" is dropped on narrow screens (style.css): the red badge says it.
    const word = document.createElement("span");
    word.className = "count-word";
    word.textContent = " open";
    count.replaceChildren(String(open || this.incidents.incidents.length), ...(open ? [word] : []));
    count.title = open ? `${open} open` : `${this.incidents.incidents.length} incident(s)`;
    count.classList.toggle("open", open > 0);
    this.drawTimeline();
  }

  /** Why no picture can be had now (then none is asked for: it would only fail), or "". */
  noPictureReason() {
    const status = this.status || {};
    const worker = status.worker || {};
    if (!this.reachable) return "no connection to Moonraker";
    if (!worker.connected) return `detector ${worker.state || "not connected"}${worker.problem ? `: ${worker.problem}` : ""}`;
    const camera = cameraProblem(status, { lastDetectionAt: this.lastDetectionAt, statusAt: this.statusAt });
    return camera ? `camera ${camera}` : "";
  }

  async refreshSnapshot({ afterCheck = false } = {}) {
    if (this.snapshot.busy || document.visibilityState === "hidden") return;
    const reason = afterCheck ? "" : this.noPictureReason();
    if (reason) {
      this.pictureProblem = reason;
      this.renderPlaceholder();
      return;
    }
    this.snapshot.busy = true;
    try {
      // The raw picture: the boxes are drawn over it here, filtered by the display threshold.
      const raw = this.history.available === false ? undefined : 1;
      this.frame.showPicture(await this.api.picture("snapshot", { raw, t: Date.now() }));
      this.pictureProblem = "";
    } catch (exc) {
      this.pictureProblem = exc.message;
    } finally {
      this.renderPlaceholder();
      this.snapshot.busy = false;
      this.snapshot.last = Date.now();
    }
  }

  tick() {
    // Between checks (no print running) the picture is refreshed slowly; the websocket may be
    // down, so the status is polled then too.
    if (Date.now() - (this.lastDetectionAt || 0) > 5000) this.refreshSnapshot();
    if (!this.api.ws) {
      this.api.get("status").then((s) => this.statusAnswered(s)).catch(() => {
        this.reachable = false;
        this.renderWatching();
      });
    }
    if (!this.settings.data) this.loadSettings();   // refused at start (Moonraker starting)
    this.renderWatching();   // a running print whose checks stopped coming
    this.drawTimeline();
  }

  // -- actions ----------------------------------------------------------------------------
  async detectNow() {
    try {
      await this.api.send("server.pinozcam.detect_now", "detect_now");
      $("#frame-hint").textContent = "checking…";
      setTimeout(() => { $("#frame-hint").textContent = ""; }, 2000);
    } catch (exc) {
      this.toast(`check now: ${exc.message}`, "error");
    }
  }

  // One button: "Mute this print", or "Unmute" while this print is muted (a "False alarm:
  // resume and mute" pressed by mistake must not leave the rest of the print unguarded).
  renderMute(usable, muted) {
    const button = document.querySelector('[data-action="mute"]');
    button.disabled = !usable;
    button.dataset.muted = muted ? "true" : "false";
    button.textContent = muted ? "Unmute" : "Mute this print";
    button.title = muted ? "alerts, pause and cancel on again for this print"
      : "no alerts and no pause or cancel until this print ends";
  }

  async mute() {
    const muted = document.querySelector('[data-action="mute"]').dataset.muted !== "true";
    try {
      await this.api.send("server.pinozcam.mute", "mute", { muted });
      this.toast(muted ? "muted until this print ends" : "unmuted: watching again", "ok");
    } catch (exc) {
      this.toast(`${muted ? "mute" : "unmute"}: ${exc.message}`, "error");
    }
  }

  maskMessage(text, kind = "") {
    const out = $("#mask-message");
    out.textContent = text;
    out.className = `group-message ${kind}`;
  }

  async saveMasks() {
    const masks = this.frame.editedMasks();
    try {
      const data = await this.api.send("server.pinozcam.post_settings", "settings", { settings: { masks: masks.length ? masks : null } });
      this.frame.stopEditing();
      this.applySettings(data);
      this.settings.fill(data);
      this.toast(masks.length ? `${masks.length} mask(s) saved` : "masks removed", "ok");
    } catch (exc) {
      this.maskMessage(exc.message, "error");
    }
  }

  toast(message, kind = "") {
    const box = $("#toast");
    box.textContent = message;
    box.className = `toast ${kind}`;
    box.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }
}

new Panel().start();
