// Turning helper data into text for the editor's widgets. Helper text is data, never markup:
// the few widgets that interpret their text (quick-pick labels render `$(icon)`, notifications
// render `[label](link)`) get it neutralised here. Pure: no `vscode` import.

const ZERO_WIDTH_SPACE = "\u200b";

/** A value from a params or metrics file as a person reads it (numbers rounded to 4 significant digits). */
export function formatValue(value: unknown): string {
  if (typeof value === "number") {
    if (Number.isInteger(value) || !Number.isFinite(value)) {
      return String(value);
    }
    return String(Number(value.toPrecision(4)));
  }
  if (typeof value === "string") {
    return value;
  }
  if (value === null || value === undefined) {
    return "null";
  }
  return JSON.stringify(value);
}

/** Text for a quick-pick label or status-bar item, where `$(name)` would otherwise become an icon. */
export function plainLabel(text: string): string {
  return text.replace(/\$\(/g, `$${ZERO_WIDTH_SPACE}(`);
}

/** Text for a notification, where `[label](target)` would otherwise become a link. */
export function plainMessage(text: string): string {
  return plainLabel(text).replace(/\]\(/g, `]${ZERO_WIDTH_SPACE}(`);
}
