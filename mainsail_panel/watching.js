// Whether the panel may say that a print is watched, from what the page knows (pure: no DOM,
// no requests, no clock of its own). A green "OK" must never stay up while nothing checks
// the print: detection off, the camera not ok, Klipper not ready, the detector gone or hung.

// What the worker's camera health says before its first frame: not known yet, not offline.
export const NO_FRAME_YET = "no frame yet";

const ACTIVE = new Set(["printing", "paused"]);

/**
 * How long a running print may go without a check before nothing counts as watched (a hung
 * worker: the component declares it so only after worker_timeout, 60 s by default): three
 * check intervals and some slack for a slow Pi; ms. `checkInterval` in seconds.
 */
export function checkOverdueAfter(checkInterval) {
  return (3 * checkInterval + 10) * 1000;
}

/**
 * What is wrong with the camera in `status` ("offline: ...", "frozen: ..."), or "": ok, or no
 * frame yet. A check needs a frame: one that came (`lastDetectionAt`) after the status
 * (`statusAt`) says an offline camera answers again; the worker's next status says so up to
 * 10 s later.
 */
export function cameraProblem(status, { lastDetectionAt = 0, statusAt = 0 } = {}) {
  const camera = ((status || {}).detector || {}).camera || {};
  if (!camera.state || camera.state === "ok" || camera.message === NO_FRAME_YET) return "";
  if (camera.state === "offline" && lastDetectionAt > statusAt) return "";
  return `${camera.state}${camera.message && camera.message !== camera.state ? `: ${camera.message}` : ""}`;
}

/**
 * Why nothing can be watched now, or "": this page cannot reach Moonraker (`reachable`), the
 * detector is not connected, Klipper is not ready (`klipper`: what Moonraker said of it, if
 * anything), detection is off, or the camera is not ok. `status`: the component's status.
 */
export function blockedReason(status, { reachable, klipper = "", lastDetectionAt = 0, statusAt = 0 }) {
  status = status || {};
  if (!reachable) return "no connection to Moonraker: reconnecting…";
  if (!(status.worker && status.worker.connected)) return "not watching: the detector is not connected";
  if (status.klippy_ready === false) return `not watching: Klipper ${klipper || "is not ready"}`;
  if (status.enabled === false) {
    return `not watching: detection is off${status.disabled_until === "print_end" ? " for this print" : ""}`;
  }
  const camera = cameraProblem(status, { lastDetectionAt, statusAt });
  return camera ? `not watching: camera ${camera}` : "";
}

/**
 * While a print runs (`printState`), checks are due since `dueSince` (ms, when nothing else
 * stopped them): {reason: "" while they come, else how long none has; wait: ms until the
 * next one is overdue}. `checkInterval`: seconds (null until the settings have loaded: the
 * worker's default, 1 s).
 */
export function overdue({ printState, now, lastDetectionAt = 0, dueSince, checkInterval = null }) {
  if (!ACTIVE.has(printState)) return { reason: "", wait: Infinity };
  const limit = checkOverdueAfter(typeof checkInterval === "number" ? checkInterval : 1);
  const quiet = now - Math.max(lastDetectionAt, dueSince);
  if (quiet > limit) return { reason: `not watching: no check for ${Math.round(quiet / 1000)} s`, wait: Infinity };
  return { reason: "", wait: limit - quiet };
}

/**
 * Klipper's state in words, from Moonraker's `/server/info` and, while Klipper is connected
 * and shut down or in error, its `/printer/info` (its message's first line).
 */
export function describeKlipper(serverInfo, printerInfo = {}) {
  if (!serverInfo.klippy_connected) return "not connected";
  // "ready" here while the component has not seen it yet (it subscribes first).
  const state = serverInfo.klippy_state === "ready" ? "starting" : serverInfo.klippy_state || "not ready";
  const message = String((printerInfo || {}).state_message || "").split("\n")[0].trim();
  return `${state}${message ? `: ${message}` : ""}`;
}

/** Whether Klipper's own message is worth asking for (`/printer/info`) given `/server/info`. */
export function klipperHasMessage(serverInfo) {
  return !!serverInfo.klippy_connected && ["shutdown", "error"].includes(serverInfo.klippy_state);
}
