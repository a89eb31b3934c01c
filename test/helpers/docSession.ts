/**
 * Command sessions shown in docs (```console <tag> blocks: `$ remedy ...` lines, each followed by
 * what it printed), run for real through the built binary and compared with what the doc shows
 * (issue 36, 3: every output in docs/cli.md comes from a real run). What differs run to run is
 * normalized away (times, durations, ports, temp paths, line wrapping); a line of `remedy wait`'s
 * progress (`HH:MM:SS service: ...`) shown in the doc may be missing from a run whose poll landed
 * later, but every progress line a run prints must be in the doc.
 *
 * `REMEDY_WRITE_DOCS=1` writes the run's output into the doc instead of comparing.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const ROOT = path.join(__dirname, "..", "..");
export const REMEDY = path.join(ROOT, "cli", "remedy.js");

export interface SessionCommand {
  /** The command as shown, without its comment. */
  readonly line: string;
  /** The exit code its comment names (`# exit 3: ...`), else 0. */
  readonly exit: number;
  /** What the doc shows it printed. */
  readonly shown: readonly string[];
}

export interface Session {
  readonly file: string;
  readonly tag: string;
  readonly commands: readonly SessionCommand[];
}

const blockRe = (tag: string) => new RegExp("(```console " + tag + "\\n)([\\s\\S]*?)(\\n```)");

/** The session of `file`'s ```console `tag` block. */
export function readSession(file: string, tag: string): Session {
  const text = fs.readFileSync(file, "utf8");
  const m = blockRe(tag).exec(text);
  if (!m) throw new Error(`${file} has no \`\`\`console ${tag} block`);
  const commands: { line: string; exit: number; shown: string[] }[] = [];
  for (const l of m[2].split("\n")) {
    if (l.startsWith("$ ")) {
      const [line, comment] = splitComment(l.slice(2));
      commands.push({ line: line.trim(), exit: Number(/^exit (\d+)/.exec(comment.trim())?.[1] ?? 0), shown: [] });
    } else if (commands.length > 0) commands[commands.length - 1].shown.push(l);
    else throw new Error(`${file}: the \`\`\`console ${tag} block must start with a $ command`);
  }
  for (const c of commands) while (c.shown.length && c.shown[c.shown.length - 1] === "") c.shown.pop();
  return { file, tag, commands };
}

/** `remedy status  # a comment` -> ["remedy status", "a comment"]; a # inside quotes is not a comment. */
export function splitComment(line: string): [string, string] {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "#" && (i === 0 || line[i - 1] === " ")) return [line.slice(0, i), line.slice(i + 1)];
  }
  return [line, ""];
}

/** A shell-like split: words, single or double quotes. */
export function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

export interface Ran {
  readonly code: number;
  /** stdout and stderr as a terminal shows them: one file, in the order written. */
  readonly output: string[];
}

/** Runs `remedy ...` (the built binary) in `cwd` with `env`, stdout and stderr into one file. */
export function runCommand(line: string, cwd: string, env: NodeJS.ProcessEnv): Ran {
  const [name, ...args] = words(line);
  if (name !== "remedy") throw new Error(`only remedy commands run in a session, not ${name}`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "remedy-session-")), "out");
  const fd = fs.openSync(file, "w");
  try {
    const r = spawnSync(process.execPath, [REMEDY, ...args], { cwd, env: { ...env, NO_COLOR: "1", COLUMNS: "100" }, stdio: ["ignore", fd, fd] });
    return { code: r.status ?? -1, output: fs.readFileSync(file, "utf8").replace(/\n$/, "").split("\n") };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

/** What stays the same run to run. */
export function normalize(line: string): string {
  return line
    .replace(/\s+/g, " ")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .replace(/\d{4}-\d\d-\d\d( \d\d:\d\d(:\d\d)?)?/g, "<time>")
    .replace(/^\d\d:\d\d:\d\d /, "<t> ")
    .replace(/\d+(\.\d+)? (ms|s)\b/g, "<n> $2")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>")
    // Who ran it: the local user's name, which differs machine to machine.
    .replace(/operator:\S+ as arn:/g, "operator:<user> as arn:")
    .replace(/ \S+ \(moto\)/g, " <user> (moto)")
    .replace(/\S*\/remedy-\d+\/outputs\.json/g, "outputs.json")
    .replace(/\s+/g, " ")
    .trim();
}

const progress = (l: string) => /^\d\d:\d\d:\d\d \S+: /.test(l);

/** Why `ran` is not what `c` shows, or undefined when it is. */
export function difference(c: SessionCommand, ran: Ran): string | undefined {
  if (ran.code !== c.exit) return `exit ${ran.code}, the doc says ${c.exit}: ${ran.output.join("\n")}`;
  const body = (ls: readonly string[]) => normalize(ls.filter((l) => !progress(l)).join(" "));
  if (body(ran.output) !== body(c.shown)) return `printed:\n${ran.output.join("\n")}\n\nthe doc shows:\n${c.shown.join("\n")}`;
  const shownProgress = new Set(c.shown.filter(progress).map(normalize));
  const extra = ran.output.filter(progress).find((l) => !shownProgress.has(normalize(l)));
  return extra === undefined ? undefined : `printed a progress line the doc does not show: ${extra}`;
}

/** Writes each command's run output under it in the doc (REMEDY_WRITE_DOCS=1). */
export function writeSession(s: Session, outputs: readonly Ran[]): void {
  const text = fs.readFileSync(s.file, "utf8");
  const doc = fs.readFileSync(s.file, "utf8").match(blockRe(s.tag));
  if (!doc) throw new Error(`${s.file}: no block ${s.tag}`);
  const lines = doc[2].split("\n").filter((l) => l.startsWith("$ "));
  const body = lines.map((l, i) => [l, ...(outputs[i]?.output ?? []), ""].join("\n")).join("\n").replace(/\n+$/, "");
  fs.writeFileSync(s.file, text.replace(blockRe(s.tag), (_m, open: string, _b, close: string) => `${open}${body}${close}`));
}
