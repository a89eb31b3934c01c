/**
 * A lane hotfix through the program (issue 37, 2 and 3), under Pulumi's mocks, with release state
 * kept across updates: the update that changes a lane's image (with a hotfix reason) keeps the
 * image it ran before warm as `payments-legacy-prev` and arms the lane's alarms to go back to it;
 * after the rollback function did, the next update holds the lane there while config still names
 * the rolled-back image; accepting the rollback settles the lane on one image again.
 */
import { strict as assert } from "node:assert";
import { applyEvent } from "../../core/releaseState";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { laneRuleState } from "../../stacks/releasePlans";
import { type RawLegacyLane, normaliseLegacyLanes } from "../../core/config/legacyLane";
import { lane, stackYaml } from "../helpers/fixtures";
import { captureWarnings, type CapturedWarnings } from "../../cli/rehearsal/pulumiRuntime";
import { T, archiveFile, installMocks, ofType, one, recorded, settle, stackReferenceOutputs } from "../helpers/pulumiMocks";
import { allows } from "../helpers/iamPolicy";
import { runStackEntry } from "../helpers/stackProgram";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const SELF_REF = "acme/remedy/prod";
const OLD = lane().image as string;
const FIX = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"7".repeat(64)}`;
const REASON = "INC-5120: TLS to the card vault fails on the old client";

describe("stacks: a lane hotfix keeps the previous image to go back to (issue 37, 2)", () => {
  let backend: MemoryReleaseBackend;
  let restore: () => void;
  const warnings: string[] = [];
  let captured: CapturedWarnings;
  beforeEach(() => {
    backend = new MemoryReleaseBackend();
    restore = setReleaseBackendFactory(() => backend);
    captured = captureWarnings(warnings);
  });
  afterEach(() => {
    stackReferenceOutputs.delete(SELF_REF);
    restore();
    captured.restore();
  });

  const config = (laneOver: Record<string, unknown>) => {
    const c = structuredClone(stackYaml("prod")) as Obj;
    c["remedy:services"][0].legacy = [lane(laneOver)];
    return c;
  };
  const up = async (c: Obj) => {
    await installMocks("prod");
    recorded.resources.length = 0;
    warnings.length = 0;
    await runStackEntry(c);
    await settle();
  };
  const named = (type: string, name: string) => recorded.resources.filter((r) => r.type === type && r.name === name);
  const laneRuleWeights = () => ((named(T.rule, "payments-legacy")[0].inputs as Obj).actions[0].forward?.targetGroups as { weight: number }[] | undefined)?.map((g) => g.weight);

  it("runs the previous image beside the fix, arms the lane's alarms, records it, holds a rolled-back image and settles on acceptance", async () => {
    // The stack's last update ran the lane on OLD.
    stackReferenceOutputs.set(SELF_REF, { services: { payments: { legacy: [{ version: "v1.9.4", image: OLD }] } } });
    await up(config({}));
    // Act 1: the hotfix update.
    await up(config({ image: FIX, hotfix: { reason: REASON } }));
    const prev = named(T.deployment, "payments-legacy-prev");
    assert.equal(prev.length, 1, "the previous image stays warm");
    assert.equal((prev[0].inputs as Obj).spec.template.spec.containers[0].image, OLD);
    assert.equal((named(T.deployment, "payments-legacy")[0].inputs as Obj).spec.template.spec.containers[0].image, FIX);
    assert.deepEqual(laneRuleWeights(), [100, 0]);
    const laneAlarms = ofType(T.alarm).filter((a) => /\/payments\/legacy\//.test((a.inputs as Obj).name));
    assert.equal(laneAlarms.length, 4);
    for (const a of laneAlarms) assert.equal((a.inputs as Obj).alarmActions.length, 2, `${(a.inputs as Obj).name}: the rollback function and the topic`);
    const s = await backend.get("payments");
    assert.equal(s?.lanes?.legacy.image, FIX);
    assert.equal(s?.lanes?.legacy.rollback?.image, OLD);
    assert.match(backend.store.history.at(-1)?.summary ?? "", /^legacy lane legacy v1\.9\.4: HOTFIX payments@sha256:9f2c4e6a8b0d -> payments@sha256:7{12} \(payments@sha256:9f2c4e6a8b0d kept warm to go back to\)$/);

    // The rollback function sent the lane's callers back (as lambdas/commons/rollbackHandler.ts records it).
    const t = applyEvent(s as NonNullable<typeof s>, { type: "lane-roll-back", lane: "legacy", reason: "5xx rate 12%", at: new Date().toISOString(), by: "remedy-prod/payments/legacy/error-rate" });
    assert.equal(t.kind, "applied");
    if (t.kind === "applied") await backend.store.commit((s as NonNullable<typeof s>).revision, t.state, t.entry);
    stackReferenceOutputs.set(SELF_REF, { services: { payments: { legacy: [{ version: "v1.9.4", image: FIX, rollbackTo: OLD }] } } });

    // Act 2: an update that still names the fix holds the lane on the previous image.
    await up(config({ image: FIX, hotfix: { reason: REASON } }));
    assert.deepEqual(laneRuleWeights(), [0, 100], "Pulumi's inputs follow release state: never re-shipped");
    assert.equal(named(T.deployment, "payments-legacy-prev").length, 1, "what serves the callers keeps running");
    assert.ok(warnings.some((w) => /^service payments: legacy lane v1\.9\.4 is held on .*@sha256:9f2c.*: .*@sha256:7{64} was rolled back at .* \(5xx rate 12%\); set legacy\[0\]\.image to .* to accept/.test(w)), warnings.join("\n"));
    assert.ok((await backend.get("payments"))?.lanes?.legacy.rolledBack, "still recorded");

    // Act 3: accepting the rollback (the image it went back to, no hotfix).
    await up(config({}));
    assert.equal(named(T.deployment, "payments-legacy-prev").length, 0, "one image again");
    assert.equal((named(T.rule, "payments-legacy")[0].inputs as Obj).actions[0].type, "forward");
    const settled = await backend.get("payments");
    assert.equal(settled?.lanes?.legacy.rolledBack, undefined);
    assert.equal(settled?.lanes?.legacy.image, OLD);
    assert.match(backend.store.history.at(-1)?.summary ?? "", /rollback to payments@sha256:9f2c4e6a8b0d accepted$/);
  });

  it("retires a lane only once remedy retire allowed it: refused before anything is deployed, then removed and recorded (issue 37, 6 and 7)", async () => {
    stackReferenceOutputs.set(SELF_REF, { services: { payments: { legacy: [{ version: "v1.9.4", image: OLD }] } } });
    await up(config({}));
    const without = structuredClone(stackYaml("prod")) as Obj;
    // Act 1: the lane left config, nobody ran remedy retire.
    await assert.rejects(up(without), /services\[0\]\.legacy: no longer has lane v1\.9\.4, but remedy retire has not allowed its retirement: run remedy retire payments --outputs <pulumi stack output --json> until it does/);
    assert.deepEqual(recorded.resources.filter((r) => !r.type.startsWith("remedy:") && r.type !== "pulumi:pulumi:StackReference"), [], "refused before anything is deployed");
    // A refusal recorded is still a refusal.
    backend.retirements.set("payments v1.9.4", { at: "2026-12-07T09:00:00.000Z", allowed: false });
    await assert.rejects(up(without), /the latest remedy retire \(2026-12-07T09:00:00\.000Z\) refused it/);
    // Act 2: allowed.
    backend.retirements.set("payments v1.9.4", { at: "2026-12-07T10:00:00.000Z", allowed: true });
    await up(without);
    assert.equal(named(T.rule, "payments-legacy").length, 0, "its rule goes");
    assert.equal(named(T.tg, "payments-legacy").length, 0, "its target group goes");
    assert.equal(named(T.deployment, "payments-legacy").length, 0, "its Deployment goes");
    assert.ok(warnings.some((w) => w === "service payments: legacy lane v1.9.4 retires in this update (remedy retire allowed it at 2026-12-07T10:00:00.000Z); its rule, target group and Deployment go"), warnings.join("\n"));
    assert.equal(backend.store.history.at(-1)?.summary, "legacy lane legacy v1.9.4 retired");
    assert.deepEqual((await backend.get("payments"))?.lanes, {});
  });

  it("keeps the rule answering 410 with the recorded text after the driver retired the lane at its sunset (laneRuleState)", async () => {
    stackReferenceOutputs.set(SELF_REF, { services: { payments: { legacy: [{ version: "v1.9.4", image: OLD }] } } });
    await up(config({}));
    const s = await backend.get("payments");
    assert.ok(s?.lanes?.legacy.sunset, "pulumi up records the sunset in force and the active clients");
    assert.deepEqual(s.lanes.legacy.sunset.activeClients, [], "none declared");
    assert.match(s.lanes.legacy.sunset.message, /^410 Gone: payments v1\.9\.4 was retired on \d{4}-\d{2}-\d{2}; use the current version: https:\/\/docs\.example\.com\/payments\/v1-sunset$/);
    const [spec] = normaliseLegacyLanes([lane() as RawLegacyLane], 2);
    const retired = { ...s, lanes: { legacy: { ...s.lanes.legacy, sunsetDecision: { at: new Date().toISOString(), allowed: true, blockers: [] } } } };
    assert.deepEqual(laneRuleState(retired, "legacy", spec, new Date().toISOString()), { rolledBack: false, brownout: true, message: s.lanes.legacy.sunset.message });
    assert.deepEqual(laneRuleState(s, "legacy", spec, new Date().toISOString()), { rolledBack: false, brownout: false });
  });

  it("gives the release driver the lanes to keep, and only a lane with brownouts to its ModifyRule (issue 37, 5 and 7)", async () => {
    const at = `${new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10)}T10:00:00Z`;
    stackReferenceOutputs.set(SELF_REF, {});
    await up(config({ brownouts: [{ start: at, minutes: 30 }] }));
    const driver = one("aws:lambda/function:Function", "release-driver").inputs as Obj;
    const file = JSON.parse(await archiveFile(driver.code as Obj, "driver.json")) as Obj;
    assert.deepEqual(file.lanes, ["payments"]);
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "release-driver").inputs.policy as string) as Obj;
    const rule = named(T.rule, "payments-legacy")[0];
    const tags = (rule.inputs as Obj).tags as Obj;
    assert.equal(tags["remedy:release-driver"], "remedy-prod");
    assert.ok(await allows(policy as never, { action: "elasticloadbalancing:ModifyRule", resource: rule.state.arn as string, context: { "aws:ResourceTag/remedy:release-driver": tags["remedy:release-driver"] } }), "the brownout's move");
    assert.ok(await allows(policy as never, { action: "dynamodb:Query", resource: one("aws:dynamodb/table:Table", "rollback-releases").state.arn as string }), "the evidence read at a sunset");
    assert.ok(await allows(policy as never, { action: "cloudwatch:GetMetricData", resource: "*" }), "the daily evidence");
    const s = await backend.get("payments");
    assert.deepEqual(s?.lanes?.legacy.brownouts?.windows, [{ start: new Date(at).toISOString(), end: new Date(Date.parse(at) + 30 * 60_000).toISOString() }], "the schedule the driver runs, recorded by pulumi up");
  });
});
