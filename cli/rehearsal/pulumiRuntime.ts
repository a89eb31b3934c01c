/**
 * Running a Pulumi program under the mock runtime (tests, the rehearsal): collect what it logs
 * with `pulumi.log.warn` (there is no engine to show it), and wait for it to finish registering.
 */
import * as pulumi from "@pulumi/pulumi";

export interface CapturedWarnings {
  readonly warnings: string[];
  /** Puts the real `pulumi.log.warn` back. */
  restore(): void;
}

/** Routes `pulumi.log.warn` into `into` until `restore()`. */
export function captureWarnings(into: string[] = []): CapturedWarnings {
  const log = pulumi.log as { warn: typeof pulumi.log.warn };
  const real = log.warn;
  log.warn = (msg: string) => {
    into.push(msg);
    return Promise.resolve();
  };
  return {
    warnings: into,
    restore() {
      log.warn = real;
    },
  };
}

/**
 * Waits until every resource registration and invoke issued so far has been answered.
 * Uses the SDK's own RPC queue drain (exported by `@pulumi/pulumi/runtime` but not typed).
 */
export async function settle(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (typeof runtime.waitForRPCs !== "function") {
    throw new Error("@pulumi/pulumi no longer exports runtime.waitForRPCs; update cli/rehearsal/pulumiRuntime.ts");
  }
  await runtime.waitForRPCs();
}
