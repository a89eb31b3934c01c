/**
 * The release driver's read coalescer: keys asked while a call is in flight (or within the
 * gathering window) go out together, never more than the API's batch limit, never faster than
 * the rate limit, and a failed call fails exactly the keys it carried.
 */
import { strict as assert } from "node:assert";
import { Coalescer } from "../../lambdas/commons/coalesce";

describe("lambdas/commons/coalesce: batched single-key reads", () => {
  function counting(opts: ConstructorParameters<typeof Coalescer<number, string>>[1], fail?: (keys: number[]) => boolean) {
    const calls: { keys: number[]; at: number }[] = [];
    const c = new Coalescer<number, string>(async (keys) => {
      calls.push({ keys, at: Date.now() });
      await new Promise((r) => setTimeout(r, 5));
      if (fail?.(keys)) throw new Error(`batch ${keys.join(",")} failed`);
      return new Map(keys.filter((k) => k % 7 !== 0).map((k) => [k, `v${k}`]));
    }, opts);
    return { c, calls };
  }

  it("answers each key from the batch that carried it, up to maxBatch keys a call", async () => {
    const { c, calls } = counting({ maxBatch: 10 });
    const keys = Array.from({ length: 45 }, (_, i) => i + 1);
    const values = await Promise.all(keys.map((k) => c.get(k)));
    assert.deepEqual(values, keys.map((k) => (k % 7 === 0 ? undefined : `v${k}`)), "absent keys answer undefined");
    assert.ok(calls.every((x) => x.keys.length <= 10));
    assert.deepEqual(calls.flatMap((x) => x.keys).sort((a, b) => a - b), keys, "every key asked exactly once");
    // The first key goes alone (nothing in flight); the rest queue behind it and go 10 at a time.
    assert.deepEqual(calls.map((x) => x.keys.length), [1, 10, 10, 10, 10, 4]);
    assert.equal(c.calls, 6);
  });

  it("waits gatherMs for more keys", async () => {
    const { c, calls } = counting({ maxBatch: 100, gatherMs: 30 });
    const first = c.get(1);
    // A key asked a moment later (after pending callbacks, before any timer) joins the first.
    await new Promise((r) => setImmediate(r));
    const second = c.get(2);
    await Promise.all([first, second]);
    assert.deepEqual(calls.map((x) => x.keys), [[1, 2]], "gathered into one call");
  });

  it("makes a burst of calls at once, then no more than perSecond a second (a token bucket, as AWS throttles)", async () => {
    const { c, calls } = counting({ maxBatch: 1, maxInFlight: 10, rate: { perSecond: 20, burst: 3 } });
    await Promise.all(Array.from({ length: 7 }, (_, i) => c.get(i + 1)));
    assert.equal(calls.length, 7);
    const t0 = calls[0].at;
    // The burst: 3 calls without waiting for tokens (a slow machine only delays them).
    assert.ok(calls[3].at - t0 >= 45, `the 4th call waited for a token: ${calls[3].at - t0} ms`);
    // Then at most 20 a second: calls 4..7 need 4 tokens, at least 150 ms after the burst's first.
    assert.ok(calls[6].at - t0 >= 195, `the 7th call came ${calls[6].at - t0} ms after the first`);
  });

  it("fails exactly the keys of a failed call, and keeps serving the others", async () => {
    const { c } = counting({ maxBatch: 2 }, (keys) => keys.includes(3));
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((k) => c.get(k)));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i + 1] : []));
    assert.ok(failed.includes(3));
    assert.ok(failed.length <= 2, `only the batch with 3 fails: ${failed.join(",")}`);
    assert.equal((results[4] as PromiseFulfilledResult<string>).value, "v5");
  });

  it("rejects only the key whose answer is an Error (one bad record), and resolves the others of the same call", async () => {
    const c = new Coalescer<string, string>(async (keys) => new Map<string, string | Error>(keys.map((k) => [k, k === "bad" ? new Error("release state of bad is invalid") : `v-${k}`])), { maxBatch: 10, gatherMs: 5 });
    const [a, bad, b] = await Promise.allSettled([c.get("a"), c.get("bad"), c.get("b")]);
    assert.deepEqual([a, b], [{ status: "fulfilled", value: "v-a" }, { status: "fulfilled", value: "v-b" }]);
    assert.equal(bad?.status, "rejected");
    assert.equal(c.calls, 1, "one call carried all three");
  });
});
