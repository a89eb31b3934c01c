import { strict as assert } from "node:assert";
import { alarmFiresAt, nextWatchCheck } from "../../bench/detection";
import * as defaults from "../../core/defaults";

describe("bench/detection: the timing model", () => {
  it("fires an M-of-N alarm when the M-th breaching datapoint is evaluable, at the next evaluation", () => {
    const base = { start: 30, period: 60, delay: 60, offset: 0, m: 2, n: 3 };
    // Datapoints 0 (partial) and 1 breach; 1 is evaluable at (1 + 1) x 60 + 60 = 180.
    assert.equal(alarmFiresAt({ ...base, breaches: () => true }), 180);
    // The partial minute does not breach: datapoint 2, evaluable at 240.
    assert.equal(alarmFiresAt({ ...base, breaches: (k) => k >= 1 }), 240);
    // Evaluations at 15 + 60j: the first one at or after 180.
    assert.equal(alarmFiresAt({ ...base, offset: 15, breaches: () => true }), 195);
    // 1 of 1 at 10 s with no delay: datapoint 3 ([30, 40)) is evaluable at 40.
    assert.equal(alarmFiresAt({ start: 30, period: 10, delay: 0, offset: 0, m: 1, n: 1, breaches: () => true }), 40);
  });

  it("checks health from each tick's start until its deadline, then waits for the next tick", () => {
    assert.equal(defaults.DRIVER_TIMEOUT_SECONDS, 50, "the model below assumes the deployed timeout");
    assert.equal(nextWatchCheck(0, 0), 2, "the tick's work, then the first check");
    assert.equal(nextWatchCheck(10, 0), 12);
    assert.equal(nextWatchCheck(47, 0), 47, "the last check of the tick");
    assert.equal(nextWatchCheck(48, 0), 62, "after it: the next tick's first check");
    assert.equal(nextWatchCheck(48, 30), 52, "ticks at 30 + 60j");
  });
});
