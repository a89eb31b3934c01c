/**
 * The legacy lane's evidence and retirement gate (issue 37, 5 and 6): a missing datapoint is zero
 * only when the main target groups served that day; a lane retires only after N quiet days, with
 * no active client version on it and no schema need, and says every reason it may not.
 */
import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { DEFAULT_QUIET_DAYS, brownoutDays, dailyEvidence, lastDays, retirementDecision, type DayEvidence, type RetirementInputs } from "../../core/legacyRetirement";

const TODAY = Date.parse("2026-12-07T15:00:00Z");
const DAYS = lastDays(TODAY, 20);
const base = (evidence: DayEvidence[], extra: Partial<RetirementInputs> = {}): RetirementInputs => ({ service: "payments", version: "v1.9.4", evidence, threshold: 0, quietDays: DEFAULT_QUIET_DAYS, activeClients: [], ...extra });

describe("core/legacyRetirement: evidence and the retirement gate (issue 37, 5 and 6)", () => {
  it("lists the days before today, oldest first", () => {
    assert.deepEqual(lastDays(TODAY, 3), ["2026-12-04", "2026-12-05", "2026-12-06"]);
    assert.equal(DAYS.length, 20);
  });

  it("counts a day without a lane datapoint as zero only when the main target groups served that day", () => {
    const lane = new Map([["2026-12-05", 7]]);
    const main = new Map([["2026-12-05", 900], ["2026-12-06", 800]]);
    assert.deepEqual(dailyEvidence(["2026-12-04", "2026-12-05", "2026-12-06"], lane, main), [
      { day: "2026-12-04", laneRequests: null, mainRequests: 0 },
      { day: "2026-12-05", laneRequests: 7, mainRequests: 900 },
      { day: "2026-12-06", laneRequests: 0, mainRequests: 800 },
    ]);
  });

  it("retires after 14 quiet days with nothing else holding it, and says every reason otherwise", () => {
    const quiet = (n: number) => DAYS.map((day, i) => ({ day, laneRequests: i >= DAYS.length - n ? 0 : 3, mainRequests: 500 }));
    const ok = retirementDecision(base(quiet(14)));
    assert.deepEqual([ok.allowed, ok.blockers, ok.quietStreak, ok.daysSinceLastRequest], [true, [], 14, 15]);
    const recent = retirementDecision(base(quiet(2)));
    assert.equal(recent.allowed, false);
    assert.deepEqual(recent.blockers, [`quiet for 2 of the 14 consecutive days needed: ${DAYS[17]} had 3 request(s) (more than 0); move its callers (remedy versions payments lists them) and wait`]);
    assert.equal(recent.daysSinceLastRequest, 3);
    // A dead ALB is not a quiet lane.
    const dark = quiet(20).map((d, i) => (i === 15 ? { ...d, laneRequests: null, mainRequests: 0 } : d));
    assert.match(retirementDecision(base(dark)).blockers[0], /^quiet for 4 of the 14 .*2026-12-02 has no datapoints for the lane or the main target groups \(a dead ALB is not a quiet lane\)/);
    // A threshold lets a trickle count as quiet.
    assert.equal(retirementDecision(base(quiet(2), { threshold: 3 })).allowed, true);
    // Active clients hold it too, said with what to do.
    const held = retirementDecision(base(quiet(20), { activeClients: ["ios 2.0"] }));
    assert.deepEqual(held.blockers, ["active client versions still served by v1.9.4: ios 2.0; move them, or mark them retired (retired.json) once they no longer call"]);
    assert.deepEqual(held.inputs.activeClients, ["ios 2.0"], "the decision keeps its inputs");
    assert.match(retirementDecision(base(quiet(5).slice(-5))).blockers[0], /only 5 day\(s\) of evidence/);
  });

  it("does not count a brownout day as quiet (its callers got 410), nor lets it hide a busy day (issue 37, 7)", () => {
    assert.deepEqual([...brownoutDays([{ start: "2026-12-05T23:30:00.000Z", end: "2026-12-06T00:30:00.000Z" }, { start: "2026-12-01T10:00:00.000Z", end: "2026-12-01T10:05:00.000Z" }])].sort(), ["2026-12-01", "2026-12-05", "2026-12-06"]);
    assert.deepEqual(dailyEvidence(["2026-12-05", "2026-12-06"], new Map(), new Map([["2026-12-05", 10], ["2026-12-06", 10]]), new Set(["2026-12-06"])), [
      { day: "2026-12-05", laneRequests: 0, mainRequests: 10 },
      { day: "2026-12-06", laneRequests: 0, mainRequests: 10, brownout: true },
    ]);
    const quiet = DAYS.map((day) => ({ day, laneRequests: 0, mainRequests: 500 }));
    // Three brownout days among the last 15: the streak is 12, not 15.
    const browned = quiet.slice(-15).map((d, i) => (i % 5 === 0 ? { ...d, brownout: true } : d));
    const held = retirementDecision(base(browned));
    assert.deepEqual([held.allowed, held.quietStreak, held.brownoutDaysSkipped], [false, 12, 3]);
    assert.match(held.blockers[0], /^quiet for 12 of the 14 consecutive days needed: only 15 day\(s\) of evidence, 3 of them brownout days \(not counted\)/);
    assert.equal(retirementDecision(base(quiet.map((d, i) => (i >= 3 && i % 5 === 0 ? { ...d, brownout: true } : d)))).allowed, true, "enough quiet days around them");
    // A brownout day with callers past the threshold still breaks the streak.
    const busy = quiet.map((d, i) => (i === DAYS.length - 2 ? { ...d, laneRequests: 4, brownout: true } : d));
    assert.equal(retirementDecision(base(busy)).quietStreak, 1);
  });

  it("allows exactly when the last N days are known and within the threshold, and nothing else holds it (property)", () => {
    const day = fc.record({ laneRequests: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }), mainRequests: fc.integer({ min: 0, max: 5 }) });
    fc.assert(
      fc.property(fc.array(day, { minLength: 0, maxLength: 20 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 10 }), fc.boolean(), (days, threshold, quietDays, clients) => {
        const evidence = days.map((d, i) => ({ day: DAYS[i], ...d }));
        const r = retirementDecision(base(evidence, { threshold, quietDays, activeClients: clients ? ["web 4.0"] : [] }));
        const tail = evidence.slice(-quietDays);
        const quiet = tail.length === quietDays && tail.every((d) => d.laneRequests !== null && d.laneRequests <= threshold);
        assert.equal(r.allowed, quiet && !clients);
        assert.equal(r.blockers.length, (quiet ? 0 : 1) + (clients ? 1 : 0));
      }),
      { numRuns: 500 },
    );
  });
});
