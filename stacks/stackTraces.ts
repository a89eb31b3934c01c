/**
 * Cheaper stack traces for the Pulumi engine's bookkeeping while the program is evaluated.
 *
 * The Pulumi Node.js SDK captures a full stack (`Error.stackTraceLimit = Infinity`) for every
 * resource it registers (its source position) and one more for every promise it tracks for leak
 * detection, each a messageless `new Error().stack`. Under ts-node (Pulumi's default for a
 * TypeScript program, `runtime.options.typescript: true`) every frame of every such stack goes
 * through source-map-support, which was 20-30% of evaluation CPU in bench/program-scale and
 * retained strings that grew memory with every service. This keeps V8's own formatting for those
 * messageless bookkeeping errors (positions are then in the transpiled JavaScript, which is what
 * the engine records as a resource's source position) and leaves every error that has a message,
 * the ones people read, source-mapped as before. `REMEDY_MAPPED_STACKS=1` keeps mapping all.
 */
export function installFastStackTraces(): void {
  const mapped = Error.prepareStackTrace;
  if (mapped === undefined || process.env.REMEDY_MAPPED_STACKS === "1" || (mapped as { remedyFast?: boolean }).remedyFast) return;
  const leakDebugging = process.env.PULUMI_DEBUG_PROMISE_LEAKS !== undefined && process.env.PULUMI_DEBUG_PROMISE_LEAKS !== "";
  const fast = (error: Error, frames: NodeJS.CallSite[]): unknown => {
    if (error.message !== "" || error.name !== "Error") return mapped(error, frames);
    // The SDK prints a promise's stack only with PULUMI_DEBUG_PROMISE_LEAKS set; otherwise the
    // string is never read, so it is not built.
    if (!leakDebugging && frames[0]?.getFunctionName() === "debuggablePromise") return "Error\n    at debuggablePromise (stack omitted: set PULUMI_DEBUG_PROMISE_LEAKS=1 to record it)";
    return `Error${frames.map((f) => `\n    at ${String(f)}`).join("")}`;
  };
  Object.assign(fast, { remedyFast: true, mapped });
  Error.prepareStackTrace = fast;
}
