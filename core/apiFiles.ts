/**
 * GraphQL schemas and client operations read from files: shared by the stack program's API gate
 * (`pulumi preview`) and `remedy check-api`. Local files only, no network.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ApiInputError, parseManifest, parseOperations, type ClientOperation } from "./apiCompat";

/** A file's text, or an ApiInputError naming the file and what it was read for. */
export function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ApiInputError(file, undefined, undefined, `cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Operations from files and directories: `.graphql`/`.gql` documents and `.json` persisted-operation manifests. */
export function loadOperations(paths: readonly string[]): ClientOperation[] {
  const files: string[] = [];
  const walk = (p: string): void => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      throw new ApiInputError(p, undefined, undefined, "cannot read operations: no such file or directory");
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(p).sort()) walk(path.join(p, entry));
    } else if (/\.(graphql|gql|json)$/.test(p)) {
      files.push(p);
    }
  };
  for (const p of paths) walk(p);
  return files.flatMap((f) => (f.endsWith(".json") ? parseManifest(readText(f, "operations"), f) : parseOperations(readText(f, "operations"), f)));
}

