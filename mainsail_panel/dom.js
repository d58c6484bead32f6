// The DOM helpers the panel's modules share.

/** `h("button", {class: "x", text: "Go"}, child...)`: an element with attributes and children.
 * `class` sets className, `text` sets textContent; false/null/undefined attributes are skipped. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** `window.localStorage` (or `sessionStorage`), or null where the browser refuses it: a page in
 * an iframe of another origin (Mainsail on port 80, the panel on Moonraker's 7125) with
 * third-party storage blocked throws on the mere read of the property. */
export function browserStorage(name = "localStorage") {
  try { return window[name]; } catch { return null; }
}
