// Making stored text safe where it is shown: a terminal (no control characters, escape sequences or
// bidirectional overrides reach it) and a spreadsheet (no cell is read as a formula).

// C0 and C1 controls, DEL, bidi marks/embeddings/overrides/isolates, line and paragraph separators,
// zero-width characters and the BOM; backslash too, so an escape in the output is always ours.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\\]/gu;

/** One line of plain, visible text: every unsafe character shown as a \x.. or \u{....} escape. */
export function terminalSafe(text: string): string {
  const clean = text.isWellFormed() ? text : text.toWellFormed();
  return clean.replace(UNSAFE, (c) => {
    if (c === "\\") return "\\\\";
    const code = c.codePointAt(0) as number;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/gu;
const FORMULA = /^[\s]*[=+\-@]|^[\t\r]/u;

/**
 * One CSV cell (RFC 4180). Text that a spreadsheet would run as a formula (starting with = + - @, a
 * tab or a carriage return, also after leading spaces) gets a leading apostrophe; control characters
 * other than tab and line breaks are written as \x.. escapes.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text: string;
  if (typeof value === "string") {
    text = value.replace(CONTROL, (c) => `\\x${(c.codePointAt(0) as number).toString(16).padStart(2, "0")}`);
    if (FORMULA.test(text)) text = `'${text}`;
  } else {
    text = typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value);
  }
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
