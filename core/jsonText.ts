/** JSON read from a file, with errors that name the file, line and column. */

/** A JSON text that does not parse; `line` and `column` are 1-based when known. */
export class JsonTextError extends Error {
  constructor(
    readonly source: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    detail: string,
  ) {
    super(`${source}${line !== undefined ? `:${line}:${column ?? 1}` : ""}: not valid JSON: ${detail}`);
    this.name = "JsonTextError";
  }
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split("\n").length;
  return { line, column: before.length - before.lastIndexOf("\n") };
}

/** `JSON.parse`, or a JsonTextError at the line and column V8 reports (by offset, or past the end). */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err as Error).message;
    const detail = message
      .replace(/ (in JSON )?at position \d+.*$/s, "")
      .replace(/ \(line \d+ column \d+\)$/, "")
      .replace(/, ".*" is not valid JSON$/s, "");
    const position = /at position (\d+)/.exec(message);
    const lc = /\(line (\d+) column (\d+)\)/.exec(message);
    if (lc) throw new JsonTextError(source, Number(lc[1]), Number(lc[2]), detail);
    if (position) {
      const { line, column } = lineColumn(text, Number(position[1]));
      throw new JsonTextError(source, line, column, detail);
    }
    if (/Unexpected end of JSON input/.test(message)) {
      const { line, column } = lineColumn(text, text.length);
      throw new JsonTextError(source, line, column, detail);
    }
    // This V8 names the token but not where it is: find the shortest prefix that fails for
    // another reason than ending early (prefixes of valid JSON only ever end early).
    let ok = 0;
    let bad = text.length;
    while (bad - ok > 1) {
      const mid = (ok + bad) >> 1;
      if (endsEarly(text.slice(0, mid))) ok = mid;
      else bad = mid;
    }
    const { line, column } = lineColumn(text, bad - 1);
    throw new JsonTextError(source, line, column, detail);
  }
}

/** True when `prefix` parses, or fails only because it ends. */
function endsEarly(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (err) {
    const message = (err as Error).message;
    if (/Unexpected end of JSON input/.test(message)) return true;
    const at = /at position (\d+)/.exec(message);
    return at !== null && Number(at[1]) >= prefix.length;
  }
}
