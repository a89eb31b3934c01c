/**
 * `text` cut to `max` characters, saying how much was cut. Alarm reasons and check results come
 * from outside and can be arbitrarily long; what is recorded and sent must fit DynamoDB and SNS.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.length - max;
  return `${text.slice(0, max)}... [truncated ${cut} characters]`;
}

/**
 * `text` safe to print on a terminal: escape sequences (CSI, OSC...), other C0/C1 control
 * characters and DEL become a visible `?`, line breaks and tabs a space. Recorded text (alarm
 * reasons, operators' reasons, check results) comes from outside; printed raw, it could move the
 * cursor, recolour or rewrite what an operator reads, or set the window title.
 */
/* eslint-disable no-control-regex -- matching control characters is the point here */
export function printable(text: string): string {
  return text
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, "?") // CSI ... final byte
    .replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)?/g, "?") // OSC ... BEL or ST
    .replace(/[\t\n\r]/g, " ")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "?")
    // Bidi overrides and isolates, zero-width characters and the BOM: text that displays other
    // than it reads (a reason that reorders what follows it) (issue 35, 11).
    .replace(/[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g, "?");
}
/* eslint-enable no-control-regex */
