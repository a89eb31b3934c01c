/**
 * Command-line options in remedy's words: node:util parseArgs underneath, its errors turned into
 * one line naming the option and pointing at `remedy <command> --help`. Every usage problem is
 * found before a command touches AWS, a database or a file.
 */
import { parseArgs } from "node:util";

/** A usage problem (exit 2): the message names the option and ends with where to read more. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

/** `see \`remedy <command> --help\``, appended to every usage error. */
export const seeHelp = (command: string): string => `see \`remedy ${command} --help\``;

/** Throws a UsageError with the command's help pointer. */
export function usage(command: string, problem: string): never {
  throw new UsageError(`${problem}; ${seeHelp(command)}`);
}

/**
 * Parses `argv` for `remedy <command>`: only `options` are known; `maxPositionals` bounds the
 * positional arguments. @throws UsageError.
 */
/** What parseCommandArgs found: option values by name, and the positional arguments. */
export interface CommandArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

export function parseCommandArgs(command: string, argv: readonly string[], options: OptionSpec, maxPositionals: number): CommandArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const option = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") usage(command, `unknown option ${option ?? e.message}`);
    if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const name = option ?? "an option";
      if (/does not take an argument/.test(e.message)) usage(command, `${name} takes no value`);
      if (/ambiguous/.test(e.message)) usage(command, `${name} needs a value; a value starting with "-" goes as ${name}=<value>`);
      usage(command, `${name} needs a value`);
    }
    usage(command, e.message);
  }
  if (parsed.positionals.length > maxPositionals) usage(command, `unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  return parsed;
}

/** A whole number in [min, max] from an option, or `undefined` when absent. @throws UsageError */
export function intOption(command: string, name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) usage(command, `--${name} must be an integer ${min}..${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}
