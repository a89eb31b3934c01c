#!/usr/bin/env node
/**
 * Builds the `remedy` CLI: esbuild bundles cli/main.ts and the TypeScript it imports into
 * dist/remedy.js (CommonJS, Node 20), packages left external, so running a command compiles
 * nothing. Runs at install (`prepare`, which `npm ci` and `npm install` run) and in `npm test`;
 * `cli/remedy.js` rebuilds once when a source is newer than the bundle.
 * Usage: node cli/build.js [--quiet]
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const OUT = path.join(ROOT, "dist", "remedy.js");
/** The folders whose TypeScript the bundle contains (everything cli/main.ts can import). */
const SOURCES = ["cli", "core", "database", "lambdas", "components", "stacks"];

/** Newest modification time (ms) of a .ts file under the source folders, and of package.json. */
function newestSource() {
  let newest = fs.statSync(path.join(ROOT, "package.json")).mtimeMs;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of SOURCES) walk(path.join(ROOT, d));
  return newest;
}

/** True when dist/remedy.js is missing or older than a source. */
function stale() {
  try {
    return fs.statSync(OUT).mtimeMs < newestSource();
  } catch {
    return true;
  }
}

function build() {
  const esbuild = require("esbuild");
  esbuild.buildSync({
    entryPoints: [path.join(ROOT, "cli", "main.ts")],
    outfile: OUT,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // node_modules stay external: loaded only by the command that needs them, from the
    // lockfile's versions (the Pulumi runtime must be the one installed, not a copy).
    packages: "external",
    sourcemap: true,
    logLevel: "warning",
  });
}

module.exports = { build, stale, OUT };

if (require.main === module) {
  build();
  if (!process.argv.includes("--quiet")) console.error(`built ${path.relative(process.cwd(), OUT) || OUT}`);
}
