// The settings form: a few groups of options, saved through POST /server/pinozcam/settings.
//
// The server is the authority on what is valid: its message (which names the option) is shown
// next to that field. Options set in moonraker.conf are locked: shown, not editable.

import { ApiError } from "./api.js";
import { h } from "./dom.js";

const REDACTED = "<redacted>";

/** The fields shown, by group. kind: select | number | text | secret | bool. */
export const GROUPS = [
  { id: "detection", title: "Detection", fields: [
    { name: "enabled", label: "Watch prints", kind: "bool" },
    { name: "preset", label: "Preset", kind: "select",
      choices: ["nozzlecam", "webcam", "strictest", "strict", "medium", "loose", "loosest"],
      help: "strictest raises alarms most eagerly; any threshold set below overrides the preset" },
    { name: "action", label: "On a failure", kind: "select", choices: ["notify", "pause", "cancel"] },
    { name: "score_threshold", label: "Score threshold", kind: "number", optional: true, help: "0..1; empty: from the preset" },
    { name: "image_sensitivity", label: "Image sensitivity", kind: "number", optional: true, help: "share of the picture for full severity; lower is more sensitive" },
    { name: "display_threshold", label: "Display threshold", kind: "number", optional: true, help: "boxes at or above this are drawn" },
    { name: "max_failure_count", label: "Failure frames", kind: "number", optional: true, integer: true, help: "failure frames within the window that open an incident" },
    { name: "consider_time", label: "Window (s)", kind: "number", optional: true },
  ] },
  { id: "notify", title: "Notifications", fields: [
    { name: "discord_webhook_url", label: "Discord webhook URL", kind: "secret" },
    { name: "telegram_bot_token", label: "Telegram bot token", kind: "secret" },
    { name: "telegram_chat_id", label: "Telegram chat id", kind: "text" },
    { name: "telegram_topic_id", label: "Telegram topic id", kind: "number", integer: true,
      help: "a forum group's topic to post in (the number a topic link ends with); 0: the chat itself" },
    { name: "printer_name", label: "Printer name", kind: "text" },
    { name: "notify_interval", label: "Least seconds between alerts", kind: "number" },
  ] },
  { id: "performance", title: "Camera and CPU", fields: [
    { name: "camera", label: "Camera", kind: "text", help: "a Moonraker [webcam] name, a snapshot or MJPEG URL, a camera device (/dev/video0) or a folder of pictures; empty: the first webcam" },
    { name: "cpu_share", label: "CPU share", kind: "number", help: "0..1 of the cores for the model; changing it restarts the detector" },
    { name: "check_interval", label: "Seconds between checks", kind: "number" },
  ] },
];

/** The value to send for `field` from its input's text, or an error message. */
export function parseField(field, raw) {
  if (field.kind === "bool") return { value: !!raw };
  const text = String(raw ?? "").trim();
  if (field.kind === "number") {
    if (text === "") return field.optional ? { value: null } : { error: "a number is needed" };
    // A decimal comma, as typed in most of Europe (and offered by a phone's decimal keypad).
    const value = Number(/^[-+]?\d*,\d+$/.test(text) ? text.replace(",", ".") : text);
    if (!Number.isFinite(value)) return { error: `'${text}' is not a number` };
    if (field.integer && !Number.isInteger(value)) return { error: "a whole number is needed" };
    return { value };
  }
  return { value: text };
}

/** Put the saved `value` of `field` into its `input` (a secret only says whether one is saved). */
function showValue(field, input, value) {
  if (field.kind === "bool") input.checked = !!value;
  else if (field.kind === "secret") {
    input.value = "";
    delete input.dataset.clear;
    input.placeholder = value === REDACTED ? "saved (hidden); type to replace" : "not set";
  } else input.value = value === null || value === undefined ? "" : String(value);
}

export class SettingsForm {
  constructor(root, api, { onSaved = () => {}, toast = () => {} } = {}) {
    this.root = root;
    this.api = api;
    this.onSaved = onSaved;
    this.toast = toast;
    this.data = null;
    this.inputs = new Map();
    this.build();
  }

  build() {
    this.root.replaceChildren();
    for (const group of GROUPS) {
      const form = h("form", { class: "card settings-group", "data-group": group.id, novalidate: true });
      form.append(h("h3", { text: group.title }));
      for (const field of group.fields) form.append(this.fieldRow(field));
      const actions = h("div", { class: "actions" });
      // Disabled until the saved settings are loaded: a form saved without them would send
      // its blank defaults (watching off, another preset) over the user's settings.
      const save = h("button", { type: "submit", class: "primary", "data-save": group.id, text: "Save", disabled: true });
      actions.append(save);
      if (group.id === "notify") {
        const test = h("button", { type: "button", "data-action": "test-notification", text: "Send test" });
        test.addEventListener("click", () => this.sendTest(test));
        actions.append(test);
      }
      const message = h("span", { class: "group-message", role: "status", text: "loading the saved settings…" });
      actions.append(message);
      form.append(actions);
      form.addEventListener("submit", (event) => { event.preventDefault(); this.save(group, save, message); });
      this.root.append(form);
    }
    this.restartNote = h("p", { class: "restart-note", hidden: true });
    this.root.append(this.restartNote);
  }

  fieldRow(field) {
    const id = `setting-${field.name}`;
    let input;
    if (field.kind === "select") {
      input = h("select", { id, name: field.name });
      for (const choice of field.choices) input.append(h("option", { value: choice, text: choice }));
    } else if (field.kind === "bool") {
      input = h("input", { id, name: field.name, type: "checkbox" });
    } else {
      input = h("input", { id, name: field.name, type: field.kind === "secret" ? "password" : "text",
                           autocomplete: "off", spellcheck: "false",
                           inputmode: field.kind === "number" ? "decimal" : null });
    }
    const label = h("label", { for: id, text: field.label });
    const lock = h("span", { class: "lock", title: "set in moonraker.conf, which wins over the panel", text: "set in moonraker.conf", hidden: true });
    const error = h("div", { class: "field-error", id: `${id}-error`, role: "alert" });
    const help = field.help ? h("div", { class: "help", text: field.help }) : null;
    const row = h("div", { class: `field ${field.kind}`, "data-field": field.name }, label, lock, input, help, error);
    if (field.kind === "secret") {
      const clear = h("button", { type: "button", class: "small", text: "Clear", title: "remove the saved value",
                                  "aria-label": `Clear the saved ${field.label}` });
      clear.addEventListener("click", () => { input.value = ""; input.dataset.clear = "1"; input.placeholder = "will be removed on save"; });
      clear.dataset.clear = "1";
      row.insertBefore(clear, help || error);
    }
    const entry = { field, input, row, error, lock, edited: false };
    const edited = () => {
      // Typed by the user: kept when the form is refilled (another group saved, a reconnect).
      entry.edited = true;
      // Typing a new secret after "Clear" replaces the saved one instead of removing it.
      if (field.kind === "secret" && input.value) delete input.dataset.clear;
      this.setError(field.name, "");
    };
    input.addEventListener("input", edited);
    input.addEventListener("change", edited);
    this.inputs.set(field.name, entry);
    return row;
  }

  /** Load the saved settings; true when they came. Asked again on each reconnect until they do. */
  async load() {
    try {
      this.fill(await this.api.get("settings"));
      this.loadError = null;
      return true;
    } catch (exc) {
      if (!this.data) {
        for (const message of this.root.querySelectorAll(".group-message")) {
          message.textContent = `settings not loaded: ${exc.message}`;
          message.className = "group-message error";
        }
      }
      // Said once, not at every retry.
      if (this.loadError !== exc.message) this.toast(`settings: ${exc.message}`, "error");
      this.loadError = exc.message;
      return false;
    }
  }

  /** Show `data` (GET/POST settings). Fields the user has edited keep what was typed. */
  fill(data) {
    const first = !this.data;
    this.data = data;
    const locked = new Set(data.locked || []);
    for (const [name, entry] of this.inputs) {
      const { field, input, row, lock } = entry;
      const value = data.settings ? data.settings[name] : undefined;
      const isLocked = locked.has(name);
      // Unsaved input stays as typed; a locked field cannot be saved, so it shows the file's value.
      if (isLocked) entry.edited = false;
      if (!entry.edited) showValue(field, input, value);
      if (field.optional && (value === null || value === undefined)) input.placeholder = "from the preset";
      input.disabled = isLocked;
      lock.hidden = !isLocked;
      if (isLocked && field.kind === "secret") input.placeholder = value === REDACTED ? "set (hidden)" : "not set";
      const clear = row.querySelector("button[data-clear]");
      if (clear) clear.hidden = isLocked;
      row.classList.toggle("locked", isLocked);
      if (!entry.edited) this.setError(name, "");
    }
    if (first) {
      for (const button of this.root.querySelectorAll("button[data-save]")) button.disabled = false;
      for (const message of this.root.querySelectorAll(".group-message")) {
        message.textContent = "";
        message.className = "group-message";
      }
    }
    const restart = data.restart_needed || [];
    this.restartNote.hidden = !restart.length;
    this.restartNote.textContent = restart.length ? `The detector restarts to apply: ${restart.join(", ")}` : "";
  }

  setError(name, message) {
    const entry = this.inputs.get(name);
    if (!entry) return;
    entry.error.textContent = message;
    entry.row.classList.toggle("invalid", !!message);
    entry.input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  /** Changed, unlocked fields of `group` as {option: value}; null if a field is invalid. */
  changes(group) {
    const out = {};
    let valid = true;
    const locked = new Set((this.data && this.data.locked) || []);
    for (const field of group.fields) {
      if (locked.has(field.name)) continue;
      const { input } = this.inputs.get(field.name);
      const current = this.data && this.data.settings ? this.data.settings[field.name] : undefined;
      if (field.kind === "secret") {
        if (input.dataset.clear) out[field.name] = null;
        else if (input.value.trim()) out[field.name] = input.value.trim();
        continue;
      }
      const before = current === undefined ? null : current;
      // A required number the server has no value for (the detector has not started yet, e.g.
      // no camera configured) and the user left empty: unchanged, not an error.
      if (field.kind === "number" && !field.optional && before === null && !input.value.trim()) continue;
      const parsed = parseField(field, field.kind === "bool" ? input.checked : input.value);
      if (parsed.error) { this.setError(field.name, parsed.error); valid = false; continue; }
      if (parsed.value === before || (parsed.value === "" && before === null)) continue;
      out[field.name] = parsed.value === "" ? null : parsed.value;
    }
    return valid ? out : null;
  }

  async save(group, button, message) {
    message.textContent = "";
    message.className = "group-message";
    if (!this.data) { message.textContent = "settings not loaded yet"; message.classList.add("error"); return; }
    const changes = this.changes(group);
    if (changes === null) return;
    if (!Object.keys(changes).length) { message.textContent = "nothing changed"; return; }
    button.disabled = true;
    try {
      const data = await this.api.send("server.pinozcam.post_settings", "settings", { settings: changes });
      // This group now shows what was saved; the other groups keep what was typed in them.
      for (const field of group.fields) this.inputs.get(field.name).edited = false;
      this.fill(data);
      message.textContent = "saved";
      message.classList.add("ok");
      this.onSaved(data);
    } catch (exc) {
      const option = exc instanceof ApiError ? exc.option : null;
      if (option && this.inputs.has(option)) this.setError(option, exc.message);
      else { message.textContent = exc.message; message.classList.add("error"); }
    } finally {
      button.disabled = false;
    }
  }

  async sendTest(button) {
    const out = this.root.querySelector('[data-group="notify"] .group-message');
    button.disabled = true;
    out.className = "group-message";
    out.textContent = "sending…";
    try {
      const result = await this.api.send("server.pinozcam.test_notification", "test_notification");
      const parts = (result.results || []).map((r) => `${r.channel}: ${r.detail}`);
      out.textContent = parts.length ? parts.join("; ") : "no channel configured";
      out.classList.add(result.ok && parts.length ? "ok" : "error");
    } catch (exc) {
      out.textContent = exc.message;
      out.classList.add("error");
    } finally {
      button.disabled = false;
    }
  }
}
