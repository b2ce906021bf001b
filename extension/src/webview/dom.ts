// What every panel page draws with: elements whose text is set with textContent, never parsed as
// markup (helper data is text; invariant 5).

/** A `tag` element holding `text` as text, with `className` when given. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) {
    node.textContent = text;
  }
  if (className) {
    node.className = className;
  }
  return node;
}
