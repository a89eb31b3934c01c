/**
 * The rehearsal's simulated clock (issue 36, 5): every use of Date in the process sees one shifted
 * time that only moves forward, and the real clock comes back.
 */
import { strict as assert } from "node:assert";
import { simulatedClock } from "../../cli/rehearsal/clock";

describe("cli/rehearsal/clock: one simulated clock for the whole process", () => {
  it("starts in the past, moves forward, catches up with the wall clock, and restores the real Date", () => {
    const RealDate = Date;
    const clock = simulatedClock(30);
    try {
      const wall = RealDate.now();
      assert.ok(Math.abs(Date.now() - (wall - 30 * 60_000)) < 5_000, "Date.now() 30 minutes back");
      assert.ok(Math.abs(new Date().getTime() - Date.now()) < 5_000, "new Date() agrees");
      assert.equal(typeof Date(), "string", "Date() without new still answers a string");
      assert.ok(new Date() instanceof RealDate);
      assert.equal(new Date("2026-12-07T10:00:00Z").toISOString(), "2026-12-07T10:00:00.000Z", "an explicit time is not shifted");
      assert.equal(Date.parse("2026-12-07T10:00:00Z"), RealDate.parse("2026-12-07T10:00:00Z"));
      clock.advance(20);
      assert.ok(Math.abs(Date.now() - (RealDate.now() - 10 * 60_000)) < 5_000, "20 minutes on");
      clock.catchUp();
      assert.ok(Math.abs(Date.now() - RealDate.now()) < 5_000, "caught up, never ahead");
    } finally {
      clock.restore();
    }
    assert.equal(Date, RealDate, "the real Date is back");
  });
});
