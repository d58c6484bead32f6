// The one DOM helper the panel's modules share.

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
