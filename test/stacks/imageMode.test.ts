/**
 * Image mode through the program: config names only the version; each `up` resolves the slot
 * from release state (as `stacks/main.ts` does), builds the stack under Pulumi mocks and records
 * the release in an in-memory store; the release driver's and the rollback Lambda's transitions
 * are applied to that store in between, as they would be in AWS.
 */
import { strict as assert } from "node:assert";
import { captureWarnings, type CapturedWarnings } from "../../cli/rehearsal/pulumiRuntime";
import { parseStackConfig } from "../../core/config";
import { Phase, type ReleaseEvent, applyEvent } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { resolveImageMode } from "../../stacks/main";
import { buildStack } from "../../stacks/program";
import { MemoryReleaseBackend } from "../../stacks/releases";
import { remedyConfig } from "../helpers/fixtures";
import { validateK8sObject } from "../helpers/k8sSchema";
import { T, dependsOn, ofType, one, recorded, ruleWeights, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments";
const T0 = Date.parse("2026-12-01T10:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** Pulumi.prod.yaml with payments in image mode at `version` (its stable/slots/candidate removed). */
function imageConfig(version: string): Obj {
  const raw = JSON.parse(JSON.stringify(remedyConfig("prod"))) as Obj;
  const p = raw.services[0] as Obj;
  delete p.stable;
  delete p.slots;
  delete p.candidate;
  Object.assign(p, { image: ECR, version, strategy: { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }, rollbackWindowMinutes: 60 });
  return raw;
}

describe("stacks: image mode (set the version, remedy picks the idle slot)", () => {
  let backend: MemoryReleaseBackend;
  const warnings: string[] = [];
  let captured: CapturedWarnings;
  before(() => {
    captured = captureWarnings(warnings);
  });
  after(() => captured.restore());
  beforeEach(() => {
    backend = new MemoryReleaseBackend();
  });

  async function up(minutes: number, raw: Obj) {
    recorded.resources.length = 0;
    warnings.length = 0;
    const config = await resolveImageMode(parseStackConfig(raw), backend, at(minutes));
    buildStack(config, { alarmNamePrefix: "remedy-prod", releases: backend, by: "pulumi:prod", now: at(minutes) });
    await settle();
    const weights = ruleWeights("payments");
    const deployments = Object.fromEntries(
      ofType(T.deployment)
        .filter((d) => d.name.startsWith("payments-"))
        .map((d) => [d.name.slice("payments-".length), { image: (d.inputs as Obj).spec.template.spec.containers[0].image as string, replicas: (d.inputs as Obj).spec.replicas as number }]),
    );
    return { weights, deployments, state: await backend.get("payments"), warnings: [...warnings] };
  }

  /** The release driver's or the rollback Lambda's write. */
  async function happens(event: ReleaseEvent) {
    const s = await backend.get("payments");
    if (!s) throw new Error("no state");
    const t = applyEvent(s, event);
    if (t.kind !== "applied") throw new Error(`${event.type}: ${t.reason}`);
    await backend.store.commit(s.revision, t.state, t.entry);
  }

  it("releases each new version into whichever slot is idle, follows the driver, and never names a slot in config", async () => {
    // Act 1: first deployment of v2.3.0 -> blue, recorded with its image.
    const first = await up(0, imageConfig("v2.3.0"));
    assert.deepEqual(first.weights, { blue: 100, green: 0 });
    assert.deepEqual(first.deployments, { blue: { image: `${ECR}:v2.3.0`, replicas: 3 } });
    assert.deepEqual(first.state?.stable, { slot: "blue", version: "v2.3.0", image: `${ECR}:v2.3.0` });

    // Act 2: only the version changes -> v2.3.1 goes into green at 0%, for the driver; blue keeps v2.3.0.
    const second = await up(1, imageConfig("v2.3.1"));
    assert.deepEqual(second.weights, { blue: 100, green: 0 });
    assert.deepEqual(second.deployments.blue, { image: `${ECR}:v2.3.0`, replicas: 3 });
    assert.deepEqual(second.deployments.green, { image: `${ECR}:v2.3.1`, replicas: 3 });
    assert.equal(second.state?.phase, Phase.Releasing);
    assert.deepEqual(second.state?.candidate, { slot: "green", version: "v2.3.1", image: `${ECR}:v2.3.1` });
    assert.equal(second.state?.progress?.stepIndex, -1);

    // The driver steps to 10% and promotes; unchanged ups follow and say nothing about slots.
    await happens({ type: "advance-step", stepIndex: 0, weight: 10, at: at(2), by: "release-driver" });
    const stepping = await up(3, imageConfig("v2.3.1"));
    assert.deepEqual(stepping.weights, { blue: 90, green: 10 });
    await happens({ type: "advance-step", stepIndex: 2, weight: 100, at: at(8), by: "release-driver" });
    await happens({ type: "promote", rollbackWindowMinutes: 60, at: at(18), by: "release-driver" });
    const promoted = await up(19, imageConfig("v2.3.1"));
    assert.deepEqual(promoted.weights, { blue: 0, green: 100 });
    assert.deepEqual(promoted.warnings, [], "no 'set services.payments.stable' chore in image mode");
    assert.deepEqual(promoted.deployments.blue, { image: `${ECR}:v2.3.0`, replicas: 3 }, "the previous version stays warm through the window");
    assert.equal(promoted.state?.phase, Phase.Promoted);

    // After the window the previous slot scales to 0 (still the old image, ready to scale back).
    const later = await up(84, imageConfig("v2.3.1")); // window end 78 + 5 min grace
    assert.deepEqual(later.deployments.blue, { image: `${ECR}:v2.3.0`, replicas: 0 });

    // Act 3: the next version goes into blue, now the idle slot.
    const third = await up(85, imageConfig("v2.3.2"));
    assert.deepEqual(third.deployments.blue, { image: `${ECR}:v2.3.2`, replicas: 3 });
    assert.deepEqual(third.deployments.green, { image: `${ECR}:v2.3.1`, replicas: 3 });
    assert.deepEqual(third.state?.candidate, { slot: "blue", version: "v2.3.2", image: `${ECR}:v2.3.2` });
    assert.deepEqual(third.weights, { blue: 0, green: 100 });

    // It fails at 10%: the rollback Lambda sends traffic back; an unchanged up holds it, never re-ships it.
    await happens({ type: "advance-step", stepIndex: 0, weight: 10, at: at(86), by: "release-driver" });
    await happens({ type: "roll-back", failedSlot: Slot.Blue, observedAt: at(87), reason: "Threshold Crossed: 5xx rate 9.1 >= 2.0", at: at(87), by: "remedy-prod/payments/blue/error-rate" });
    const held = await up(88, imageConfig("v2.3.2"));
    assert.deepEqual(held.weights, { blue: 0, green: 100 });
    assert.equal(held.state?.phase, Phase.RolledBack);
    assert.match(held.warnings.join("\n"), /candidate v2\.3\.2 was rolled back at .* set services\.payments\.acknowledgeRollback to "v2\.3\.2"/);
    // Setting the live version again drops the failed one from the idle slot.
    const back = await up(89, imageConfig("v2.3.1"));
    assert.deepEqual(Object.keys(back.deployments), ["green"]);
    assert.deepEqual(back.weights, { blue: 0, green: 100 });
  });

  it("a record written before image mode learns its images from a slot-mode up, after which image mode works", async () => {
    // Prepare: state as an older remedy wrote it (no images).
    const slotMode = JSON.parse(JSON.stringify(remedyConfig("prod"))) as Obj;
    delete slotMode.services[0].slots.green;
    delete slotMode.services[0].candidate;
    await up(0, slotMode);
    const s = await backend.get("payments");
    if (!s) throw new Error("no state");
    backend.store.states.set("payments", { ...s, stable: { slot: Slot.Blue, version: "v2.3.0" } });

    // Act + Assess: image mode refuses, naming the key and the fix; nothing is recorded.
    const before = backend.store.history.length;
    await assert.rejects(up(1, imageConfig("v2.3.1")), /services\[0\]\.image: release state of payments does not record the image of its stable version v2\.3\.0 \(blue\)/);
    assert.equal(backend.store.history.length, before);
    // A slot-mode up records the image; then image mode releases into green.
    await up(2, slotMode);
    assert.equal(backend.store.history.at(-1)?.action, "record-images");
    assert.equal((await backend.get("payments"))?.stable.image, `${ECR}:v2.3.0`);
    const released = await up(3, imageConfig("v2.3.1"));
    assert.deepEqual(released.state?.candidate, { slot: "green", version: "v2.3.1", image: `${ECR}:v2.3.1` });
  });

  it("records the pre-traffic check with the release and lets the driver invoke only the named hook", async () => {
    // Prepare
    const hook = "arn:aws:lambda:eu-west-1:123456789012:function:payments-smoke";
    const withHook = (version: string) => {
      const raw = imageConfig(version);
      Object.assign(raw.services[0] as Obj, { preTraffic: { lambda: { functionArn: hook }, attempts: 2 } });
      return raw;
    };
    await up(0, withHook("v2.3.0"));

    // Act
    const r = await up(1, withHook("v2.3.1"));

    // Assess
    assert.deepEqual(r.state?.progress?.preTraffic, { check: { kind: "lambda", functionArn: hook, timeoutSeconds: 10 }, maxAttempts: 2, attempts: 0 });
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "release-driver").inputs.policy as string) as Obj;
    const invoke = (policy.Statement as Obj[]).filter((st) => (st.Action as string[]).some((a) => a.startsWith("lambda:")));
    assert.deepEqual(invoke, [{ Sid: "InvokePreTrafficHooks", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [hook] }]);
  });

  it("gives the release driver scale access to the progressive services' Deployments only, through a per-stack EKS access entry", async () => {
    // Act
    await up(0, imageConfig("v2.3.0"));

    // Assess: the access entry maps the driver's role to a group of this stack.
    const entry = one("aws:eks/accessEntry:AccessEntry", "release-driver").inputs as Obj;
    const role = one("aws:iam/role:Role", "release-driver");
    assert.equal(entry.clusterName, "platform-eks");
    assert.equal(entry.principalArn, role.state.arn);
    assert.deepEqual(entry.kubernetesGroups, ["remedy-prod-release-driver"]);
    assert.equal(entry.type, "STANDARD");
    // RBAC: get + patch on payments' two Deployments, nothing else, in its namespace.
    const rbacRole = one("kubernetes:rbac.authorization.k8s.io/v1:Role", "release-driver-payments");
    const binding = one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "release-driver-payments");
    assert.deepEqual((rbacRole.inputs as Obj).rules, [{ apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["payments-blue", "payments-green"], verbs: ["get", "patch"] }]);
    assert.equal((rbacRole.inputs as Obj).metadata.namespace, "payments");
    assert.deepEqual((binding.inputs as Obj).subjects, [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "remedy-prod-release-driver" }]);
    assert.deepEqual((binding.inputs as Obj).roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "remedy-prod-release-driver" });
    for (const r of [rbacRole, binding]) {
      validateK8sObject(r);
      assert.match(r.provider ?? "(default provider)", /::pulumi:providers:kubernetes::cluster::/, "on the stack's cluster provider");
    }
    assert.ok(dependsOn(binding, one("aws:eks/accessEntry:AccessEntry", "release-driver")), "the binding waits for the access entry");
    // The function knows where the cluster is and what it may scale.
    const fnEnv = (one("aws:lambda/function:Function", "release-driver").inputs as Obj).environment.variables as Obj;
    assert.match(fnEnv.KUBE_ENDPOINT as string, /^https:\/\/[0-9A-F]+\.gr7\.eu-west-1\.eks\.amazonaws\.com$/);
    assert.equal(Buffer.from(fnEnv.KUBE_CA as string, "base64").toString(), "mock CA of platform-eks");
    assert.equal(fnEnv.KUBE_CLUSTER, "platform-eks");
    assert.deepEqual(JSON.parse(fnEnv.RETIRE_NAMESPACES as string), { payments: "payments" });
    assert.deepEqual(JSON.parse(fnEnv.DRIVER_SERVICES as string), ["payments"], "it reads these services' state by key, never scans the table");
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "release-driver").inputs.policy as string) as Obj;
    const stateAccess = (policy.Statement as Obj[]).find((st) => st.Sid === "ReleaseState") as Obj;
    assert.deepEqual(stateAccess.Action, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"]);

    // Act 2: driverAccess off -> no entry, no RBAC, no cluster settings.
    const off = imageConfig("v2.3.0");
    off.kubernetes = { ...(off.kubernetes as Obj), driverAccess: false };
    await up(1, off);
    assert.equal(ofType("aws:eks/accessEntry:AccessEntry").length, 0);
    assert.equal(ofType("kubernetes:rbac.authorization.k8s.io/v1:Role").length, 0);
    assert.equal(((one("aws:lambda/function:Function", "release-driver").inputs as Obj).environment.variables as Obj).KUBE_ENDPOINT, undefined);
  });
});
