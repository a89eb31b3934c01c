/**
 * The program's stack-trace shortcut (stacks/stackTraces.ts): the Pulumi SDK's messageless
 * bookkeeping stacks skip source mapping (a promise's is not built at all unless leak debugging
 * is on), while every error with a message stays source-mapped, and the SDK can still parse the
 * positions it records.
 */
import { strict as assert } from "node:assert";
import { installFastStackTraces } from "../../stacks/stackTraces";

describe("stacks/stackTraces: cheap bookkeeping stacks, mapped errors", () => {
  let saved: typeof Error.prepareStackTrace | undefined;
  beforeEach(() => {
    // Another test may have run the stack's entry (stacks/index.ts), which installs it: start from
    // the source-mapping formatter it wrapped.
    const current = Error.prepareStackTrace as (typeof Error.prepareStackTrace & { mapped?: typeof Error.prepareStackTrace }) | undefined;
    Error.prepareStackTrace = (current?.mapped ?? current) as typeof Error.prepareStackTrace;
    saved = Error.prepareStackTrace;
  });
  afterEach(() => {
    Error.prepareStackTrace = saved as typeof Error.prepareStackTrace;
  });

  it("keeps errors with a message source-mapped and formats messageless ones natively, with parseable positions", () => {
    assert.ok(saved, "ts-node's source-map-support is installed in this test run");
    const mappedBefore = new Error("boom").stack as string;
    installFastStackTraces();
    assert.notEqual(Error.prepareStackTrace, saved);
    const mappedAfter = new Error("boom").stack as string;
    // Same first frame text (file:line:column) as source-map-support produced before.
    const firstFrame = (s: string) => s.split("\n")[1].replace(/:\d+:\d+\)?$/, "");
    assert.equal(firstFrame(mappedAfter), firstFrame(mappedBefore));
    assert.match(mappedAfter.split("\n")[1], /stackTraces\.test\.ts:\d+:\d+/);
    const plain = new Error().stack as string;
    assert.match(plain, /^Error\n {4}at /);
    // The SDK's frame pattern (resource.js framePositionRegExp): "at fn (file:line:col)".
    assert.match(plain.split("\n")[1], /\(?[^ ()]+stackTraces\.test\.ts:\d+:\d+\)?$/);
    // Installing twice changes nothing.
    const once = Error.prepareStackTrace;
    installFastStackTraces();
    assert.equal(Error.prepareStackTrace, once);
  });

  it("does not build a tracked promise's stack unless PULUMI_DEBUG_PROMISE_LEAKS is set", () => {
    installFastStackTraces();
    function debuggablePromise(): string {
      return new Error().stack as string;
    }
    assert.equal(debuggablePromise(), "Error\n    at debuggablePromise (stack omitted: set PULUMI_DEBUG_PROMISE_LEAKS=1 to record it)");
    Error.prepareStackTrace = saved as typeof Error.prepareStackTrace;
    process.env.PULUMI_DEBUG_PROMISE_LEAKS = "1";
    try {
      installFastStackTraces();
      assert.match(debuggablePromise(), /^Error\n {4}at debuggablePromise \(.*stackTraces\.test\.ts:\d+:\d+\)/);
    } finally {
      delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
    }
  });

  it("leaves everything mapped with REMEDY_MAPPED_STACKS=1", () => {
    process.env.REMEDY_MAPPED_STACKS = "1";
    try {
      installFastStackTraces();
      assert.equal(Error.prepareStackTrace, saved);
    } finally {
      delete process.env.REMEDY_MAPPED_STACKS;
    }
  });
});
