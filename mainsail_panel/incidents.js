// Incident cards: picture, when, severity, what was done, and the user's buttons
// (resume / cancel the print while it is paused, label it a real failure or a false alarm).

import { h } from "./dom.js";

/**
 * "12:04:31" today, else "3 Mar 12:04:31". `seconds`: Unix time; `now`: the printer's time now
 * (a Date), which stamped `seconds` and may be hours off this browser's clock.
 */
export function when(seconds, now = new Date()) {
  if (typeof seconds !== "number") return "";
  const date = new Date(seconds * 1000);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (date.toDateString() === now.toDateString()) return time;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

export class IncidentList {
  /**
   * `now`: the printer's time, ms (PrinterClock.now): the worker stamps incidents with the
   * printer's clock, so "today" is the printer's today, not this browser's.
   */
  constructor(root, api, { toast = () => {}, printState = () => "standby", unavailable = () => "",
                           now = () => Date.now() } = {}) {
    this.unavailable = unavailable;   // why the list cannot be asked for now ("" when it can)
    this.now = now;
    this.root = root;
    this.api = api;
    this.toast = toast;
    this.printState = printState;
    this.incidents = [];
    this.thumbs = new Map();    // incident id -> object URL
    this.onChange = () => {};
  }

  async load() {
    const reason = this.unavailable();
    if (reason) { this.render(reason); return; }  // asking would only fail (and log an error)
    try {
      const result = await this.api.get("incidents", { limit: 30 });
      this.incidents = result.incidents || [];
    } catch (exc) {
      this.incidents = [];
      this.render(exc.message);
      return;
    }
    this.render();
    this.onChange(this.incidents);
  }

  render(problem = "") {
    this.root.replaceChildren();
    if (problem) { this.root.append(h("p", { class: "empty", text: `incidents unavailable: ${problem}` })); return; }
    if (!this.incidents.length) { this.root.append(h("p", { class: "empty", text: "No incidents. PiNozCam has not seen a failure." })); return; }
    for (const incident of this.incidents) this.root.append(this.card(incident));
  }

  card(incident) {
    const open = incident.state === "open";
    const paused = this.printState() === "paused";
    const card = h("article", { class: `incident card ${incident.band || ""}${open ? " open" : ""}`, "data-incident": incident.id });
    const img = h("img", { class: "thumb", alt: `incident ${incident.id}`, loading: "lazy" });
    const link = h("a", { class: "thumb-link", href: "#", title: "open the picture" }, img);
    link.addEventListener("click", (event) => { event.preventDefault(); if (img.src) window.open(img.src, "_blank"); });
    this.thumb(incident.id, img);
    const severity = typeof incident.severity === "number" ? incident.severity.toFixed(2) : "–";
    const action = incident.action ? `${incident.action}${incident.action_state ? ` (${incident.action_state})` : ""}` : "alert only";
    const file = incident.print && incident.print.file ? incident.print.file : "";
    const info = h("div", { class: "info" },
      h("div", { class: "title" },
        h("span", { class: `badge ${incident.band || "failure"}`, text: open ? "OPEN" : (incident.band || "failure").toUpperCase() }),
        h("span", { text: ` ${when(incident.opened_at, new Date(this.now()))}` })),
      h("div", { class: "meta", text: `severity ${severity} · ${action}` }),
      file ? h("div", { class: "meta file", text: file, title: file }) : null,
      incident.label ? h("div", { class: `label ${incident.label}`, text: incident.label === "false_alarm" ? "marked: false alarm" : "marked: real failure" }) : null);
    const buttons = h("div", { class: "buttons" });
    const resume = h("button", { type: "button", "data-action": "resume", class: "primary", text: "Resume", disabled: !(open && paused) || null,
                                 title: "resume the paused print" });
    resume.addEventListener("click", () => this.printerAction("resume", resume));
    const cancel = h("button", { type: "button", "data-action": "cancel", class: "danger", text: "Cancel print",
                                 disabled: !(open && ["paused", "printing"].includes(this.printState())) || null });
    cancel.addEventListener("click", () => {
      // Two steps instead of confirm(): dialogs are blocked in some iframes.
      if (cancel.dataset.armed) this.printerAction("cancel", cancel);
      else { cancel.dataset.armed = "1"; cancel.textContent = "Really cancel?"; setTimeout(() => { delete cancel.dataset.armed; cancel.textContent = "Cancel print"; }, 4000); }
    });
    const real = h("button", { type: "button", "data-action": "real_failure", text: "Real failure", "aria-pressed": String(incident.label === "real_failure") });
    real.addEventListener("click", () => this.feedback(incident, "real_failure", real));
    const falseAlarm = h("button", { type: "button", "data-action": "false_alarm", text: "False alarm", "aria-pressed": String(incident.label === "false_alarm") });
    falseAlarm.addEventListener("click", () => this.feedback(incident, "false_alarm", falseAlarm));
    if (open) buttons.append(resume, cancel);  // a closed incident has no print to act on
    buttons.append(real, falseAlarm);
    card.append(link, info, buttons);
    return card;
  }

  async thumb(id, img) {
    if (this.thumbs.has(id)) { img.src = this.thumbs.get(id); return; }
    try {
      const url = await this.api.picture("incident_picture", { id, frame: "annotated" });
      this.thumbs.set(id, url);
      img.src = url;
    } catch (exc) {
      img.alt = `no picture (${exc.message})`;
    }
  }

  async printerAction(action, button) {
    button.disabled = true;
    try {
      await this.api.send(`printer.print.${action}`, `/printer/print/${action}`);
      this.toast(action === "resume" ? "print resumed" : "print cancelled", "ok");
    } catch (exc) {
      this.toast(`${action}: ${exc.message}`, "error");
      button.disabled = false;
    }
  }

  async feedback(incident, label, button) {
    button.disabled = true;
    try {
      await this.api.send("server.pinozcam.feedback", "feedback", { label, incident_id: incident.id });
      incident.label = label;
      this.toast(label === "false_alarm" ? "marked as a false alarm (kept for retraining)" : "marked as a real failure", "ok");
      this.render();
    } catch (exc) {
      this.toast(`feedback: ${exc.message}`, "error");
      button.disabled = false;
    }
  }
}
