/**
 * What is installed and how (issue 35, 18): no dependency's install script runs on any npm, the
 * engines are enforced, and every locked package is pinned by version and integrity hash.
 * npm documents `ignore-scripts` ("npm does not run scripts specified in package.json files";
 * explicit `npm run`/`npm test` still run) and `engine-strict` in its config reference; the
 * `allowScripts` field is advisory in npm 11 and enforced from npm 12 (npm/cli#9415).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** `.npmrc` as key -> value, comments dropped. */
function npmrc(): Record<string, string> {
  return Object.fromEntries(
    read(".npmrc")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#") && !l.startsWith(";"))
      .map((l) => l.split("=").map((x) => x.trim()) as [string, string]),
  );
}

describe("supply chain: how dependencies are installed", () => {
  const pkg = JSON.parse(read("package.json")) as { engines: Record<string, string>; allowScripts: Record<string, boolean> };
  const lock = JSON.parse(read("package-lock.json")) as { lockfileVersion: number; packages: Record<string, { version?: string; integrity?: string; hasInstallScript?: boolean; link?: boolean; dev?: boolean }> };

  it("blocks every dependency install script on every npm, and refuses an unsupported Node or npm", () => {
    const rc = npmrc();
    assert.equal(rc["ignore-scripts"], "true", ".npmrc: ignore-scripts=true");
    assert.equal(rc["engine-strict"], "true", ".npmrc: engine-strict=true");
    assert.ok(pkg.engines.node && pkg.engines.npm, "package.json engines names node and npm");
    // allowScripts says the same for npm 12: every package with an install script is reviewed and denied.
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([k]) => k.replace(/^.*node_modules\//, ""));
    assert.ok(withScripts.length > 0, "the lock names the packages with install scripts");
    for (const name of withScripts) assert.equal(pkg.allowScripts[name], false, `allowScripts.${name}: false (its install script is never needed)`);
  });

  it("pins every locked package by version and integrity hash", () => {
    assert.ok(lock.lockfileVersion >= 3);
    const unpinned = Object.entries(lock.packages)
      .filter(([k, p]) => k !== "" && !p.link && (!p.version || !/^sha512-/.test(p.integrity ?? "")))
      .map(([k]) => k);
    assert.deepEqual(unpinned, []);
  });
});
