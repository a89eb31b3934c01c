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

  it("waits gatherMs for more keys, and keeps minIntervalMs between calls", async () => {
    const { c, calls } = counting({ maxBatch: 100, gatherMs: 30, minIntervalMs: 60 });
    const first = c.get(1);
    // A key asked a moment later (after pending callbacks, before any timer) joins the first.
    await new Promise((r) => setImmediate(r));
    const second = c.get(2);
    await Promise.all([first, second]);
    assert.deepEqual(calls.map((x) => x.keys), [[1, 2]], "gathered into one call");
    await Promise.all([c.get(3), c.get(4)]);
    assert.equal(calls.length, 2);
    assert.ok(calls[1].at - calls[0].at >= 55, `calls ${calls[1].at - calls[0].at} ms apart`);
  });

  it("fails exactly the keys of a failed call, and keeps serving the others", async () => {
    const { c } = counting({ maxBatch: 2 }, (keys) => keys.includes(3));
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((k) => c.get(k)));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [i + 1] : []));
    assert.ok(failed.includes(3));
    assert.ok(failed.length <= 2, `only the batch with 3 fails: ${failed.join(",")}`);
    assert.equal((results[4] as PromiseFulfilledResult<string>).value, "v5");
  });
});
