/**
 * Running a Pulumi program under the mock runtime (tests, the rehearsal): collect what it logs
 * with `pulumi.log.warn` and `info` (there is no engine to show it), and wait for it to finish
 * registering.
 */
import * as pulumi from "@pulumi/pulumi";

export interface CapturedWarnings {
  readonly warnings: string[];
  /** What `pulumi.log.info` said (the engine shows it only with --verbose-like settings; here it would be noise on stdout). */
  readonly infos: string[];
  /** Puts the real `pulumi.log.warn` and `pulumi.log.info` back. */
  restore(): void;
}

/** Routes `pulumi.log.warn` into `into`, and `pulumi.log.info` into `infos`, until `restore()`. */
export function captureWarnings(into: string[] = [], infos: string[] = []): CapturedWarnings {
  const log = pulumi.log as { warn: typeof pulumi.log.warn; info: typeof pulumi.log.info };
  const real = { warn: log.warn, info: log.info };
  log.warn = (msg: string) => {
    into.push(msg);
    return Promise.resolve();
  };
  log.info = (msg: string) => {
    infos.push(msg);
    return Promise.resolve();
  };
  return {
    warnings: into,
    infos,
    restore() {
      log.warn = real.warn;
      log.info = real.info;
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
