/**
 * How a release ended, judged for its own id (issue 36, 1): every kind of outcome from states the
 * release lifecycle produces, including a newer release having replaced it.
 */
import { strict as assert } from "node:assert";
import { normalizeStrategy } from "../../core/progressive";
import { releaseOutcome } from "../../core/releaseOutcome";
import { type HistoryEntry, type ReleaseEvent, type ReleaseState, applyEvent, initialState } from "../../core/releaseState";
import { Slot } from "../../core/slots";

const T0 = Date.parse("2026-12-07T10:00:00Z");
const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
const ROUTING = {
  ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
  targetGroupArns: { blue: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1/1", green: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-green-2/2" },
  stickinessSeconds: 0,
};

function run(events: ReleaseEvent[]): { state: ReleaseState; history: HistoryEntry[] } {
  let s = initialState("payments", { slot: Slot.Blue, version: "v1" }, ROUTING, at(-10));
  const history: HistoryEntry[] = [];
  for (const e of events) {
    const t = applyEvent(s, e);
    if (t.kind !== "applied") throw new Error(`${e.type}: ${t.kind === "unchanged" || t.kind === "refused" ? t.reason : ""}`);
    s = t.state;
    history.push(t.entry);
  }
  return { state: s, history };
}
const start = (version: string, m: number, extra: Partial<Extract<ReleaseEvent, { type: "start-release" }>> = {}): ReleaseEvent => ({
  type: "start-release",
  candidate: { slot: Slot.Green, version },
  weight: 0,
  progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30 },
  at: at(m),
  by: "pulumi:prod",
  ...extra,
});

describe("core/releaseOutcome: how the release a pulumi up started ended", () => {
  it("waits through the steps, is done at the promotion or once the rollback window closes", () => {
    const { state } = run([start("v2", 0), { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by: "release-driver" }]);
    const id = state.releaseId as string;
    assert.deepEqual(releaseOutcome(state, id, "promoted", T0), { kind: "waiting", detail: "v2 (green) at 10%: step 1/2" });
    const promoted = run([start("v2", 0), { type: "promote", rollbackWindowMinutes: 30, at: at(20), by: "release-driver" }]).state;
    assert.equal(releaseOutcome(promoted, id, "promoted", T0).kind, "done");
    assert.deepEqual(releaseOutcome(promoted, id, "window-closed", Date.parse(at(49))), { kind: "waiting", detail: `promoted at ${at(20)}; rollback window open until ${at(50)}` });
    assert.equal(releaseOutcome(promoted, id, "window-closed", Date.parse(at(50))).kind, "done");
  });

  it("tells a rollback and an abort apart, and never takes an older release's rollback for this one", () => {
    const rolled = run([start("v2", 0), { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by: "release-driver" }, { type: "roll-back", failedSlot: Slot.Green, observedAt: at(2), reason: "release aborted: INC-9 latency", at: at(2), by: "operator:ana" }]);
    const id = rolled.state.releaseId as string;
    assert.deepEqual(releaseOutcome(rolled.state, id, "promoted", T0), { kind: "rolled-back", detail: `aborted at ${at(2)} by operator:ana: INC-9 latency (v2 -> v1)` });
    // The next up starts v3: waiting on it sees its own progress, not v2's rollback.
    const next = run([...rolledEvents(), { type: "acknowledge", at: at(3), by: "pulumi:prod" }, start("v3", 4)]);
    assert.equal(releaseOutcome(next.state, next.state.releaseId as string, "promoted", T0).kind, "waiting");
    assert.equal(releaseOutcome(next.state, id, "promoted", T0, next.history).kind, "rolled-back", "v2's own outcome is still its rollback");
  });

  it("follows a release a drill rolled back and then resumed: the same release, still waiting (issue 36, 3)", () => {
    const { state, history } = run([
      start("v2", 0),
      { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by: "release-driver" },
      { type: "roll-back", failedSlot: Slot.Green, observedAt: at(2), reason: "remedy drill by operator:ana: forced ALARM", at: at(2), by: "remedy-prod/payments/green/error-rate" },
    ]);
    const id = state.releaseId as string;
    assert.equal(releaseOutcome(state, id, "promoted", T0).kind, "rolled-back", "during the drill, a rollback");
    const t = applyEvent(state, { type: "resume-after-drill", releaseId: id, weight: 10, at: at(3), by: "operator:ana (drill restore)" });
    assert.equal(t.kind, "applied");
    assert.deepEqual([t.state.phase, t.state.releaseId, t.state.progress?.stepIndex, t.state.weights.green], ["releasing", id, 0, 10], "the same release at its step and weight");
    assert.deepEqual(releaseOutcome(t.state, id, "promoted", T0, history), { kind: "waiting", detail: "v2 (green) at 10%: step 1/2" });
    // Only that release, only rolled back, only to a weight above 0.
    assert.equal(applyEvent(state, { type: "resume-after-drill", releaseId: "green:v9:1", weight: 10, at: at(3), by: "x" }).kind, "unchanged");
    assert.equal(applyEvent(t.state, { type: "resume-after-drill", releaseId: id, weight: 10, at: at(4), by: "x" }).kind, "unchanged");
    assert.match(JSON.stringify(applyEvent(state, { type: "resume-after-drill", releaseId: id, weight: 0, at: at(3), by: "x" })), /"refused".*weight must be an integer 1\.\.100, got 0/);
  });

  it("holds for a person: a pause step, a failed pre-traffic check, manual weights, a replacement before promotion", () => {
    const paused = run([start("v2", 0, { progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10, pauseBeforeFull: true }), rollbackWindowMinutes: 0 } }), { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by: "release-driver" }, { type: "advance-step", stepIndex: 1, weight: 10, at: at(6), by: "release-driver" }]).state;
    assert.match(releaseOutcome(paused, paused.releaseId as string, "promoted", T0).detail, /paused: canary at 10% done; waiting for remedy promote; remedy promote payments moves it on/);
    const manual = run([start("v2", 0, { progressive: undefined, weight: 25 })]).state;
    assert.deepEqual(releaseOutcome(manual, manual.releaseId as string, "promoted", T0), { kind: "held", detail: "v2 (green) at 25% on manual weights: a person promotes it (stable: green in config)" });
    const check = { kind: "lambda" as const, functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:smoke", timeoutSeconds: 10 };
    const failed = run([start("v2", 0, { progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 0, preTraffic: { check, maxAttempts: 1 } } }), { type: "pre-traffic-result", attempt: 1, passed: false, reason: "hook reported Failed", at: at(1), by: "release-driver" }]).state;
    assert.equal(releaseOutcome(failed, failed.releaseId as string, "promoted", T0).detail, "pre-traffic check failed 1/1 (hook reported Failed); remedy promote payments runs it again");
    // v2 replaced by v3 before it was promoted (a new up shifted it away): held, naming the newer release.
    const replaced = run([start("v2", 0), { type: "shift-weight", weight: 0, at: at(1), by: "pulumi:prod" }, start("v3", 2)]);
    const v2 = replaced.history[0].releaseId as string;
    assert.match(releaseOutcome(replaced.state, v2, "promoted", T0, replaced.history).detail, /^replaced by release green:v3:\d+ before it was promoted/);
  });
});

function rolledEvents(): ReleaseEvent[] {
  return [start("v2", 0), { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by: "release-driver" }, { type: "roll-back", failedSlot: Slot.Green, observedAt: at(2), reason: "release aborted: INC-9 latency", at: at(2), by: "operator:ana" }];
}
