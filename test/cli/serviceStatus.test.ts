/**
 * remedy status <service> against moto: a progressive canary with a pre-traffic check that
 * failed once then passed, one step taken, an alarm in ALARM (set through the emulator).
 */
import { strict as assert } from "node:assert";
import { normalizeStrategy } from "../../core/progressive";
import { type ReleaseEvent, applyEvent } from "../../core/releaseState";
import type { ServiceDetail } from "../../cli/commands/serviceStatus";
import { runRemedy } from "../helpers/cli";
import { useMoto } from "../helpers/moto";
import { createWorld, type World } from "../helpers/rollbackWorld";

describe("cli: remedy status <service>", function () {
  this.timeout(60_000);
  const suite = useMoto();
  let world: World;

  beforeEach(async () => {
    // Recorded before the events below (2026-12-01): history never goes back in time (core/releaseState.ts).
    world = await createWorld(suite.moto.endpoint, ["payments", "orders"], 10, { recordedAt: Date.UTC(2026, 10, 30) });
  });

  /** Applies `events` to payments' recorded state, committing each as the writers would. */
  async function record(events: ReleaseEvent[]): Promise<void> {
    let state = await world.store.get("payments");
    for (const e of events) {
      if (!state) throw new Error("no state");
      const t = applyEvent(state, e);
      if (t.kind !== "applied") throw new Error(t.reason);
      await world.store.commit(state.revision, t.state, t.entry);
      state = t.state;
    }
  }

  it("shows each step with when it started, the check's runs, every alarm with its state and reason", async () => {
    // Prepare: v3 as a canary (10% for 5 min, a pause, then 100% and a 10 min bake), its HTTP
    // check failed once and passed, the first step taken; payments' green latency alarm fires.
    const check = { kind: "http" as const, url: "https://api.example.com/payments/healthz", header: "x-remedy-candidate", value: "0123456789abcdef", expectStatus: [200, 299] as const, timeoutSeconds: 5 };
    const at = (m: number) => new Date(Date.UTC(2026, 11, 1, 10, m)).toISOString();
    await record([
      { type: "shift-weight", weight: 0, at: at(0), by: "pulumi:test" },
      {
        type: "start-release",
        candidate: { slot: "green", version: "v3" },
        weight: 0,
        progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10, pauseBeforeFull: true }), rollbackWindowMinutes: 60, preTraffic: { check, maxAttempts: 3 } },
        at: at(1),
        by: "pulumi:test",
      },
      { type: "pre-traffic-result", attempt: 1, passed: false, reason: "GET https://api.example.com/payments/healthz answered 503", at: at(2), by: "release-driver" },
      { type: "pre-traffic-result", attempt: 2, passed: true, reason: "GET https://api.example.com/payments/healthz answered 200", at: at(3), by: "release-driver" },
      { type: "advance-step", stepIndex: 0, weight: 10, at: at(3), by: "release-driver" },
    ]);
    await world.setAlarm(world.services.payments.alarmNames.green["latency-p99"], "ALARM");

    // Act
    const j = await runRemedy(["status", "payments", "--stack", "test", "--json"]);
    const t = await runRemedy(["status", "payments", "--stack", "test"]);

    // Assess: JSON
    assert.equal(j.code, 0, j.err);
    const d = JSON.parse(j.out) as ServiceDetail;
    assert.deepEqual([d.phase, d.stable, d.candidate], ["releasing", { version: "v1", slot: "blue", weight: 90 }, { version: "v3", slot: "green", weight: 10 }]);
    assert.deepEqual(
      d.release?.steps.map((s) => [s.kind, s.weight ?? s.reason, s.state, s.startedAt ?? null, s.until ?? null]),
      [
        ["weight", 10, "current", at(3), at(8)],
        ["pause", "pauseBeforeFull: waiting for remedy promote", "pending", null, null],
        ["weight", 100, "pending", null, null],
        ["bake", 100, "pending", null, null],
      ].map((r) => (r[0] === "pause" ? [r[0], d.release?.steps[1].reason, r[2], r[3], r[4]] : r)),
    );
    assert.equal(d.preTraffic?.passedAt, at(3));
    assert.deepEqual(d.preTraffic?.runs.map((r) => r.at), [at(2), at(3)]);
    assert.match(d.preTraffic?.runs[0].result ?? "", /answered 503/);
    assert.equal(d.alarms.length, 8, "four kinds on each slot");
    const latency = d.alarms.find((a) => a.slot === "green" && a.kind === "latency-p99");
    assert.equal(latency?.state, "ALARM");
    assert.ok((latency?.reason ?? "").length > 0);
    // Assess: text within 100 columns, with the current step and the firing alarm.
    assert.equal(t.code, 0, t.err);
    for (const l of t.out.split("\n")) assert.ok(l.length <= 100, `${l.length}: ${l}`);
    assert.match(t.out, /^payments \(stack test\): releasing, revision \d+, updated /);
    assert.match(t.out, /\n {2}steps {9}1\. 10% for 5 min: NOW since 2026-12-01 10:03:00, until 2026-12-01 10:08:00 \(due\)\n/);
    assert.match(t.out, /\n {16}2\. pause: canary at 10% done; waiting for remedy promote: pending\n/);
    assert.match(t.out, /\n {16}- {2}bake 10 min at 100%: pending\n/);
    assert.match(t.out, /\n {2}pre-traffic {3}http GET https:\/\/api\.example\.com\/payments\/healthz \(expects 200-299\): passed at\n {16}2026-12-01 10:03:00\n/);
    assert.match(t.out, /\n {16}2026-12-01 10:02:00 {2}pre-traffic check of v3 \(green\) failed \(1\/3\): GET\n {37}https:\/\/api\.example\.com\/payments\/healthz answered 503\n/);
    assert.match(t.out, /\n {16}green\/latency-p99 {7}ALARM {13}Threshold Crossed: /);
    assert.match(t.out, /\n {16}green\/error-rate {8}OK\n/);
  });

  it("names an unknown service", async () => {
    const r = await runRemedy(["status", "billing", "--stack", "test"]);
    assert.deepEqual([r.code, r.err], [2, "remedy status: unknown service billing in stack test (known: orders, payments)"]);
  });
});
