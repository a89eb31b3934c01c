/**
 * `pulumi up` converging on release state: the prod program run several times under Pulumi
 * mocks against one in-memory release store, with the rollback Lambda's transition applied to
 * the store in between, as it would be in AWS.
 */
import { strict as assert } from "node:assert";
import { captureWarnings, type CapturedWarnings } from "../../cli/rehearsal/pulumiRuntime";
import { planRelease } from "../../core/converge";
import { parseStackConfig } from "../../core/config";
import { Phase, applyEvent, initialState } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { buildStack } from "../../stacks/program";
import { checkLiveSlots, desiredRelease, prepareReleases } from "../../stacks/releasePlans";
import { snapshotReads } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { remedyConfig } from "../helpers/fixtures";
import { allows } from "../helpers/iamPolicy";
import { T, one, ofType, recorded, ruleWeights, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments";
const T0 = Date.parse("2026-11-24T10:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** Pulumi.prod.yaml's config with `payments` changed by `edit`. */
function prodWith(edit: (payments: Obj) => void = () => undefined) {
  const raw = JSON.parse(JSON.stringify(remedyConfig("prod"))) as Obj;
  edit(raw.services[0] as Obj);
  return parseStackConfig(raw);
}

describe("stacks: pulumi up converges on release state", () => {
  let backend: MemoryReleaseBackend;
  const warnings: string[] = [];
  let captured: CapturedWarnings;

  before(() => {
    captured = captureWarnings(warnings);
  });
  after(() => captured.restore());
  beforeEach(() => {
    backend = new MemoryReleaseBackend();
    warnings.length = 0;
  });

  async function up(minutes: number, edit?: (payments: Obj) => void) {
    recorded.resources.length = 0;
    warnings.length = 0;
    buildStack(prodWith(edit), { alarmNamePrefix: "remedy-prod", releases: backend, by: "pulumi:prod", now: at(minutes) });
    await settle();
    return { weights: ruleWeights("payments"), state: await backend.get("payments") };
  }

  /** What the rollback Lambda does to release state when the green error-rate alarm fires. */
  async function alarmRollsBack(minutes: number) {
    const s = await backend.get("payments");
    if (!s) throw new Error("no state");
    const t = applyEvent(s, {
      type: "roll-back",
      failedSlot: Slot.Green,
      observedAt: at(minutes),
      reason: "Threshold Crossed: 5xx rate 12.5 >= 2.0",
      at: at(minutes),
      by: "remedy-prod/payments/green/error-rate",
    });
    if (t.kind !== "applied") throw new Error(t.reason);
    await backend.store.commit(s.revision, t.state, t.entry);
  }

  it("records the first release: adopts the stable version, then starts the candidate at its weight", async () => {
    const { weights, state } = await up(0);
    assert.deepEqual(weights, { blue: 90, green: 10 });
    assert.equal(state?.phase, Phase.Releasing);
    assert.deepEqual(state?.candidate, { slot: "green", version: "v2.3.1", image: `${ECR}:v2.3.1` }, "the image is recorded with the version");
    assert.deepEqual(backend.store.history.filter((h) => h.service === "payments").map((h) => h.action), ["start-release"]);
    assert.ok(state?.routing.ruleArn.includes("listener-rule/"), "routing recorded from the deployed rule");
    // orders (stable green, blue warm at 0%) and catalog (one slot) are simply adopted.
    assert.equal((await backend.get("orders"))?.phase, Phase.Stable);
    assert.equal((await backend.get("catalog"))?.stable.version, "2026.11.3");
  });

  it("after an automatic rollback, an unchanged `up` keeps 100% on stable and warns; nothing is recorded", async () => {
    await up(0);
    await alarmRollsBack(5);
    const before = (await backend.get("payments"))?.revision;
    const { weights, state } = await up(10);
    assert.deepEqual(weights, { blue: 100, green: 0 });
    assert.equal(state?.revision, before, "no write");
    assert.deepEqual(warnings, [
      `service payments: candidate v2.3.1 was rolled back at ${at(5)} by alarm remedy-prod/payments/green/error-rate: Threshold Crossed: 5xx rate 12.5 >= 2.0; change the candidate image or set services.payments.acknowledgeRollback to "v2.3.1"`,
    ]);
    assert.deepEqual(backend.weightsSet, [], "the rule already matches release state");
    // And again: no perpetual drift.
    assert.deepEqual((await up(11)).weights, { blue: 100, green: 0 });
  });

  it("a new candidate image starts a new release", async () => {
    await up(0);
    await alarmRollsBack(5);
    const { weights, state } = await up(10, (p) => {
      p.slots.green.image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.2";
    });
    assert.deepEqual(weights, { blue: 90, green: 10 });
    assert.equal(state?.phase, Phase.Releasing);
    assert.equal(state?.candidate?.version, "v2.3.2");
    assert.deepEqual(warnings, []);
  });

  it("acknowledging the rolled-back version clears the hold; a wrong version is named and ignored", async () => {
    await up(0);
    await alarmRollsBack(5);
    const wrong = await up(10, (p) => {
      p.acknowledgeRollback = "v2.3.0";
    });
    assert.deepEqual(wrong.weights, { blue: 100, green: 0 });
    assert.match(warnings[1] ?? "", /acknowledgeRollback "v2\.3\.0" does not match the rolled-back version "v2\.3\.1"; ignored/);
    const { weights, state } = await up(11, (p) => {
      p.acknowledgeRollback = "v2.3.1";
    });
    assert.deepEqual(weights, { blue: 90, green: 10 });
    assert.equal(state?.phase, Phase.Releasing);
    const actions = backend.store.history.filter((h) => h.service === "payments").map((h) => h.action);
    assert.deepEqual(actions, ["start-release", "roll-back", "acknowledge", "start-release"]);
  });

  it("promotes in history and scales the old slot down once the rollback window is over", async () => {
    await up(0);
    const promote = (p: Obj) => {
      p.stable = "green";
      p.candidate = { weight: 0 };
      p.rollbackWindowMinutes = 30;
    };
    const promoted = await up(5, promote);
    assert.deepEqual(promoted.weights, { blue: 0, green: 100 });
    assert.equal(promoted.state?.phase, Phase.Promoted);
    assert.deepEqual(promoted.state?.previous, { slot: "blue", version: "v2.3.0", image: `${ECR}:v2.3.0` });
    const blueReplicas = () => (ofType(T.deployment).find((d) => d.name === "payments-blue")?.inputs as Obj).spec.replicas as number;
    assert.equal(blueReplicas(), 3, "warm within the window");
    await up(20, promote);
    assert.equal(blueReplicas(), 3, "still warm 15 minutes after promotion");
    await up(38, promote);
    assert.equal(blueReplicas(), 3, "still warm 3 minutes after the window (the grace a last-moment rollback needs)");
    await up(40, promote);
    assert.equal(blueReplicas(), 0, "scaled down 35 minutes after promotion (window + 5 min grace)");
  });

  it("keeps the previous slot at full size during the window, even if config gives it fewer replicas", async () => {
    await up(0);
    const promote = (p: Obj) => {
      p.stable = "green";
      p.candidate = { weight: 0 };
      p.rollbackWindowMinutes = 30;
      p.slots.blue.replicas = 1;
    };
    await up(5, promote);
    const replicas = (name: string) => (ofType(T.deployment).find((d) => d.name === name)?.inputs as Obj).spec.replicas as number;
    assert.equal(replicas("payments-blue"), 3, "the rollback target can take all traffic back");
    assert.equal((await backend.get("payments"))?.rollbackWindowEndsAt, at(35));
    await up(40, promote);
    assert.equal(replicas("payments-blue"), 0);
  });

  it("after a post-promotion rollback, an unchanged `up` holds the failed version at 0% until config or an acknowledgement says otherwise", async () => {
    // Prepare: v2.3.1 promoted with a 30-minute window, then its alarm fires at minute 10.
    await up(0);
    const promote = (p: Obj) => {
      p.stable = "green";
      p.candidate = { weight: 0 };
      p.rollbackWindowMinutes = 30;
    };
    await up(5, promote);
    const s = await backend.get("payments");
    if (!s) throw new Error("no state");
    const t = applyEvent(s, { type: "roll-back", failedSlot: Slot.Green, observedAt: at(10), reason: "p99 3.1 s", at: at(10), by: "remedy-prod/payments/green/latency-p99" });
    if (t.kind !== "applied") throw new Error(t.reason);
    await backend.store.commit(s.revision, t.state, t.entry);
    // Act: the same config (stable: green) again.
    const held = await up(12, promote);
    // Assess: traffic stays on v2.3.0, blue at full size, nothing written, and the warning says what to do.
    assert.deepEqual(held.weights, { blue: 100, green: 0 });
    assert.equal(held.state?.revision, t.state.revision);
    assert.equal((ofType(T.deployment).find((d) => d.name === "payments-blue")?.inputs as Obj).spec.replicas, 3);
    assert.deepEqual(warnings, [
      `service payments: promoted v2.3.1 was rolled back to v2.3.0 at ${at(10)} by alarm remedy-prod/payments/green/latency-p99: p99 3.1 s; traffic stays on v2.3.0 (blue). Set services.payments.stable to "blue", or set services.payments.acknowledgeRollback to "v2.3.1" to send traffic back to it`,
    ]);
    // Config made blue stable again: the ordinary hold of a rolled-back candidate.
    const swapped = await up(15, (p) => {
      p.rollbackWindowMinutes = 30;
    });
    assert.deepEqual(swapped.weights, { blue: 100, green: 0 });
    assert.match(warnings[0] ?? "", /candidate v2\.3\.1 was rolled back/);
    // Or: acknowledging sends traffic back to the promoted version.
    const acked = await up(16, (p) => {
      promote(p);
      p.acknowledgeRollback = "v2.3.1";
    });
    assert.deepEqual(acked.weights, { blue: 0, green: 100 });
    assert.equal(acked.state?.phase, Phase.Stable);
    assert.deepEqual(acked.state?.stable, { slot: "green", version: "v2.3.1", image: `${ECR}:v2.3.1` });
  });

  /** Applies the driver's events to the stored payments record, one conditional write each. */
  async function driver(...events: Parameters<typeof applyEvent>[1][]) {
    for (const e of events) {
      const s = await backend.get("payments");
      if (!s) throw new Error("no state");
      const t = applyEvent(s, e);
      if (t.kind !== "applied") throw new Error(`${e.type}: ${t.kind === "refused" ? t.reason : "unchanged"}`);
      await backend.store.commit(s.revision, t.state, t.entry);
    }
  }
  const replicasOf = (name: string) => (ofType(T.deployment).find((d) => d.name === name)?.inputs as Obj).spec.replicas as number;
  const canaryLagging = (p: Obj) => {
    delete p.candidate;
    p.strategy = { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 };
    p.rollbackWindowMinutes = 30;
  };

  /** The reviewed path: start-release (canary) -> 10% -> 100% -> promote -> retire-previous, all by the driver. */
  async function driverPromotesAndRetires() {
    await up(0, canaryLagging);
    const by = "release-driver";
    await driver(
      { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by },
      { type: "advance-step", stepIndex: 1, weight: 100, at: at(6), by },
      { type: "promote", rollbackWindowMinutes: 30, at: at(16), by },
      { type: "retire-previous", at: at(52), by },
    );
  }

  it("never plans 0 replicas for the slot serving 100% after the driver promoted and retired, with config still naming the old stable (issue 34, 1)", async () => {
    // Prepare: start-release (canary) -> 10% -> 100% -> promote -> retire-previous, all by the driver.
    await driverPromotesAndRetires();
    // Act: the next up, config unchanged (stable: blue v2.3.0, green v2.3.1).
    const next = await up(60, canaryLagging);
    // Assess: green serves 100% at its configured size; only the retired blue is at 0.
    assert.deepEqual(next.weights, { blue: 0, green: 100 });
    assert.equal(replicasOf("payments-green"), 3, "the live slot keeps its pods");
    assert.equal(replicasOf("payments-blue"), 0, "the retired slot stays as the driver left it");
    assert.equal(next.state?.revision, (await backend.get("payments"))?.revision);
  });

  it("refuses config that lags a driver promotion and puts a new version onto the live slot, before anything is registered (issue 34, 2)", async () => {
    // Prepare: the driver promoted green (v2.3.1) and retired blue (v2.3.0); config still says stable: blue.
    await driverPromotesAndRetires();
    const before = await backend.get("payments");
    // Act: the operator puts v2.4.0 into green, believing green is the candidate.
    const lagging = prodWith((p) => {
      canaryLagging(p);
      p.slots.green.image = `${ECR}:v2.4.0`;
    });
    // Assess: refused by the program's pre-check, naming the live slot and the edit; nothing written.
    await assert.rejects(checkLiveSlots(lagging, backend), (e: Error) => {
      assert.equal(e.name, "LiveSlotError");
      assert.match(e.message, /service payments: release state says green is live \(v2\.3\.1, promoted at .*; v2\.3\.0 \(blue\) was promoted away and scaled to 0 at .*, 100% of traffic\)/);
      assert.match(e.message, /config calls blue stable and puts v2\.4\.0 into green: that would deploy v2\.4\.0 onto the live slot with no canary/);
      assert.match(e.message, /set services\.payments\.stable to "green" with green's image at v2\.3\.1, and put v2\.4\.0 into blue \(the candidate slot\)/);
      return true;
    });
    assert.throws(() => planRelease(desiredRelease(lagging.services[0]), before, at(60), "pulumi:prod"), { name: "LiveSlotConflictError" }, "the plan refuses it too, whoever calls buildStack");
    assert.equal((await backend.get("payments"))?.revision, before?.revision, "nothing recorded");
    // The edit the message asks for is a release of v2.4.0 into blue at 0% for the driver.
    const fixed = await up(61, (p) => {
      canaryLagging(p);
      p.stable = "green";
      p.slots.blue.image = `${ECR}:v2.4.0`;
    });
    assert.deepEqual(fixed.weights, { blue: 0, green: 100 });
    assert.deepEqual([fixed.state?.phase, fixed.state?.candidate?.version, fixed.state?.stable.version], [Phase.Releasing, "v2.4.0", "v2.3.1"]);
    assert.ok(replicasOf("payments-blue") > 0, "the new candidate rolls out before the driver gives it traffic");
  });

  it("takes a candidate that has traffic to 0% before another version rolls out into its slot, then releases the new one", async () => {
    // Prepare: v2.3.1 on green at 10% (Pulumi.prod.yaml).
    await up(0);
    const next = (p: Obj) => {
      p.slots.green.image = `${ECR}:v2.3.2`;
    };
    // Act: the update's first step, before anything is registered.
    const told = await prepareReleases(prodWith(next), backend, { now: at(5), by: "pulumi:prod", dryRun: false });
    // Assess: recorded at 0% and the rule moved with it, before the rollout; then the release of v2.3.2.
    assert.deepEqual(told, ["service payments: v2.3.1 (green) at 10% taken to 0% before v2.3.2 rolls out into green; it gets traffic once it has rolled out"]);
    assert.deepEqual((await backend.get("payments"))?.weights, { blue: 100, green: 0 });
    assert.deepEqual(backend.weightsSet.at(-1)?.weights, { blue: 100, green: 0 });
    const after = await up(6, next);
    assert.deepEqual([after.weights, after.state?.candidate?.version], [{ blue: 90, green: 10 }, "v2.3.2"]);
    assert.deepEqual(backend.store.history.filter((h) => h.service === "payments").map((h) => h.action).slice(-2), ["shift-weight", "start-release"]);
    // A preview only says so; a candidate at 0% or the same version is left alone.
    assert.match((await prepareReleases(prodWith((p) => (p.slots.green.image = `${ECR}:v2.3.3`)), backend, { now: at(7), by: "pulumi:prod", dryRun: true }))[0] ?? "", /v2\.3\.2 \(green\) at 10% will be taken to 0% before v2\.3\.3 rolls out/);
    assert.deepEqual(await prepareReleases(prodWith(next), backend, { now: at(7), by: "pulumi:prod", dryRun: false }), []);
  });

  it("refuses moving a service to another ingress group before anything is registered, with the release-safe steps (issue 34, 6)", async () => {
    // Prepare: payments deployed on the default group's ALB (recorded with its routing).
    await up(0);
    assert.equal((await backend.get("payments"))?.routing.ingressGroup, "default");
    const moved = (() => {
      const raw = JSON.parse(JSON.stringify(remedyConfig("prod"))) as Obj;
      raw.ingress = { ...(raw.ingress as Obj), groups: { internal: {} } };
      (raw.services as Obj[])[0].ingressGroup = "internal";
      return parseStackConfig(raw);
    })();
    // Act + Assess
    await assert.rejects(prepareReleases(moved, backend, { now: at(1), by: "pulumi:prod", dryRun: false }), (e: Error) => {
      assert.equal(e.name, "IngressMoveError");
      assert.match(e.message, /service payments: ingressGroup changes from "default" to "internal", but its target groups belong to the "default" load balancer, and an ALB target group serves one load balancer only\. Nothing was changed\./);
      assert.match(e.message, /move it in two updates: \(1\) add the service again under a new name with ingressGroup "internal" .*\(2\) remove payments$/);
      return true;
    });
    // A record written before the group was kept is not refused (the next up records it).
    const s = await backend.get("payments");
    if (!s) throw new Error("no state");
    const routing = { ...s.routing };
    delete (routing as { ingressGroup?: string }).ingressGroup;
    backend.store.states.set("payments", { ...s, routing });
    assert.deepEqual(await prepareReleases(moved, backend, { now: at(1), by: "pulumi:prod", dryRun: true }), []);
  });

  it("progressive: starts the release at 0% for the driver, follows the driver's steps, and keeps its promotion", async () => {
    // Prepare: payments as a canary (no candidate.weight: the driver sets it).
    const canary = (p: Obj) => {
      delete p.candidate;
      p.strategy = { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 };
    };
    // Act 1: the first up starts the release at 0% with the strategy recorded.
    const first = await up(0, canary);
    assert.deepEqual(first.weights, { blue: 100, green: 0 });
    assert.equal(first.state?.phase, Phase.Releasing);
    assert.deepEqual(first.state?.progress?.strategy.steps.map((st) => (st.kind === "weight" ? st.weight : "pause")), [10, 100]);
    assert.equal(first.state?.progress?.stepIndex, -1);
    // The driver moves it to 10%; an unchanged up follows (never resets it to config).
    const s = first.state;
    if (!s) throw new Error("no state");
    const step = applyEvent(s, { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by: "release-driver" });
    if (step.kind !== "applied") throw new Error(step.reason);
    await backend.store.commit(s.revision, step.state, step.entry);
    const followed = await up(2, canary);
    assert.deepEqual(followed.weights, { blue: 90, green: 10 });
    assert.equal(followed.state?.revision, step.state.revision, "nothing written");
    // The driver promotes: an up with config still naming blue stable keeps green and says so.
    const promoted = applyEvent(step.state, { type: "promote", rollbackWindowMinutes: 60, at: at(20), by: "release-driver" });
    if (promoted.kind !== "applied") throw new Error(promoted.reason);
    await backend.store.commit(step.state.revision, promoted.state, promoted.entry);
    const after = await up(21, canary);
    assert.deepEqual(after.weights, { blue: 0, green: 100 });
    assert.match(warnings[0] ?? "", /the release driver promoted v2\.3\.1 \(green\) at .*; set services\.payments\.stable to "green"/);
    // Config catches up: the previous slot is warm through the window, then scaled to 0.
    const caughtUp = await up(30, (p) => {
      canary(p);
      p.stable = "green";
    });
    assert.deepEqual(caughtUp.weights, { blue: 0, green: 100 });
    assert.equal(caughtUp.state?.phase, Phase.Promoted);
    // And the release driver exists, allowed to step only this rule.
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "release-driver").inputs.policy as string) as Obj;
    const stepRules = (policy.Statement as Obj[]).find((st) => st.Sid === "StepThisStacksRules") as Obj;
    assert.deepEqual(stepRules.Condition, { StringEquals: { "aws:ResourceTag/remedy:release-driver": "remedy-prod" } });
    const tags = (one(T.rule, "payments").inputs as Obj).tags as Obj;
    assert.equal(tags["remedy:release-driver"], "remedy-prod", "the progressive rule carries the driver's tag");
    assert.ok(await allows(policy as never, { action: "elasticloadbalancing:ModifyRule", resource: one(T.rule, "payments").state.arn as string, context: { "aws:ResourceTag/remedy:release-driver": tags["remedy:release-driver"] } }));
    // Each tick reads the rule's tags (issue 35, 14).
    assert.ok(await allows(policy as never, { action: "elasticloadbalancing:DescribeTags", resource: "*" }));
    assert.equal((one("aws:cloudwatch/eventRule:EventRule", "release-driver").inputs as Obj).scheduleExpression, "rate(1 minute)");
    const permission = one("aws:lambda/permission:Permission", "release-driver-schedule").inputs as Obj;
    assert.equal(permission.principal, "events.amazonaws.com");
    assert.equal(permission.sourceArn, one("aws:cloudwatch/eventRule:EventRule", "release-driver").state.arn);
    assert.match(permission.sourceArn as string, /^arn:aws:events:eu-west-1:123456789012:rule\/release-driver-/);
  });

  it("progressive: when the driver steps while `up` is running, the rule follows the driver, not the plan", async () => {
    // Prepare: a canary at step 0 (10%), planned by an up...
    const canary = (p: Obj) => {
      delete p.candidate;
      p.strategy = { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 };
    };
    const first = await up(0, canary);
    const s0 = first.state;
    if (!s0) throw new Error("no state");
    const step0 = applyEvent(s0, { type: "advance-step", stepIndex: 0, weight: 10, at: at(1), by: "release-driver" });
    if (step0.kind !== "applied") throw new Error(step0.reason);
    await backend.store.commit(s0.revision, step0.state, step0.entry);
    const desired = { service: "payments", stable: { slot: Slot.Blue, version: "v2.3.0" }, candidate: { slot: Slot.Green, version: "v2.3.1" }, weight: 0, rollbackWindowMinutes: 60, strategy: step0.state.progress?.strategy };
    const plan = planRelease(desired, step0.state, at(6), "pulumi:prod");
    assert.deepEqual(plan.weights, { blue: 90, green: 10 });
    assert.deepEqual(plan.events, [], "an up never writes a progressive release's weights");
    // ...and the driver moves it to 100% before that up records.
    const step1 = applyEvent(step0.state, { type: "advance-step", stepIndex: 2, weight: 100, at: at(6), by: "release-driver" });
    if (step1.kind !== "applied") throw new Error(step1.reason);
    await backend.store.commit(step0.state.revision, step1.state, step1.entry);
    // Act
    const r = await backend.record("payments", step0.state.routing, plan.events, plan.weights);
    // Assess: the rule is put where the driver recorded it.
    assert.deepEqual(backend.weightsSet.map((w) => w.weights), [{ blue: 0, green: 100 }]);
    assert.ok(r.warnings.some((w) => /the rule now follows it: blue 0% \/ green 100%/.test(w)), r.warnings.join("\n"));
  });

  it("follows release state when the Lambda rolls back while `up` is running", async () => {
    await up(0);
    // Plan with the state before the rollback, record after it.
    const plan = planRelease(
      { service: "payments", stable: { slot: Slot.Blue, version: "v2.3.0" }, candidate: { slot: Slot.Green, version: "v2.3.1" }, weight: 25, rollbackWindowMinutes: 60 },
      await backend.get("payments"),
      at(6),
      "pulumi:prod",
    );
    assert.deepEqual(plan.weights, { blue: 75, green: 25 });
    await alarmRollsBack(6);
    const routing = (await backend.get("payments"))?.routing;
    if (!routing) throw new Error("no routing");
    const r = await backend.record("payments", routing, plan.events, plan.weights);
    assert.equal(r.state.phase, Phase.RolledBack);
    assert.deepEqual(backend.weightsSet.map((w) => w.weights), [{ blue: 100, green: 0 }], "rule put back to release state");
    assert.ok(r.warnings.some((w) => /release state changed while this update ran \(phase rolled-back\); the rule now follows it: blue 100% \/ green 0%/.test(w)), r.warnings.join("\n"));
  });
});

describe("core/converge: planRelease (pure)", () => {
  const desired = { service: "payments", stable: { slot: Slot.Blue, version: "v1" }, candidate: { slot: Slot.Green, version: "v2" }, weight: 10, rollbackWindowMinutes: 60 };

  it("plans adopt + start-release for a service with no state, at the configured weights", () => {
    const p = planRelease(desired, undefined, at(0), "pulumi:prod");
    assert.deepEqual(p.weights, { blue: 90, green: 10 });
    assert.deepEqual(p.events.map((e) => e.type), ["adopt", "start-release"]);
    assert.equal(p.held, false);
  });

  it("only adopts a warm non-stable slot at weight 0; it is not a release", () => {
    const p = planRelease({ ...desired, weight: 0 }, undefined, at(0), "pulumi:prod");
    assert.deepEqual(p.events.map((e) => e.type), ["adopt"]);
    assert.deepEqual(p.weights, { blue: 100, green: 0 });
  });

  it("warns when config makes a rolled-back version stable by hand, and records it", () => {
    let s = initialState("payments", { slot: Slot.Blue, version: "v1" }, { ruleArn: "arn:aws:x", targetGroupArns: { blue: "arn:aws:b", green: "arn:aws:g" }, stickinessSeconds: 0 }, at(0));
    for (const e of [
      { type: "start-release" as const, candidate: { slot: Slot.Green, version: "v2" }, weight: 10, at: at(1), by: "p" },
      { type: "roll-back" as const, failedSlot: Slot.Green, observedAt: at(2), reason: "5xx", at: at(2), by: "alarm" },
    ]) s = applyEvent(s, e).state;
    const p = planRelease({ ...desired, stable: { slot: Slot.Green, version: "v2" }, candidate: { slot: Slot.Blue, version: "v1" }, weight: 0 }, s, at(3), "pulumi:prod");
    assert.deepEqual(p.events.map((e) => e.type), ["adopt"]);
    assert.match(p.warnings[0] ?? "", /stable set to v2, which was rolled back at .* \(5xx\); recorded as a manual change/);
  });

  it("scales the promoted-away slot down no earlier than the stickiness after the promotion, and at once once the driver retired it", () => {
    // Prepare: v2 (green) promoted at minute 1 with a 60-minute window; 2 hours of stickiness.
    let s = initialState("payments", { slot: Slot.Blue, version: "v1" }, { ruleArn: "arn:aws:x", targetGroupArns: { blue: "arn:aws:b", green: "arn:aws:g" }, stickinessSeconds: 7200 }, at(0));
    for (const e of [
      { type: "start-release" as const, candidate: { slot: Slot.Green, version: "v2" }, weight: 10, at: at(0), by: "p" },
      { type: "promote" as const, rollbackWindowMinutes: 60, at: at(1), by: "p" },
    ]) s = applyEvent(s, e).state;
    const promoted = { ...desired, stable: { slot: Slot.Green, version: "v2" }, candidate: { slot: Slot.Blue, version: "v1" }, weight: 0 };
    // Act + Assess: the window + grace (66) is not enough; promotion + 120 min (121) is.
    assert.equal(planRelease(promoted, s, at(66), "pulumi:prod").scaleDownPrevious, false);
    assert.equal(planRelease(promoted, s, at(120), "pulumi:prod").keepPreviousWarm, true);
    assert.equal(planRelease(promoted, s, at(121), "pulumi:prod").scaleDownPrevious, true);
    // Retired by the driver (its record is the truth, even where this up's clock or config would
    // still keep it warm, e.g. a longer rollbackWindowMinutes now): planned at 0.
    const retired = applyEvent(s, { type: "retire-previous", at: at(121), by: "release-driver" }).state;
    const p = planRelease({ ...promoted, rollbackWindowMinutes: 600 }, { ...retired, rollbackWindowEndsAt: null }, at(122), "pulumi:prod");
    assert.deepEqual([p.scaleDownPrevious, p.keepPreviousWarm, p.retired], [true, false, { slot: Slot.Blue, at: at(121), keep: true }]);
    // Going back to it (config makes it stable): not kept at 0, and the retire is named.
    const back = planRelease({ ...desired, candidate: null, weight: 0 }, retired, at(122), "pulumi:prod");
    assert.deepEqual([back.scaleDownPrevious, back.retired, back.weights], [false, { slot: Slot.Blue, at: at(121), keep: false }, { blue: 100, green: 0 }]);
  });

  it("snapshotReads: one read per service per program run; records still go to the store", async () => {
    const inner = new MemoryReleaseBackend();
    let reads = 0;
    const counting = { get: (svc: string) => ((reads += 1), inner.get(svc)), record: inner.record.bind(inner) };
    const b = snapshotReads(counting);
    assert.equal(await b.get("payments"), undefined);
    assert.equal(await b.get("payments"), undefined);
    await b.get("orders");
    assert.equal(reads, 2);
    // Recording checks the routing against the rule and pulumi up's naming: real-shaped ARNs.
    const tg = (slot: string) => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-${slot}-0123abcd/50dc6c495c0c9188`;
    const routing = { ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/1/2/3", targetGroupArns: { blue: tg("blue"), green: tg("green") }, stickinessSeconds: 0 };
    const r = await b.record("payments", routing, [{ type: "adopt", stable: { slot: Slot.Blue, version: "v1" }, at: at(0), by: "pulumi:prod" }], { blue: 100, green: 0 });
    assert.equal(r.state.stable.version, "v1");
    assert.equal((await inner.get("payments"))?.stable.version, "v1");
  });
});
