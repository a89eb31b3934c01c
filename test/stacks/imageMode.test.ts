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
import { samePolicy } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { remedyConfig } from "../helpers/fixtures";
import { validateK8sObject } from "../helpers/k8sSchema";
import { T, archiveFile, dependsOn, mockCluster, ofType, one, promiseOf, recorded, resetMockCluster, ruleWeights, settle } from "../helpers/pulumiMocks";
import { allows, denies } from "../helpers/iamPolicy";
import { iamProblems } from "../helpers/iamReference";
import { createHash } from "node:crypto";
import { DriverAccessError } from "../../stacks/program";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as https from "node:https";
import { PATCH_FORCE_ANNOTATION, RETIRED_AT_ANNOTATION } from "../../components/delivery/blueGreenService";
import { createKubeScaler, eksToken } from "../../lambdas/commons/kube";
import { type FakeKubeApi, startFakeKubeApi } from "../helpers/fakeKubeApi";

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
    const objects = Object.fromEntries(ofType(T.deployment).filter((d) => d.name.startsWith("payments-")).map((d) => [d.name.slice("payments-".length), d.inputs as Obj]));
    return { weights, deployments, objects, state: await backend.get("payments"), warnings: [...warnings] };
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

  it("keeps the test route's secret out of release records: the driver reads it from a Secrets Manager secret only its role may read (issue 35, 12)", async () => {
    // Prepare
    const SECRET = "5f0c2a9e1b7d4c3a8e6f";
    const withHttpCheck = (version: string) => {
      const raw = imageConfig(version);
      Object.assign(raw.services[0] as Obj, { preTraffic: { http: { url: "https://api.example.com/payments/healthz" } }, testRoute: { priority: 5, value: SECRET } });
      return raw;
    };
    await up(0, withHttpCheck("v2.3.0"));

    // Act
    const r = await up(1, withHttpCheck("v2.3.1"));

    // Assess: the record names the header and the value's hash, never the value.
    const check = r.state?.progress?.preTraffic?.check;
    assert.equal(check?.kind, "http");
    assert.equal(check?.kind === "http" ? check.valueSha256 : undefined, createHash("sha256").update(SECRET).digest("hex"));
    assert.ok(!JSON.stringify(backend.store.states.get("payments")).includes(SECRET), "the stored record");
    assert.ok(!backend.store.history.some((h) => JSON.stringify(h).includes(SECRET)), "history");
    // The driver's secret holds it; the function's environment names the secret, not the value.
    const version = one("aws:secretsmanager/secretVersion:SecretVersion", "release-driver-test-routes");
    // Registered as a Pulumi secret (encrypted in state, masked in output).
    const secretString = version.inputs.secretString as { [k: string]: unknown; value?: string };
    assert.equal(secretString[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig, JSON.stringify(secretString));
    assert.deepEqual(JSON.parse(secretString.value as string), { payments: SECRET });
    const secretArn = one("aws:secretsmanager/secret:Secret", "release-driver-test-routes").state.arn as string;
    const fn = one("aws:lambda/function:Function", "release-driver").inputs as Obj;
    assert.equal(fn.environment.variables.TEST_ROUTE_SECRET_ARN, secretArn);
    assert.ok(!JSON.stringify(fn).includes(SECRET), "not in the function's configuration (GetFunctionConfiguration shows it)");
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "release-driver").inputs.policy as string) as Obj;
    assert.ok(await allows(policy as never, { action: "secretsmanager:GetSecretValue", resource: secretArn }));
    assert.equal(await allows(policy as never, { action: "secretsmanager:GetSecretValue", resource: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod-db-password-AbCdEf` }), false, "no other secret");
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
    assert.deepEqual((rbacRole.inputs as Obj).rules, [
      { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["payments-blue", "payments-green"], verbs: ["get"] },
      { apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: ["payments-blue", "payments-green"], verbs: ["patch"] },
    ]);
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
    // What grows with the stack is in the code package, not the 4 KB environment.
    assert.deepEqual(Object.keys(fnEnv).sort(), ["ALARM_PREFIX", "KUBE_CA", "KUBE_CLUSTER", "KUBE_ENDPOINT", "NOTIFY_STEPS", "NOTIFY_TOPIC_ARN", "POWERTOOLS_SERVICE_NAME", "RELEASE_TABLE", "STACK_NAME"]);
    // It tells people as releases move, on the stack's topic (every step only when asked).
    const stackTopicArn = one("aws:sns/topic:Topic", "rollback-notifications").state.arn;
    assert.ok(stackTopicArn, "the topic's ARN");
    assert.deepEqual([fnEnv.NOTIFY_TOPIC_ARN, fnEnv.STACK_NAME, fnEnv.NOTIFY_STEPS], [stackTopicArn, "prod", "false"]);
    const code = (one("aws:lambda/function:Function", "release-driver").inputs as Obj).code as Obj;
    // payments is stepped; orders (two slots, manual weights) only watched; catalog (one slot) neither.
    assert.deepEqual(JSON.parse(await archiveFile(code, "driver.json")), { services: ["payments"], watch: ["orders"], namespaces: { payments: "payments" } }, "it reads these services' state by key, never scans the table");
    const driverTag = (rule: string) => ((one(T.rule, rule).inputs as Obj).tags as Obj)["remedy:release-driver"];
    assert.deepEqual(["payments", "orders", "catalog"].map(driverTag), ["remedy-prod", "remedy-prod", undefined], "the driver may move the rules it steps or watches, no other");
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "release-driver").inputs.policy as string) as Obj;
    const stateAccess = (policy.Statement as Obj[]).find((st) => st.Sid === "ReleaseState") as Obj;
    assert.deepEqual(stateAccess.Action, ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]);
    const sid = (id: string) => (policy.Statement as Obj[]).find((st) => st.Sid === id) as Obj;
    assert.deepEqual([sid("Notify").Action, sid("Notify").Resource], [["sns:Publish"], [fnEnv.NOTIFY_TOPIC_ARN]]);
    assert.deepEqual(sid("NotifyTopicKey").Action, ["kms:GenerateDataKey", "kms:Decrypt"]);
    assert.deepEqual(sid("NotificationOutbox").Action, ["dynamodb:Query"]);
    // The topic lets the driver's role publish (its policy denies every other principal).
    const topicPolicy = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy", "rollback-notifications").inputs.policy as string) as Obj;
    const publishers = ((topicPolicy.Statement as Obj[]).find((st) => st.Sid === "StackRolesPublish") as Obj).Principal.AWS as string[];
    const driverRole = one("aws:iam/role:Role", "release-driver");
    assert.ok(publishers.some((p) => p.includes(driverRole.name)), `${JSON.stringify(publishers)} includes the release driver's role`);

    // One tick at a time by the table's lease; the reservation only bounds a flood of invokes
    // (a concurrency of 1 let one throttle the schedule's ticks, issue 35, 19). Failures page.
    const fn = one("aws:lambda/function:Function", "release-driver");
    assert.equal((fn.inputs as Obj).reservedConcurrentExecutions, 5);
    assert.equal((fn.inputs as Obj).vpcConfig, undefined);
    const errors = one("aws:cloudwatch/metricAlarm:MetricAlarm", "release-driver-errors").inputs as Obj;
    const topic = one("aws:sns/topic:Topic", "rollback-notifications").state.arn;
    assert.deepEqual(
      [errors.name, errors.namespace, errors.metricName, errors.dimensions, errors.statistic, errors.period, errors.evaluationPeriods, errors.datapointsToAlarm, errors.threshold, errors.treatMissingData, errors.alarmActions],
      ["remedy-prod-release-driver-errors", "AWS/Lambda", "Errors", { FunctionName: fn.state.name ?? (fn.inputs as Obj).name }, "Sum", 60, 5, 3, 1, "notBreaching", [topic]],
    );
    assert.ok(!String(errors.name).startsWith("remedy-prod/"), "not an alarm the rollback Lambda acts on");

    // Act 2: driverAccess off -> no entry, no RBAC, no cluster settings.
    const off = imageConfig("v2.3.0");
    off.kubernetes = { ...(off.kubernetes as Obj), driverAccess: false };
    await up(1, off);
    assert.equal(ofType("aws:eks/accessEntry:AccessEntry").length, 0);
    assert.equal(ofType("kubernetes:rbac.authorization.k8s.io/v1:Role").length, 0);
    assert.equal(((one("aws:lambda/function:Function", "release-driver").inputs as Obj).environment.variables as Obj).KUBE_ENDPOINT, undefined);
  });

  it("keeps each TargetGroupBinding's name while its target group stays (records from before keep <service>-<slot>), and names a replaced group's binding after it", async () => {
    // Prepare: a stack deployed before binding names were recorded (its routing has none).
    await up(0, imageConfig("v2.3.0"));
    const s0 = await backend.get("payments");
    if (!s0) throw new Error("no state");
    const legacyRouting = { ...s0.routing };
    delete legacyRouting.bindings;
    backend.store.states.set("payments", { ...s0, routing: legacyRouting });
    const tgbName = (slot: string) => ((one(T.tgb, `payments-${slot}`).inputs as Obj).metadata as Obj).name as string;

    // Act 1: the upgrade's first up.
    await up(1, imageConfig("v2.3.0"));
    // Assess 1: no rename (a second binding of the same group is refused by the controller's webhook).
    assert.equal(tgbName("blue"), "payments-blue");
    assert.equal((await backend.get("payments"))?.routing.bindings?.blue, "payments-blue", "recorded");

    // Act 2: a later up keeps it; a port change replaces the target group.
    await up(2, imageConfig("v2.3.0"));
    assert.equal(tgbName("blue"), "payments-blue");
    const moved = imageConfig("v2.3.0");
    (moved.services[0] as Obj).port = 9090;
    await up(3, moved);
    // Assess 2: the new group's binding has a new name: created beside the old one, not after deleting it.
    const newGroup = one(T.tg, "payments-blue").inputs.name as string;
    assert.equal(tgbName("blue"), `payments-blue-${newGroup.slice(-8)}`);
    assert.equal(one(T.tgb, "payments-blue").options.deleteBeforeReplace, false);
    assert.equal((await backend.get("payments"))?.routing.bindings?.blue, `payments-blue-${newGroup.slice(-8)}`);
  });

  describe("replicas of a slot the release driver scaled down (server-side apply stand-in)", function () {
    this.timeout(60_000);
    const CREDS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
    /** The Kubernetes provider's field manager in SSA mode: `pulumi-kubernetes-<random suffix>` (pulumi-kubernetes#2271). */
    const PULUMI_MANAGER = "pulumi-kubernetes-5b0d2f3a";
    let api: FakeKubeApi;
    before(async () => {
      api = await startFakeKubeApi();
    });
    after(() => api.close());

    /**
     * What the Kubernetes provider does with a Deployment on `up`: a server-side apply as its field
     * manager, with `force` when the object carries `pulumi.com/patchForce: "true"`.
     */
    async function providerApply(inputs: Obj, opts: { dropForce?: boolean } = {}): Promise<{ status: number; body: Obj }> {
      const annotations = { ...((inputs.metadata as Obj).annotations as Obj | undefined) };
      if (opts.dropForce) delete annotations[PATCH_FORCE_ANNOTATION];
      const object = { ...inputs, metadata: { ...(inputs.metadata as Obj), annotations } };
      const force = annotations[PATCH_FORCE_ANNOTATION] === "true";
      const meta = inputs.metadata as Obj;
      const token = await eksToken("platform-eks", "eu-west-1", CREDS);
      const url = new URL(`${api.endpoint}/apis/apps/v1/namespaces/${String(meta.namespace)}/deployments/${String(meta.name)}?fieldManager=${PULUMI_MANAGER}&force=${force}`);
      const body = JSON.stringify(object);
      return new Promise((resolve, reject) => {
        const req = https.request(
          url,
          { method: "PATCH", ca: Buffer.from(api.certificateAuthorityData, "base64"), headers: { authorization: `Bearer ${token}`, "content-type": "application/apply-patch+yaml", "content-length": Buffer.byteLength(body) } },
          (res) => {
            let text = "";
            res.on("data", (c: Buffer) => (text += c.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Obj }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    }
    const driverScaler = () => createKubeScaler({ endpoint: api.endpoint, certificateAuthorityData: api.certificateAuthorityData, cluster: "platform-eks", region: "eu-west-1", credentials: CREDS });
    const owners = (path: string) => [...(api.managedFields.get("payments/payments-blue") ?? new Map<string, Set<string>>())].filter(([, set]) => set.has(path)).map(([m]) => m).sort();

    it("up, the driver retires the slot, up with a new version into that slot: the apply takes .spec.replicas back", async () => {
      // Prepare: v2.3.0 in blue, v2.3.1 released into green and promoted; every up applied.
      const applyAll = async (r: { objects: Record<string, Obj> }) => {
        for (const o of Object.values(r.objects)) assert.equal((await providerApply(o)).status, 200);
      };
      await applyAll(await up(0, imageConfig("v2.3.0")));
      await applyAll(await up(1, imageConfig("v2.3.1")));
      await happens({ type: "advance-step", stepIndex: 1, weight: 100, at: at(2), by: "release-driver" });
      await happens({ type: "promote", rollbackWindowMinutes: 60, at: at(18), by: "release-driver" });
      await applyAll(await up(19, imageConfig("v2.3.1")));
      assert.deepEqual(owners(".spec.replicas"), [`${PULUMI_MANAGER}|Apply`]);

      // Act 1: the driver scales blue to 0 (its JSON Patch makes it the owner of .spec.replicas).
      const scaled = await driverScaler().scaleToZeroIfImage("payments", "payments-blue", `${ECR}:v2.3.0`);
      assert.equal(scaled.outcome, "scaled");
      await happens({ type: "retire-previous", at: at(84), by: "release-driver" });
      assert.deepEqual(owners(".spec.replicas"), ["remedy-release-driver|Update"]);

      // Act 2: an unchanged up learns of it: blue is planned at 0, as the cluster runs it.
      const learned = await up(85, imageConfig("v2.3.1"));
      assert.deepEqual(learned.deployments.blue, { image: `${ECR}:v2.3.0`, replicas: 0 });
      await applyAll(learned);

      // Act 3: the next version goes into blue at full size.
      const next = await up(86, imageConfig("v2.3.2"));
      assert.deepEqual(next.deployments.blue, { image: `${ECR}:v2.3.2`, replicas: 3 });
      // Without patchForce the provider's apply conflicts with the driver, as on a real cluster...
      const unforced = await providerApply(next.objects.blue, { dropForce: true });
      assert.equal(unforced.status, 409);
      assert.match(String(unforced.body.message), /^Apply failed with 1 conflict: conflict with "remedy-release-driver" using apps\/v1: \.spec\.replicas$/);
      // ...with it (as the program sets it), the apply succeeds and Pulumi owns replicas again.
      const forced = await providerApply(next.objects.blue);
      assert.equal(forced.status, 200, JSON.stringify(forced.body));
      assert.deepEqual(api.deployments.get("payments/payments-blue"), { image: `${ECR}:v2.3.2`, replicas: 3 });
      assert.deepEqual(owners(".spec.replicas"), [`${PULUMI_MANAGER}|Apply`]);
    });

    it("re-releasing the retired version brings its slot back in a changed Deployment, so the rollout gates traffic", async () => {
      // Prepare: promoted, blue warm at 3 replicas in the last up; then the driver retired it.
      await up(0, imageConfig("v2.3.0"));
      await up(1, imageConfig("v2.3.1"));
      await happens({ type: "advance-step", stepIndex: 1, weight: 100, at: at(2), by: "release-driver" });
      await happens({ type: "promote", rollbackWindowMinutes: 60, at: at(18), by: "release-driver" });
      const warm = await up(19, imageConfig("v2.3.1"));
      assert.deepEqual(warm.deployments.blue, { image: `${ECR}:v2.3.0`, replicas: 3 });
      await happens({ type: "retire-previous", at: at(84), by: "release-driver" });

      // Act: going back to v2.3.0 (it goes into blue, where it still is, at full size).
      const back = await up(90, imageConfig("v2.3.0"));

      // Assess: same image and replicas as Pulumi's last inputs, but the Deployment changed (the
      // retire is named), so the provider re-applies 3 replicas and awaits them; the rule waits.
      assert.deepEqual(back.deployments.blue, { image: `${ECR}:v2.3.0`, replicas: 3 });
      assert.equal(((back.objects.blue.metadata as Obj).annotations as Obj)[RETIRED_AT_ANNOTATION], at(84));
      assert.notDeepEqual(back.objects.blue, warm.objects.blue, "Pulumi sees a diff");
      assert.ok(dependsOn(one(T.rule, "payments"), one(T.deployment, "payments-blue")));
      assert.equal(back.state?.candidate?.version, "v2.3.0");
      assert.equal(back.weights.blue, 0, "the release starts at 0% for the driver");
    });

    it("slot mode: making the retired slot stable again gives it 100% only after its Deployment changed back to full size", async () => {
      // Prepare: slot mode, v2.3.1 in green promoted by config with a 60-minute window.
      const slots = (stable: string, withGreen = true): Obj => {
        const raw = JSON.parse(JSON.stringify(remedyConfig("prod"))) as Obj;
        const p = raw.services[0] as Obj;
        delete p.candidate;
        p.rollbackWindowMinutes = 60;
        p.stable = stable;
        if (!withGreen) delete (p.slots as Obj).green;
        return raw;
      };
      await up(0, slots("blue", false));
      const promoted = await up(1, slots("blue"));
      assert.equal(promoted.state?.phase, "stable");
      await up(2, { ...slots("blue"), services: [{ ...(slots("blue").services as Obj[])[0], candidate: { weight: 10 } }] });
      const atGreen = await up(3, slots("green"));
      assert.equal(atGreen.state?.phase, Phase.Promoted);
      assert.deepEqual(atGreen.deployments.blue.replicas, 3, "warm through the window");
      await happens({ type: "retire-previous", at: at(70), by: "release-driver" });

      // Act: config goes back to blue (green dropped).
      const back = await up(71, slots("blue", false));

      // Assess
      assert.deepEqual(back.weights, { blue: 100, green: 0 });
      assert.equal(((back.objects.blue.metadata as Obj).annotations as Obj)[RETIRED_AT_ANNOTATION], at(70));
      assert.notDeepEqual(back.objects.blue, atGreen.objects.blue, "a diff: the provider scales it back up before the rule moves");
      assert.ok(dependsOn(one(T.rule, "payments"), one(T.deployment, "payments-blue")));
    });
  });

  it("limits writes to the release table to the roles that need them, by a resource policy", async () => {
    // Prepare
    const raw = imageConfig("v2.3.0");
    raw.rollback = { ...(raw.rollback as Obj | undefined), operatorRoleArns: ["arn:aws:iam::123456789012:role/oncall"] };
    // Act
    await up(0, raw);
    // Assess
    const rp = one("aws:dynamodb/resourcePolicy:ResourcePolicy", "release-table").inputs as Obj;
    const table = one("aws:dynamodb/table:Table", "rollback-releases").state.arn as string;
    assert.equal(rp.resourceArn, table);
    const [deny] = (JSON.parse(rp.policy as string) as { Statement: Obj[] }).Statement;
    assert.equal(deny.Effect, "Deny");
    assert.equal(deny.Principal, "*");
    assert.equal(deny.Resource, table, "the table itself: no denied action has another resource type (issue 34, 3)");
    for (const a of ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate"]) assert.ok((deny.Action as string[]).includes(a), a);
    assert.ok(!(deny.Action as string[]).some((a) => /Get|Query|Scan|Describe/.test(a)), "reads stay with IAM");
    assert.deepEqual(
      (deny.Condition as Obj).ArnNotEquals["aws:PrincipalArn"],
      [one("aws:iam/role:Role", "rollback").state.arn, one("aws:iam/role:Role", "release-driver").state.arn, "arn:aws:iam::123456789012:user/ci", "arn:aws:iam::123456789012:role/oncall"].sort(),
      "the two Lambdas' roles, the identity running pulumi up, the operators",
    );
  });

  it("lets the promotion policy's approvers write (their approvals), sessions of their roles with or without a path, and nobody else more (issue 38, 7)", async () => {
    // Prepare: prod takes releases from staging, approved by release managers (a session pattern) or the CAB role (with a path).
    const raw = imageConfig("v2.3.0");
    raw.promotion = { sources: [{ stack: "organization/remedy/staging" }], soakMinutes: 60, approvals: { count: 1, approvers: ["arn:aws:sts::123456789012:assumed-role/release-managers/*", "arn:aws:iam::123456789012:role/governance/cab"] } };
    // Act
    await up(0, raw);
    // Assess
    const rp = one("aws:dynamodb/resourcePolicy:ResourcePolicy", "release-table").inputs as Obj;
    const policy = JSON.parse(rp.policy as string) as { Statement: Obj[] };
    const table = one("aws:dynamodb/table:Table", "rollback-releases").state.arn as string;
    assert.deepEqual(policy.Statement[0].Condition.ArnNotLike["aws:PrincipalArn"], ["arn:aws:iam::123456789012:role/*/release-managers", "arn:aws:iam::123456789012:role/governance/cab", "arn:aws:iam::123456789012:role/release-managers"]);
    const put = (who: string) => denies(policy, { action: "dynamodb:PutItem", resource: table, context: { "aws:PrincipalArn": who } });
    assert.deepEqual(
      [await put("arn:aws:iam::123456789012:role/release-managers"), await put("arn:aws:iam::123456789012:role/people/release-managers"), await put("arn:aws:iam::123456789012:role/governance/cab"), await put("arn:aws:iam::123456789012:role/release-managers-x"), await put("arn:aws:iam::123456789012:role/cab")],
      [false, false, false, true, true],
      "release managers' sessions (the role with or without a path) and the CAB role write; a longer name, or the CAB name on another path, does not",
    );
    // The policy stays one AWS accepts: ArnNotLike on aws:PrincipalArn is valid in a table's resource policy.
    assert.deepEqual(await iamProblems(policy, "dynamodb-table"), []);
  });

  it("keeps every configured deployer a writer whoever ran the last up, and records only after the table's policy is in place (issue 34, 9)", async () => {
    // Prepare: CI and break-glass deploy this stack; the last up ran as a third identity.
    const ci = "arn:aws:iam::123456789012:role/ci-deployer";
    const breakGlass = "arn:aws:iam::123456789012:role/break-glass";
    const raw = imageConfig("v2.3.0");
    raw.rollback = { ...(raw.rollback as Obj | undefined), deployerRoleArns: [ci, breakGlass] };
    // Act
    const config = await resolveImageMode(parseStackConfig(raw), backend, at(0));
    recorded.resources.length = 0;
    const built = buildStack(config, { alarmNamePrefix: "remedy-prod", releases: backend, by: "pulumi:prod", now: at(0) });
    await settle();
    // Assess: neither deployer is denied a write by the policy the last up left.
    const rp = one("aws:dynamodb/resourcePolicy:ResourcePolicy", "release-table");
    const policy = JSON.parse((rp.inputs as Obj).policy as string) as { Statement: unknown[] };
    const table = one("aws:dynamodb/table:Table", "rollback-releases").state.arn as string;
    const write = (who: string) => denies(policy, { action: "dynamodb:UpdateItem", resource: table, context: { "aws:PrincipalArn": who } });
    assert.deepEqual([await write(ci), await write(breakGlass), await write("arn:aws:iam::123456789012:role/someone-else")], [false, false, true]);
    // A principal whose IAM policy allows dynamodb:* is still denied every item write by the table's policy.
    const wildcard = "arn:aws:iam::123456789012:role/platform-admin";
    for (const action of ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate"]) {
      assert.ok(await denies(policy, { action, resource: table, context: { "aws:PrincipalArn": wildcard } }), action);
    }
    // The policy protects itself (issue 35, 2): nobody but the deployers replaces or removes it,
    // changes or deletes the table, or sets a TTL, not even a dynamodb:* principal or the
    // Lambdas' and operators' roles (writers of items, not of the table).
    const roles = ofType("aws:iam/role:Role").map((r) => r.state.arn as string);
    for (const action of ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTimeToLive"]) {
      for (const who of [wildcard, ...roles]) assert.ok(await denies(policy, { action, resource: table, context: { "aws:PrincipalArn": who } }), `${action} by ${who}`);
      for (const who of [ci, breakGlass]) assert.equal(await denies(policy, { action, resource: table, context: { "aws:PrincipalArn": who } }), false, `${action} by the deployer ${who}`);
    }
    assert.ok(roles.length >= 2, "the rollback Lambda's and the driver's roles were asked about");
    // Pages cannot be silenced (issue 35, 13): only the deployers delete the topic, change it or
    // subscribe to it, and disable, delete or re-policy its key; AWS services (Chatbot) keep theirs.
    const topicArn = one("aws:sns/topic:Topic", "rollback-notifications").state.arn as string;
    const tpol = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy", "rollback-notifications").inputs.policy as string) as { Statement: unknown[] };
    const onTopic = (action: string, who: string, service = "false") => denies(tpol, { action, resource: topicArn, context: { "aws:PrincipalArn": who, "aws:PrincipalIsAWSService": service } });
    for (const action of ["sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe", "sns:RemovePermission"]) {
      assert.ok(await onTopic(action, wildcard), `${action} by another principal`);
      assert.equal(await onTopic(action, ci), false, `${action} by a deployer`);
    }
    const keyArn = one("aws:kms/key:Key", "rollback-notifications").state.arn as string;
    const kpol = JSON.parse((one("aws:kms/key:Key", "rollback-notifications").inputs as Obj).policy as string) as { Statement: { Sid: string; Condition?: unknown }[] };
    for (const action of ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"]) {
      assert.ok(await denies(kpol, { action, resource: keyArn, context: { "aws:PrincipalArn": wildcard } }), `${action} by another principal`);
      assert.equal(await denies(kpol, { action, resource: keyArn, context: { "aws:PrincipalArn": breakGlass } }), false, `${action} by a deployer`);
      assert.equal(await denies(kpol, { action, resource: keyArn, context: { "aws:PrincipalArn": "arn:aws:iam::123456789012:root" } }), false, `${action} by the account's root`);
    }
    assert.deepEqual(kpol.Statement.find((st) => st.Sid === "CloudWatchAlarmsEncrypt")?.Condition, { StringEquals: { "aws:SourceAccount": "123456789012" }, ArnLike: { "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-prod*" } });
    // And each service's record waits for that policy (a new deployer's writes would be denied by the old one).
    const deps = await (built.releases.get("payments") as unknown as { allResources(): Promise<Set<{ urn: unknown }>> }).allResources();
    const urns = await Promise.all([...deps].map((r) => promiseOf(r.urn as never)));
    assert.ok(urns.some((u) => String(u).endsWith("::release-table")), `the record depends on ${urns.join(", ")}`);
    // A deployer that is not a role is refused, naming the field.
    assert.throws(() => parseStackConfig({ ...raw, rollback: { deployerRoleArns: ["arn:aws:iam::123456789012:user/ci"] } }), /rollback\.deployerRoleArns\[0\]: must be an IAM role ARN such as "arn:aws:iam::123456789012:role\/ci-deployer", got "arn:aws:iam::123456789012:user\/ci"/);
  });

  it("puts back a table policy removed or edited outside Pulumi on the next up and says so (issue 35, 2)", async () => {
    // Prepare: deployed once; the policy is then removed (a dynamodb:* principal before this version).
    const first = await up(0, imageConfig("v2.3.0"));
    assert.doesNotMatch(first.warnings.join("\n"), /resource policy/, "a fresh stack's policy is in place");
    const table = one("aws:dynamodb/table:Table", "rollback-releases").state.arn as string;
    const written = backend.tablePolicies.get(table) as string;
    assert.match(written, /OnlyDeployersAdminister/);
    // The record names the stack's override URL, for remedy rollback/abort/promote (issue 35, 4).
    assert.match((await backend.get("payments"))?.routing.overridesUrl ?? "", /^https:\/\/[a-z0-9]{32}\.lambda-url\.[a-z0-9-]+\.on\.aws\/$/);
    backend.tablePolicies.set(table, null);
    // Act
    const second = await up(1, imageConfig("v2.3.0"));
    // Assess
    assert.match(second.warnings.join("\n"), /the release table's resource policy is missing \(changed outside Pulumi\); put it back\. Find who changed it in CloudTrail/);
    assert.ok(samePolicy(backend.tablePolicies.get(table) as string, written));
    // Edited: the same.
    backend.tablePolicies.set(table, written.replace("OnlyReleaseWritersWrite", "Relaxed"));
    const third = await up(2, imageConfig("v2.3.0"));
    assert.match(third.warnings.join("\n"), /the release table's resource policy is not the one this stack wrote \(changed outside Pulumi\); put it back/);
    assert.ok(samePolicy(backend.tablePolicies.get(table) as string, written));
  });

  it("puts back a rule's remedy tags removed or added outside Pulumi on the next up and says so (issue 35, 14)", async () => {
    // Prepare: deployed once (payments is progressive: both tags); then RemoveTags takes the rollback tag.
    await up(0, imageConfig("v2.3.0"));
    const rule = one(T.rule, "payments").state.arn as string;
    assert.deepEqual(backend.ruleTags.get(rule), { "remedy:rollback": "remedy-prod", "remedy:release-driver": "remedy-prod" });
    backend.ruleTags.set(rule, { "remedy:release-driver": "remedy-prod", team: "payments" });
    // Act
    const second = await up(1, imageConfig("v2.3.0"));
    // Assess
    assert.match(second.warnings.join("\n"), /service payments: its rule's remedy tags were changed outside Pulumi \(remedy:rollback missing\): automatic rollback could not flip it; put them back\. Find who in CloudTrail/);
    assert.deepEqual(backend.ruleTags.get(rule), { team: "payments", "remedy:rollback": "remedy-prod", "remedy:release-driver": "remedy-prod" });
    // A remedy tag of another stack on the rule: named, and taken off.
    backend.ruleTags.set(rule, { "remedy:rollback": "remedy-prod", "remedy:release-driver": "remedy-prod", "remedy:other": "x" });
    const third = await up(2, imageConfig("v2.3.0"));
    assert.match(third.warnings.join("\n"), /remedy:other=x \(not this stack's\)\): automatic rollback is unaffected/);
    assert.equal(backend.ruleTags.get(rule)?.["remedy:other"], undefined);
  });

  it("puts every role the stack creates under the configured permissions boundary, and reserves the rollback Lambda's concurrency", async () => {
    // Prepare
    const raw = imageConfig("v2.3.0");
    raw.rollback = { ...(raw.rollback as Obj | undefined), permissionsBoundaryArn: "arn:aws:iam::123456789012:policy/remedy-boundary" };
    // Act
    await up(0, raw);
    // Assess
    const roles = ofType("aws:iam/role:Role");
    assert.deepEqual(roles.map((r) => r.name).sort(), ["release-driver", "rollback"]);
    for (const r of roles) assert.equal((r.inputs as Obj).permissionsBoundary, "arn:aws:iam::123456789012:policy/remedy-boundary", r.name);
    assert.equal((one("aws:lambda/function:Function", "rollback").inputs as Obj).reservedConcurrentExecutions, 10);
    // Without it, no boundary is set (and a malformed one is refused by config).
    await up(1, imageConfig("v2.3.0"));
    assert.equal((one("aws:iam/role:Role", "rollback").inputs as Obj).permissionsBoundary, undefined);
    const bad = imageConfig("v2.3.0");
    bad.rollback = { permissionsBoundaryArn: "remedy-boundary" };
    await assert.rejects(up(2, bad), /rollback\.permissionsBoundaryArn: must be an IAM policy ARN/);
  });

  describe("the release driver's reach, checked at preview from the cluster lookup", () => {
    afterEach(() => resetMockCluster());

    it("refuses driver access on a CONFIG_MAP cluster before anything is created, naming both fixes", async () => {
      // Prepare
      mockCluster.authenticationMode = "CONFIG_MAP";
      recorded.resources.length = 0;
      const config = await resolveImageMode(parseStackConfig(imageConfig("v2.3.0")), backend, at(0));
      const cluster = await aws.eks.getCluster({ name: "platform-eks" });
      // Act + Assess: refused before any resource is registered (a preview stops with this).
      assert.throws(
        () => buildStack(config, { alarmNamePrefix: "remedy-prod", releases: backend, by: "pulumi:prod", now: at(0), cluster }),
        (err: Error) => err instanceof DriverAccessError && /authentication mode CONFIG_MAP.*API_AND_CONFIG_MAP.*driverAccess: false/s.test(err.message),
      );
      await settle();
      assert.deepEqual(recorded.resources, []);
      // driverAccess off: nothing to refuse.
      const off = imageConfig("v2.3.0");
      off.kubernetes = { ...(off.kubernetes as Obj), driverAccess: false };
      const offConfig = await resolveImageMode(parseStackConfig(off), backend, at(0));
      buildStack(offConfig, { alarmNamePrefix: "remedy-prod", releases: backend, by: "pulumi:prod", now: at(0), cluster });
      await settle();
      assert.equal(ofType("aws:lambda/function:Function", "release-driver").length, 1);
    });

    it("refuses provider credentials the kubeconfig's token command cannot follow before anything is registered", async () => {
      recorded.resources.length = 0;
      const config = await resolveImageMode(parseStackConfig(imageConfig("v2.3.0")), backend, at(0));
      const chain = { assumeRoles: [{ roleArn: "arn:aws:iam::111111111111:role/org-admin" }, { roleArn: "arn:aws:iam::123456789012:role/deployer" }] };
      assert.throws(() => buildStack(config, { alarmNamePrefix: "remedy-prod", releases: backend, by: "pulumi:prod", now: at(0), aws: chain }), /^KubeconfigAuthError: aws:assumeRoles: a chain of 2 roles/);
      await settle();
      assert.deepEqual(recorded.resources, []);
    });

    it("runs the driver in the configured subnets, with the ENI permissions Lambda needs, and then accepts a private endpoint", async () => {
      // Prepare
      mockCluster.endpointPublicAccess = false;
      const raw = imageConfig("v2.3.0");
      raw.kubernetes = { ...(raw.kubernetes as Obj), driverVpc: { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] } };
      const cluster = await aws.eks.getCluster({ name: "platform-eks" });
      recorded.resources.length = 0;
      // Act
      buildStack(await resolveImageMode(parseStackConfig(raw), backend, at(0)), { alarmNamePrefix: "remedy-prod", releases: backend, by: "pulumi:prod", now: at(0), cluster });
      await settle();
      // Assess
      const fn = one("aws:lambda/function:Function", "release-driver").inputs as Obj;
      assert.deepEqual(fn.vpcConfig, { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] });
      assert.match(String((fn.environment as Obj).variables ? ((fn.environment as Obj).variables as Obj).KUBE_ENDPOINT : ""), /^https:\/\//);
      const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "release-driver").inputs.policy as string) as Obj;
      const eni = (policy.Statement as Obj[]).find((st) => st.Sid === "VpcNetworkInterfaces") as Obj;
      assert.deepEqual(eni.Action, ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]);
    });
  });
});
