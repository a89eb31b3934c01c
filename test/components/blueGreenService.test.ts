import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenService } from "../../components/delivery/blueGreenService";
import { parseServiceSpec } from "../../core/config";
import { targetGroupName } from "../../core/naming";
import { INGRESS, serviceInput } from "../helpers/fixtures";
import { validateK8sObject } from "../helpers/k8sSchema";
import { type RecordedResource, T, dependsOn, one, ofType, promiseOf, recorded, settle } from "../helpers/pulumiMocks";


type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** How the Pulumi engine marks a secret value in resource inputs (its special signature key). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270";

async function build(name: string, overrides: Record<string, unknown> = {}, extra: { namespace?: string } = {}) {
  // Prepare + Act: construct under mocks and wait for every registration.
  const svc = new BlueGreenService(name, { service: serviceInput({ name, ...overrides }), ingress: INGRESS, ...extra });
  await settle();
  return svc;
}

describe("components/BlueGreenService", () => {
  describe("with a candidate at 10% on green", () => {
    let svc: BlueGreenService;
    let resources: RecordedResource[];
    before(async () => {
      recorded.resources.length = 0;
      svc = await build("payments");
      resources = [...recorded.resources];
    });
    const find = (type: string, name: string) => one(type, name, resources);

    it("registers exactly the expected children, named after the component", () => {
      const names = resources.map((r) => `${r.type} ${r.name}`).sort();
      assert.deepEqual(names, [
        `${T.rule} payments`,
        `${T.tg} payments-blue`,
        `${T.tg} payments-green`,
        `${T.deployment} payments-blue`,
        `${T.deployment} payments-green`,
        `${T.service} payments-blue`,
        `${T.service} payments-green`,
        `${T.tgb} payments-blue`,
        `${T.tgb} payments-green`,
        `${T.pdb} payments-blue`,
        `${T.pdb} payments-green`,
        `${T.component} payments`,
      ].sort());
    });

    it("parents every child to the component (URN type chain)", async () => {
      const children = [
        svc.rule,
        svc.targetGroups.blue,
        svc.targetGroups.green,
        ...Object.values(svc.workloads).flatMap((w) => [w.deployment, w.service, w.podDisruptionBudget, w.targetGroupBinding]),
      ];
      assert.equal(children.length, 11);
      for (const child of children) {
        const urn = await promiseOf(child.urn);
        assert.match(urn, /::remedy:delivery:BlueGreenService\$[^:]+:[^$]+::payments(-blue|-green)?$/, urn);
      }
    });

    it("forwards from one rule to both target groups with 90/10 weights", async () => {
      const rule = find(T.rule, "payments").inputs as Obj;
      const blueArn = find(T.tg, "payments-blue").state.arn;
      const greenArn = find(T.tg, "payments-green").state.arn;
      assert.equal(rule.listenerArn, INGRESS.listenerArn);
      assert.equal(rule.priority, 100);
      assert.deepEqual(rule.conditions, [
        { hostHeader: { values: ["api.example.com"] } },
        { pathPattern: { values: ["/payments/*"] } },
      ]);
      assert.equal(rule.actions.length, 1);
      assert.equal(rule.actions[0].type, "forward");
      assert.deepEqual(rule.actions[0].forward.targetGroups, [
        { arn: blueArn, weight: 90 },
        { arn: greenArn, weight: 10 },
      ]);
      assert.deepEqual(rule.actions[0].forward.stickiness, { enabled: false, duration: 1 });
      assert.equal(rule.tags["remedy:service"], "payments");
      assert.equal(rule.tags["remedy:stack"], "prod");
    });

    it("creates ip target groups in the VPC, health-checked on the service's path, with replacement-safe names", () => {
      for (const slot of ["blue", "green"] as const) {
        const tg = find(T.tg, `payments-${slot}`).inputs as Obj;
        assert.equal(tg.name, targetGroupName({ stack: "prod", service: "payments", slot, port: 8080, protocol: "HTTP", targetType: "ip", vpcId: INGRESS.vpcId }));
        assert.equal(tg.vpcId, INGRESS.vpcId);
        assert.equal(tg.targetType, "ip");
        assert.equal(tg.port, 8080);
        assert.equal(tg.protocol, "HTTP");
        assert.equal(tg.deregistrationDelay, 30);
        assert.equal(tg.healthCheck.path, "/healthz");
        assert.equal(tg.healthCheck.port, "traffic-port");
        assert.equal(tg.tags["remedy:slot"], slot);
      }
    });

    it("selects each slot's pods by app+slot in the Deployment, Service and PDB, with the version only on pods", () => {
      for (const slot of ["blue", "green"] as const) {
        const version = slot === "blue" ? "v2.3.0" : "v2.3.1";
        const dep = find(T.deployment, `payments-${slot}`).inputs as Obj;
        const svcObj = find(T.service, `payments-${slot}`).inputs as Obj;
        const pdb = find(T.pdb, `payments-${slot}`).inputs as Obj;
        const selector = { app: "payments", slot };
        assert.deepEqual(dep.spec.selector.matchLabels, selector);
        assert.deepEqual(svcObj.spec.selector, selector);
        assert.deepEqual(pdb.spec.selector.matchLabels, selector);
        const podLabels = dep.spec.template.metadata.labels;
        for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v, `pod label ${k}`);
        assert.equal(podLabels.version, version);
        assert.equal(dep.metadata.name, `payments-${slot}`);
        assert.equal(dep.metadata.labels.version, version);
        assert.equal(pdb.spec.maxUnavailable, 1);
      }
    });

    it("runs the slot's image with probes on the health path, resources and a draining preStop", () => {
      const dep = find(T.deployment, "payments-green").inputs as Obj;
      assert.equal(dep.spec.replicas, 2);
      assert.deepEqual(dep.spec.strategy.rollingUpdate, { maxSurge: "25%", maxUnavailable: 0 });
      const [container] = dep.spec.template.spec.containers;
      assert.equal(container.image, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1");
      assert.deepEqual(container.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
      assert.deepEqual(container.readinessProbe.httpGet, { path: "/healthz", port: "http" });
      assert.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "http" });
      assert.deepEqual(container.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "128Mi" } });
      assert.deepEqual(container.lifecycle.preStop, { sleep: { seconds: 15 } });
      assert.ok(dep.spec.template.spec.terminationGracePeriodSeconds > 15, "grace period outlasts the preStop sleep");
      assert.deepEqual(
        container.env.filter((e: Obj) => e.name.startsWith("REMEDY_")),
        [
          { name: "REMEDY_SLOT", value: "green" },
          { name: "REMEDY_VERSION", value: "v2.3.1" },
        ],
      );
    });

    it("binds each slot's Service to that slot's target group, admitting only the ALB security group", () => {
      for (const slot of ["blue", "green"] as const) {
        const tgb = find(T.tgb, `payments-${slot}`).inputs as Obj;
        assert.equal(tgb.apiVersion, "elbv2.k8s.aws/v1beta1");
        assert.equal(tgb.kind, "TargetGroupBinding");
        assert.equal(tgb.spec.targetGroupARN, find(T.tg, `payments-${slot}`).state.arn);
        // By the Service port's name, which a port change never touches (issue 34, 5).
        assert.deepEqual(tgb.spec.serviceRef, { name: `payments-${slot}`, port: "http" });
        const svc = find(T.service, `payments-${slot}`).inputs as Obj;
        assert.deepEqual(svc.spec.ports, [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
        assert.equal(tgb.spec.targetType, "ip");
        assert.deepEqual(tgb.spec.networking.ingress, [
          { from: [{ securityGroup: { groupID: INGRESS.securityGroupId } }], ports: [{ protocol: "TCP", port: 8080 }] },
        ]);
      }
    });

    it("moves traffic only after the slots' Deployments have rolled out (the rule waits for them)", () => {
      const rule = find(T.rule, "payments");
      for (const slot of ["blue", "green"]) {
        assert.ok(dependsOn(rule, find(T.deployment, `payments-${slot}`)), `the rule waits for payments-${slot}: ${rule.options.dependsOn.join(", ")}`);
      }
    });

    it("creates each binding before its Deployment, named after its target group, so a replaced group's binding is created before the old one goes", () => {
      for (const slot of ["blue", "green"]) {
        const tgb = find(T.tgb, `payments-${slot}`);
        const tgName = find(T.tg, `payments-${slot}`).inputs.name as string;
        assert.ok(dependsOn(find(T.deployment, `payments-${slot}`), tgb), "first pods get the readiness gate");
        assert.deepEqual(tgb.options.replaceOnChanges, ["spec.targetGroupARN"], "the controller's webhook refuses an in-place ARN change");
        assert.equal(tgb.options.deleteBeforeReplace, false, "delete-first would empty the old group while the rule still sends traffic to it");
        assert.equal((tgb.inputs as Obj).metadata.name, `payments-${slot}-${tgName.slice(-8)}`);
      }
    });

    it("annotates each Deployment with pulumi.com/patchForce, so an up takes .spec.replicas back from the release driver", () => {
      for (const slot of ["blue", "green"]) {
        assert.deepEqual((find(T.deployment, `payments-${slot}`).inputs as Obj).metadata.annotations, { "pulumi.com/patchForce": "true" });
        for (const type of [T.service, T.pdb, T.tgb]) {
          assert.equal((find(type, `payments-${slot}`).inputs as Obj).metadata.annotations, undefined, `${type} is not forced`);
        }
      }
    });

    it("produces Kubernetes objects that pass the official schemas", () => {
      const k8sObjects = resources.filter((r) => r.type.startsWith("kubernetes:"));
      assert.equal(k8sObjects.length, 8);
      for (const r of k8sObjects) validateK8sObject(r);
    });

    it("outputs target groups, rule, active slot, weights and versions", async () => {
      assert.deepEqual(await promiseOf(svc.targetGroupArns), {
        blue: find(T.tg, "payments-blue").state.arn,
        green: find(T.tg, "payments-green").state.arn,
      });
      assert.deepEqual(await promiseOf(svc.targetGroupNames), {
        blue: find(T.tg, "payments-blue").inputs.name,
        green: find(T.tg, "payments-green").inputs.name,
      });
      assert.equal(await promiseOf(svc.ruleArn), find(T.rule, "payments").state.arn);
      assert.equal(await promiseOf(svc.activeSlot), "blue");
      assert.equal(await promiseOf(svc.candidateSlot), "green");
      assert.deepEqual(await promiseOf(svc.weights), { blue: 90, green: 10 });
      assert.deepEqual(await promiseOf(svc.versions), { blue: "v2.3.0", green: "v2.3.1" });
    });
  });

  it("names Pulumi resources after the component and Kubernetes objects after the service", async () => {
    const svc = new BlueGreenService("edge-payments", { service: serviceInput({ name: "payments" }), ingress: INGRESS });
    await settle();
    const children = recorded.resources.filter((r) => r.type !== T.component);
    assert.equal(children.length, 11);
    for (const r of children) assert.match(r.name, /^edge-payments(-blue|-green)?$/, `${r.type} ${r.name}`);
    assert.equal((one(T.deployment, "edge-payments-green").inputs as Obj).metadata.name, "payments-green");
    assert.equal((one(T.tgb, "edge-payments-green").inputs as Obj).spec.serviceRef.name, "payments-green");
    assert.match(await promiseOf(svc.targetGroups.green.name), /^payments-green-[0-9a-f]{8}$/);
  });

  it("runs every pod non-root, without privilege escalation or capabilities, under RuntimeDefault seccomp, unless allowRunAsRoot", async () => {
    // Prepare + Act
    await build("payments");
    const spec = (one(T.deployment, "payments-green").inputs as Obj).spec.template.spec;
    // Assess
    assert.deepEqual(spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    assert.deepEqual(spec.containers[0].securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
    validateK8sObject(one(T.deployment, "payments-green"));
    recorded.resources.length = 0;
    await build("legacy", { allowRunAsRoot: true });
    const legacy = (one(T.deployment, "legacy-green").inputs as Obj).spec.template.spec;
    assert.deepEqual(legacy.securityContext, { seccompProfile: { type: "RuntimeDefault" } }, "the opt-out drops only runAsNonRoot");
    assert.deepEqual(legacy.containers[0].securityContext.capabilities, { drop: ["ALL"] });
  });

  it("gives a slot's binding a new name exactly when its target group is replaced (a port change), not on other changes", async () => {
    // Prepare + Act: the same service on port 8080, again with another image, and on port 9090.
    const names = async (overrides: Record<string, unknown>) => {
      recorded.resources.length = 0;
      await build("payments", overrides);
      return { tg: one(T.tg, "payments-green").inputs.name as string, tgb: (one(T.tgb, "payments-green").inputs as Obj).metadata.name as string };
    };
    const before = await names({});
    const sameGroup = await names({ slots: { blue: { image: "registry.example.com/payments:v2.3.0" }, green: { image: "registry.example.com/payments:v2.4.0" } } });
    const newPort = await names({ port: 9090 });
    // Assess
    assert.deepEqual(sameGroup, before);
    assert.notEqual(newPort.tg, before.tg, "the port forces a new target group");
    assert.notEqual(newPort.tgb, before.tgb, "so the binding gets a new name and is created beside the old one");
    assert.match(newPort.tgb, /^payments-green-[0-9a-f]{8}$/);
  });

  it("hands the caller's providers down to every child (e.g. another cluster or region)", async () => {
    const aws = await import("@pulumi/aws");
    const k8s = await import("@pulumi/kubernetes");
    const awsProvider = new aws.Provider("us-east", { region: "us-east-1" });
    const k8sProvider = new k8s.Provider("cluster-b", { context: "cluster-b" });
    new BlueGreenService("payments", { service: serviceInput(), ingress: INGRESS }, { providers: [awsProvider, k8sProvider] });
    await settle();
    const awsRef = `${await promiseOf(awsProvider.urn)}::${await promiseOf(awsProvider.id)}`;
    const k8sRef = `${await promiseOf(k8sProvider.urn)}::${await promiseOf(k8sProvider.id)}`;
    const children = recorded.resources.filter((r) => r.type.startsWith("aws:lb") || r.type.startsWith("kubernetes:"));
    assert.equal(children.length, 11);
    for (const r of children) {
      assert.equal(r.provider, r.type.startsWith("aws:") ? awsRef : k8sRef, `${r.type} ${r.name}`);
    }
  });

  it("routes requests with the test header to the candidate only, at any weight, once it has rolled out", async () => {
    // Prepare + Act: the candidate at 0%, a test route in front of the main rule.
    const secret = "9f86d081884c7d659a2feaa0c55ad015";
    const svc = await build("payments", { candidate: { weight: 0 }, testRoute: { priority: 99, value: secret, sourceCidrs: ["10.0.0.0/8"] } });
    // Assess
    const test = one(T.rule, "payments-test");
    const inputs = test.inputs as Obj;
    assert.equal(inputs.priority, 99);
    // The engine receives the conditions as a secret (Pulumi's signature key), encrypted in state.
    const sealed = inputs.conditions as Obj;
    assert.equal(sealed[SECRET_SIG], SECRET_VALUE_SIG, "conditions are a secret value");
    assert.deepEqual(sealed.value, [
      { hostHeader: { values: ["api.example.com"] } },
      { pathPattern: { values: ["/payments/*"] } },
      { httpHeader: { httpHeaderName: "x-remedy-candidate", values: [secret] } },
      { sourceIp: { values: ["10.0.0.0/8"] } },
    ]);
    assert.equal(await pulumi.isSecret((svc.testRule as NonNullable<typeof svc.testRule>).conditions), true);
    assert.deepEqual(inputs.actions, [{ type: "forward", targetGroupArn: one(T.tg, "payments-green").state.arn }]);
    assert.ok(dependsOn(test, one(T.deployment, "payments-green")), "no test traffic before the rollout");
    const main = (one(T.rule, "payments").inputs as Obj).actions[0].forward.targetGroups.map((g: Obj) => g.weight);
    assert.deepEqual(main, [100, 0], "production traffic stays on stable");
  });

  it("has no test rule while the candidate slot has no image, and refuses a test route evaluated after the main rule", async () => {
    await build("catalog", { slots: { blue: { image: "r/catalog:1.0.0" } }, candidate: undefined, testRoute: { priority: 99, header: "x-canary", value: "0123456789abcdef0123" } });
    assert.equal(ofType(T.rule).filter((r) => r.name === "catalog-test").length, 0);
    assert.throws(
      () => new BlueGreenService("late", { service: serviceInput({ name: "late", testRoute: { priority: 150, sourceCidrs: ["10.0.0.0/8"] } }), ingress: INGRESS }),
      /args\.service\.testRoute\.priority: 150 must be lower than routing\.priority 100: the listener evaluates lower priorities first/,
    );
  });

  it("passes env from Secrets and ConfigMaps by reference, never their values", async () => {
    await build("payments", { env: { LOG_LEVEL: "info", DB_PASSWORD: { secretKeyRef: { name: "payments-db", key: "password" } }, FLAGS: { configMapKeyRef: { name: "flags", key: "payments" } } } });
    const env = (one(T.deployment, "payments-green").inputs as Obj).spec.template.spec.containers[0].env as Obj[];
    assert.deepEqual(env.slice(0, 3), [
      { name: "LOG_LEVEL", value: "info" },
      { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "payments-db", key: "password" } } },
      { name: "FLAGS", valueFrom: { configMapKeyRef: { name: "flags", key: "payments" } } },
    ]);
    validateK8sObject(one(T.deployment, "payments-green"));
  });

  it("puts every Kubernetes object in the namespace it is given", async () => {
    await build("orders", { routing: { paths: ["/orders"], priority: 7 } }, { namespace: "shop" });
    const k8sObjects = recorded.resources.filter((r) => r.type.startsWith("kubernetes:"));
    assert.equal(k8sObjects.length, 8);
    for (const r of k8sObjects) assert.equal((r.inputs as Obj).metadata.namespace, "shop", `${r.type} ${r.name}`);
  });

  it("sends all traffic to green when green is stable, and the candidate weight to blue", async () => {
    const svc = await build("search", { stable: "green", candidate: { weight: 35 }, routing: { paths: ["/s"], priority: 8 } });
    const rule = one(T.rule, "search").inputs as Obj;
    assert.deepEqual(rule.actions[0].forward.targetGroups.map((t: Obj) => t.weight), [35, 65]);
    assert.equal(await promiseOf(svc.activeSlot), "green");
  });

  it("keeps a target group but no workload for a slot without an image, at weight 0", async () => {
    const svc = await build("catalog", { slots: { blue: { image: "r/catalog:1.0.0" } }, candidate: undefined, routing: { paths: ["/c"], priority: 9 } });
    assert.equal(ofType(T.tg).length, 2, "both target groups exist so the rule never needs replacing");
    assert.deepEqual(ofType(T.deployment).map((r) => r.name), ["catalog-blue"]);
    assert.deepEqual(ofType(T.tgb).map((r) => r.name), ["catalog-blue"]);
    assert.deepEqual((one(T.rule, "catalog").inputs as Obj).actions[0].forward.targetGroups.map((t: Obj) => t.weight), [100, 0]);
    assert.deepEqual(await promiseOf(svc.versions), { blue: "1.0.0" });
    assert.equal(svc.workloads.green, undefined);
  });

  it("enables stickiness only when asked", async () => {
    await build("cart", { stickinessSeconds: 300, routing: { paths: ["/cart"], priority: 11 } });
    assert.deepEqual((one(T.rule, "cart").inputs as Obj).actions[0].forward.stickiness, { enabled: true, duration: 300 });
  });

  it("refuses bad args before registering any child, naming the arg path", () => {
    recorded.resources.length = 0;
    assert.throws(
      () => new BlueGreenService("bad", { service: serviceInput({ name: "bad", candidate: { weight: 140 } }), ingress: INGRESS }),
      (err: unknown) => {
        assert.ok(pulumi.ResourceError.isInstance(err), "a ResourceError attached to the component");
        assert.match((err as Error).message, /BlueGreenService bad: invalid args\.service \(1 problem\):\n {2}- args\.service\.candidate\.weight: must be an integer 0\.\.100, got 140/);
        return true;
      },
    );
    return settle().then(() => {
      const children = recorded.resources.filter((r) => r.type !== T.component);
      assert.deepEqual(children, [], "no child was registered");
    });
  });

  it("takes a spec the program already validated as it is, building exactly what the same service as input builds", async () => {
    // Prepare: the stack program's path (parseServiceSpec once, then `spec`) and a direct user's (`service`).
    const input = serviceInput({ name: "payments", candidate: { weight: 25 }, stickinessSeconds: 60 });
    recorded.resources.length = 0;
    new BlueGreenService("payments", { service: input, ingress: INGRESS });
    await settle();
    const viaInput = recorded.resources.map((r) => `${r.type}::${r.name}::${JSON.stringify(r.inputs)}`).sort();
    recorded.resources.length = 0;
    // Act
    const svc = new BlueGreenService("payments", { spec: parseServiceSpec(input), ingress: INGRESS });
    await settle();
    // Assess
    assert.deepEqual(recorded.resources.map((r) => `${r.type}::${r.name}::${JSON.stringify(r.inputs)}`).sort(), viaInput);
    assert.deepEqual(await promiseOf(svc.weights), { blue: 75, green: 25 });
    assert.equal(viaInput.length, 12);
  });

  it("refuses both or neither of `service` and `spec`, naming them", () => {
    const spec = parseServiceSpec(serviceInput({ name: "x" }));
    for (const args of [{ ingress: INGRESS }, { ingress: INGRESS, spec, service: serviceInput({ name: "x" }) }]) {
      assert.throws(() => new BlueGreenService("x", args), /BlueGreenService x: pass exactly one of `args\.service` .* and `args\.spec`/);
    }
  });
});
