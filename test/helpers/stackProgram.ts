/**
 * Runs the real program entry (`stacks/index.ts`) under the installed mocks with a stack's config
 * set as the Pulumi engine would (`Pulumi.<stack>.yaml` keys, objects as JSON), the module loaded
 * fresh each time.
 */
import * as pulumi from "@pulumi/pulumi";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `secretKeys`: the keys the engine reports as secrets (set with `pulumi config set --secret`). */
export async function runStackEntry(config: Record<string, unknown>, secretKeys: readonly string[] = []): Promise<Obj> {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
    [...secretKeys],
  );
  const entry = require.resolve("../../stacks/index");
  delete require.cache[entry];
  const main = require(entry) as () => Promise<Obj>;
  return main();
}

/**
 * Mocha hooks for a suite that runs the program entry: release state in memory (no DynamoDB) for
 * the suite, and the stack config cleared after it.
 */
export function useMemoryReleases(): void {
  let restore: () => void;
  before(() => {
    restore = setReleaseBackendFactory(() => new MemoryReleaseBackend());
  });
  after(() => {
    restore();
    pulumi.runtime.setAllConfig({});
  });
}
