// The health list's rows, from the component's status (pure: the panel renders them).

import { NO_FRAME_YET } from "./watching.js";

/**
 * [name, value, kind] for each row of the health list: kind "ok", "warn", "error" or "" (no
 * dot). `status`: the component's status; `klipper`: what Moonraker said of a Klipper that is
 * not ready ("shutdown: ...", "not connected"), if anything.
 */
export function healthRows(status, { klipper = "" } = {}) {
  const d = status.detector || {};
  const worker = status.worker || {};
  const camera = d.camera || {};
  const print = d.print || {};
  const model = d.model || status.model || {};
  const num = (v, digits = 0) => (typeof v === "number" ? v.toFixed(digits) : "–");
  // Before the first frame the camera is not known yet (the picture may be on screen already).
  const cameraText = camera.message === NO_FRAME_YET ? "waiting for the first frame"
    : `${camera.state || "unknown"}${camera.message && camera.message !== camera.state ? `: ${camera.message}` : ""}`;
  const rows = [
    ["Detection", status.enabled ? (d.muted ? "on, muted this print" : "on")
      : status.disabled_until === "print_end" ? "off for this print" : "off", status.enabled ? (d.muted ? "warn" : "ok") : "warn"],
    ["Worker", `${worker.state || "?"}${worker.restarts ? `, ${worker.restarts} restart(s)` : ""}${worker.problem ? `: ${worker.problem}` : ""}`,
     worker.state === "connected" ? "ok" : worker.state === "error" ? "error" : "warn"],
    ["Camera", cameraText, camera.state === "ok" ? "ok" : "warn"],
    ["Inference", `${num(d.inference_ms, 1)} ms`, ""],
    ["Checks", `${num(d.checks_per_minute)} / min${d.dropped_frames ? `, ${d.dropped_frames} dropped` : ""}`, ""],
    ["Print", `${status.print_state || "?"}${print.file ? ` · ${print.file}` : ""}${typeof print.progress === "number" ? ` · ${Math.round(print.progress * 100)}%` : ""}`, ""],
    ["Model", model.name ? `${model.name} ${model.version || ""}` : "–", ""],
  ];
  if (typeof status.klippy_ready === "boolean") {
    // Shut down (an emergency stop, an MCU error) or gone: no print can be paused.
    rows.splice(3, 0, ["Klipper", status.klippy_ready ? "ready" : klipper || "not ready",
                       status.klippy_ready ? "ok" : "error"]);
  }
  const buttons = d.telegram_buttons || {};
  if (buttons.state && buttons.state !== "off") {
    rows.push(["Telegram buttons", buttons.state === "ok" ? "ok" : `${buttons.state}: ${buttons.message || ""}`,
               buttons.state === "ok" ? "ok" : "error"]);
  }
  // A deleted webhook or a bot removed from its group: alerts fail in silence otherwise.
  // A sent alert with an error went out, but not where asked (a Telegram topic that is gone).
  for (const [channel, last] of Object.entries(d.notifications || {})) {
    if (!last || (last.ok !== false && !(last.ok && last.error))) continue;
    const name = channel === "telegram" ? "Telegram" : channel === "discord" ? "Discord" : channel;
    rows.push([name, `last ${last.kind || "alert"} ${last.status || "failed"}: ${last.error || ""}`,
               last.ok ? "warn" : "error"]);
  }
  const storage = d.incident_storage || {};
  if (storage.state === "error") {
    // Pauses and alerts still work; only the incident pictures and records are not saved.
    rows.push(["Incident folder", `not writable: ${storage.message || ""}`, "error"]);
  }
  if (status.last_action) {
    const a = status.last_action;
    rows.push(["Last action", `${a.action} ${a.result}${a.reason ? `: ${a.reason}` : ""}`, a.result === "done" ? "ok" : "error"]);
  }
  return rows;
}
