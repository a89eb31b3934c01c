/**
 * The client-side token bucket the release driver keeps its ELB Describe* calls under, on an
 * injected clock: a burst, then the refill rate, in the order callers asked.
 */
import { strict as assert } from "node:assert";
import { TokenBucket } from "../../lambdas/commons/tokenBucket";

describe("lambdas/commons/tokenBucket: AWS-shaped client-side throttling", () => {
  it("allows the burst at once, then one token per 1/perSecond, refilled up to the burst", () => {
    let now = 1_000_000;
    const b = new TokenBucket({ perSecond: 10, burst: 4 }, () => now);
    for (let i = 0; i < 4; i++) {
      assert.equal(b.msUntilToken(), 0);
      b.consume();
    }
    assert.equal(b.msUntilToken(), 100, "the fifth waits one refill interval");
    now += 50;
    assert.equal(b.msUntilToken(), 50);
    now += 10_000;
    // Refilled, but never above the burst.
    for (let i = 0; i < 4; i++) b.consume();
    assert.equal(b.msUntilToken(), 100);
  });

  it("makes callers wait their turn in order: take() reserves a token", async () => {
    const b = new TokenBucket({ perSecond: 50, burst: 2 });
    const order: number[] = [];
    const t0 = Date.now();
    await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      await b.take();
      order.push(i);
    }));
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    // Three calls beyond the burst at 50 a second: at least 60 ms (a slow machine only adds).
    assert.ok(Date.now() - t0 >= 55, `${Date.now() - t0} ms`);
  });
});
