/**
 * Bundles a Lambda handler from `lambdas/` with esbuild into one minified CommonJS file, in
 * process, when the Pulumi program runs (so `pulumi up` needs no separate build step). The
 * result is deterministic for the same sources, so an unchanged handler is not redeployed.
 */
import { buildSync } from "esbuild";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface Bundle {
  /** The bundled `index.js`. */
  readonly code: string;
  readonly sha256: string;
}

/** Lambda runtime the bundles target and the functions run on. */
export const LAMBDA_RUNTIME = "nodejs22.x";

const cache = new Map<string, Bundle>();

/**
 * Absolute path of a handler entry point in `lambdas/`, e.g. `rollback`: the TypeScript source
 * when run from the repository (as `pulumi up` does), the compiled file when run from a build.
 */
export function lambdaEntry(name: string): string {
  // From the repository (components/rollback/) or from the CLI's bundle (dist/).
  const candidates = [path.resolve(__dirname, "..", ".."), path.resolve(__dirname, "..")].flatMap((root) => [".ts", ".js"].map((ext) => path.join(root, "lambdas", `${name}${ext}`)));
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new Error(`lambda entry point not found: ${candidates.join(" or ")}`);
  return found;
}

/** Bundles `lambdas/<name>.ts` (cached per process). */
export function bundleLambda(name: string): Bundle {
  const hit = cache.get(name);
  if (hit) return hit;
  const result = buildSync({
    entryPoints: [lambdaEntry(name)],
    bundle: true,
    write: false,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    legalComments: "none",
    // Prefer the ES module builds of the AWS SDK: they tree-shake far better.
    mainFields: ["module", "main"],
    logLevel: "silent",
  });
  if (result.errors.length > 0 || result.outputFiles.length !== 1) {
    throw new Error(`esbuild could not bundle lambdas/${name}.ts: ${result.errors.map((e) => e.text).join("; ")}`);
  }
  const code = result.outputFiles[0].text;
  const bundle = { code, sha256: createHash("sha256").update(code).digest("hex") };
  cache.set(name, bundle);
  return bundle;
}
