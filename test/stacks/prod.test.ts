import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig } from "../../core/config";
import { isSecretConfig, requireSecretTestRoutes } from "../../stacks/config";
import { POD_READINESS_GATE_LABEL } from "../../core/defaults";
import type { AwsSettings } from "../../stacks/awsClients";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { stackYaml } from "../helpers/fixtures";
import { runStackEntry } from "../helpers/stackProgram";
import { allows } from "../helpers/iamPolicy";
import { validateK8sObject } from "../helpers/k8sSchema";
import { T, archiveFile, ofType, one, promiseOf, recorded, settle, stackReferenceOutputs } from "../helpers/pulumiMocks";
import { initialState } from "../../core/releaseState";
import { Slot } from "../../core/slots";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any


/** `remedy:*` keys of a stack file as the raw config object the parser takes. */
function configOf(yaml: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(yaml).filter(([k]) => k.startsWith("remedy:")).map(([k, v]) => [k.slice("remedy:".length), v]));
}

describe("stacks: the prod program", () => {
  let restoreBackend: () => void;
  before(() => {
    restoreBackend = setReleaseBackendFactory(() => new MemoryReleaseBackend());
  });
  after(() => restoreBackend());
  afterEach(() => pulumi.runtime.setAllConfig({}));

  describe("pulumi up on prod with Pulumi.prod.yaml", () => {
    let exports: Obj;
    let snapshot: typeof recorded.resources;
    before(async () => {
      recorded.resources.length = 0;
      exports = await runStackEntry(stackYaml("prod"));
      await settle();
      snapshot = [...recorded.resources];
    });
    // The root hook clears recordings before each test; every test here reads the one program run.
    beforeEach(() => recorded.resources.push(...snapshot));

    it("builds one shared ingress, three namespaces and three blue/green services", () => {
      assert.deepEqual(ofType(T.ingress).map((r) => r.name), ["remedy"]);
      assert.deepEqual(ofType(T.component).map((r) => r.name), ["payments", "orders", "catalog"]);
      const namespaces = ofType(T.namespace);
      assert.deepEqual(namespaces.map((r) => r.name).sort(), ["orders", "payments", "storefront"]);
      for (const ns of namespaces) {
        assert.equal((ns.inputs as Obj).metadata.labels[POD_READINESS_GATE_LABEL], "enabled", "pods wait for ALB health via readiness gates");
      }
    });

    it("attaches every service's rule to the one HTTPS listener, with its own priority and weights", () => {
      const https = one(T.listener, "remedy-https");
      const rules = Object.fromEntries(ofType(T.rule).map((r) => [r.name, r.inputs as Obj]));
      assert.deepEqual(Object.keys(rules).sort(), ["catalog", "orders", "payments"]);
      for (const rule of Object.values(rules)) assert.equal(rule.listenerArn, https.state.arn);
      const summary = (r: Obj) => [r.priority, r.actions[0].forward.targetGroups.map((t: Obj) => t.weight)];
      assert.deepEqual(summary(rules.payments), [100, [90, 10]]);
      assert.deepEqual(summary(rules.orders), [200, [0, 100]], "orders is stable on green");
      assert.deepEqual(summary(rules.catalog), [300, [100, 0]]);
    });

    it("deploys each service into its namespace; catalog has no green workload yet", () => {
      const deployments = ofType(T.deployment).map((r) => `${(r.inputs as Obj).metadata.namespace}/${r.name}`);
      assert.deepEqual(deployments.sort(), ["orders/orders-blue", "orders/orders-green", "payments/payments-blue", "payments/payments-green", "storefront/catalog-blue"]);
      assert.equal((one(T.deployment, "orders-blue").inputs as Obj).spec.replicas, 1, "the warm previous version keeps one replica");
    });

    it("admits the created ALB's security group in every TargetGroupBinding", () => {
      const sgId = one(T.sg, "remedy-alb").id;
      const bindings = ofType(T.tgb);
      assert.equal(bindings.length, 5);
      for (const tgb of bindings) {
        assert.equal((tgb.inputs as Obj).spec.networking.ingress[0].from[0].securityGroup.groupID, sgId);
      }
    });

    it("puts every Kubernetes object on one explicit provider for the cluster named in config, never the current context", () => {
      const [provider] = ofType("pulumi:providers:kubernetes");
      assert.equal(ofType("pulumi:providers:kubernetes").length, 1);
      assert.equal(provider.name, "cluster");
      const kubeconfig = JSON.parse(provider.inputs.kubeconfig as string) as Obj;
      assert.equal(kubeconfig["current-context"], "remedy-platform-eks");
      assert.match(kubeconfig.clusters[0].cluster.server, /^https:\/\/[0-9A-F]+\.gr7\.eu-west-1\.eks\.amazonaws\.com$/);
      assert.deepEqual(kubeconfig.users[0].user.exec.args, ["eks", "get-token", "--cluster-name", "platform-eks", "--output", "json", "--region", "eu-west-1"]);
      assert.equal(provider.inputs.context, undefined);
      const objects = recorded.resources.filter((r) => r.type.startsWith("kubernetes:"));
      assert.ok(objects.length > 0);
      for (const r of objects) assert.match(r.provider ?? "(default provider)", /::pulumi:providers:kubernetes::cluster::/, `${r.type} ${r.name}`);
    });

    it("protects the ALB, its listeners and the release table from deletion when deletion protection is on", () => {
      assert.equal(one(T.lb, "remedy").options.protect, true);
      assert.equal(one(T.listener, "remedy-https").options.protect, true);
      assert.equal(one("aws:dynamodb/table:Table", "rollback-releases").options.protect, true);
    });

    it("produces only schema-valid Kubernetes objects", () => {
      const objects = recorded.resources.filter((r) => r.type.startsWith("kubernetes:"));
      assert.equal(objects.length, 3 + 5 * 4);
      for (const r of objects) validateK8sObject(r);
    });

    it("deploys the release driver to watch the manual-weight services' target health, with no cluster access (nothing to step or scale)", async () => {
      const fn = one("aws:lambda/function:Function", "release-driver").inputs as Obj;
      assert.deepEqual(JSON.parse(await archiveFile(fn.code as Obj, "driver.json")), { services: [], watch: ["payments", "orders"] }, "catalog has one slot: no candidate to watch");
      assert.equal(ofType("aws:eks/accessEntry:AccessEntry").length, 0, "driverAccess is on, but there is nothing to scale");
      assert.equal((fn.environment as Obj).variables.KUBE_ENDPOINT, undefined);
      const tags = (rule: string) => ((one(T.rule, rule).inputs as Obj).tags as Obj)["remedy:release-driver"];
      assert.deepEqual(["payments", "orders", "catalog"].map(tags), ["remedy-prod", "remedy-prod", undefined]);
    });

    it("arms automatic rollback: one Lambda for the stack, four alarms per deployed slot (five with payments' custom one), and the ALB's own 5xx paging humans", async () => {
      assert.deepEqual(ofType("remedy:rollback:RollbackFunction").map((r) => r.name), ["rollback"]);
      assert.deepEqual(ofType("remedy:rollback:AutoRollback").map((r) => r.name).sort(), ["catalog-rollback", "orders-rollback", "payments-rollback"]);
      const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => r.inputs.name as string);
      const of = (svc: string) => alarms.filter((n) => n.startsWith(`remedy-prod/${svc}/`)).length;
      assert.equal(of("payments"), 10, "payments adds its custom checkout-errors alarm on each slot");
      assert.ok(alarms.includes("remedy-prod/payments/green/custom-checkout-errors"));
      assert.equal(of("orders"), 8);
      assert.equal(of("catalog"), 4, "catalog has only a blue slot");
      // HTTPCode_ELB_5XX_Count exists per load balancer only: it pages, it cannot name a slot.
      const elb = one("aws:cloudwatch/metricAlarm:MetricAlarm", "rollback-elb-5xx").inputs as Obj;
      assert.equal(elb.name, "remedy-prod-alb-elb-5xx");
      assert.equal(elb.metricName, "HTTPCode_ELB_5XX_Count");
      assert.deepEqual(Object.keys(elb.dimensions), ["LoadBalancer"]);
      assert.match(elb.dimensions.LoadBalancer, /^app\/remedy\//);
      assert.deepEqual(elb.alarmActions, [one("aws:sns/topic:Topic", "rollback-notifications").state.arn], "humans only, never the Lambda");
      const fnArn = one("aws:lambda/function:Function", "rollback").state.arn;
      const rate = one("aws:cloudwatch/metricAlarm:MetricAlarm", "payments-rollback-green-error-rate").inputs as Obj;
      assert.equal(rate.threshold, 2, "Pulumi.prod.yaml's payments override");
      assert.equal(rate.alarmActions[0], fnArn);
      assert.equal((one("aws:cloudwatch/metricAlarm:MetricAlarm", "orders-rollback-green-error-rate").inputs as Obj).threshold, 5, "default");
      const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "rollback").inputs.policy as string) as Obj;
      // Exactly this stack's three weighted rules carry the tag the policy requires; test routes do not.
      const rules = ofType(T.rule);
      const verdicts = await Promise.all(
        rules.map((r) => allows(policy as never, { action: "elasticloadbalancing:ModifyRule", resource: r.state.arn as string, context: { "aws:ResourceTag/remedy:rollback": ((r.inputs as Obj).tags as Obj)["remedy:rollback"] } })),
      );
      const mayFlip = rules.filter((_, i) => verdicts[i]);
      assert.deepEqual(mayFlip.map((r) => r.name).sort(), ["catalog", "orders", "payments"], "exactly this stack's three weighted rules");
      assert.deepEqual((one("aws:sns/topicSubscription:TopicSubscription", "rollback-email-0").inputs as Obj).endpoint, "oncall@example.com");
      assert.equal((one("aws:cloudwatch/logGroup:LogGroup", "rollback").inputs as Obj).retentionInDays, 90);
    });

    it("exports the ingress and, per service, slots, weights, versions, images, target groups and rule", async () => {
      assert.equal(await promiseOf(exports.ingress.listenerArn), one(T.listener, "remedy-https").state.arn);
      assert.equal(await promiseOf(exports.ingress.dnsName), one(T.lb, "remedy").state.dnsName);
      assert.equal((one(T.lb, "remedy").inputs as Obj).enableDeletionProtection, true, "prod protects its ALB");
      const payments = exports.services.payments;
      assert.equal(await promiseOf(payments.activeSlot), "blue");
      assert.deepEqual(await promiseOf(payments.weights), { blue: 90, green: 10 });
      assert.deepEqual(await promiseOf(payments.versions), { blue: "v2.3.0", green: "v2.3.1" });
      assert.deepEqual(payments.images, {
        blue: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.0",
        green: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1",
      });
      assert.deepEqual(await promiseOf(payments.targetGroupArns), {
        blue: one(T.tg, "payments-blue").state.arn,
        green: one(T.tg, "payments-green").state.arn,
      });
      assert.equal(await promiseOf(exports.services.catalog.namespace), "storefront");
      assert.deepEqual(Object.keys(exports.services), ["payments", "orders", "catalog"]);
      assert.equal(exports.rollback.alarmNamePrefix, "remedy-prod");
      assert.equal(await promiseOf(exports.rollback.functionArn), one("aws:lambda/function:Function", "rollback").state.arn);
      assert.equal(await promiseOf(exports.rollback.releaseTable), one("aws:dynamodb/table:Table", "rollback-releases").state.name);
      assert.equal((await promiseOf<string[]>(exports.services.payments.alarmNames)).length, 10);
    });
  });

  it("adopts an existing listener and skips namespace creation when told to", async () => {
    const config = stackYaml("prod");
    const listenerArn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2";
    await runStackEntry({
      ...config,
      "remedy:ingress": { vpcId: "vpc-0a1b2c3d4e5f67890", listenerArn, securityGroupId: "sg-0123456789abcdef0" },
      "remedy:createNamespaces": false,
    });
    await settle();
    assert.deepEqual(ofType(T.lb), []);
    assert.deepEqual(ofType(T.namespace), []);
    for (const rule of ofType(T.rule)) assert.equal((rule.inputs as Obj).listenerArn, listenerArn);
  });

  it("reads release state and fetches the EKS token with the AWS provider's own settings", async () => {
    // Prepare: the provider deploys with a profile and an assumed role; remedy must use them too.
    const seen: AwsSettings[] = [];
    const restore = setReleaseBackendFactory((_table, settings) => {
      seen.push(settings);
      return new MemoryReleaseBackend();
    });
    try {
      // Act
      await runStackEntry({
        ...stackYaml("prod"),
        "aws:profile": "deploy",
        "aws:secretKey": "not-read-without-accessKey",
        "aws:accessKey": "AKIAEXAMPLE",
        "aws:assumeRoles": [{ roleArn: "arn:aws:iam::123456789012:role/remedy-deployer", sessionName: "ci" }],
      });
      await settle();
    } finally {
      restore();
    }
    // Assess
    assert.equal(seen.length, 1);
    assert.deepEqual(
      { region: seen[0].region, profile: seen[0].profile, accessKey: seen[0].accessKey, roles: seen[0].assumeRoles },
      { region: "eu-west-1", profile: "deploy", accessKey: "AKIAEXAMPLE", roles: [{ roleArn: "arn:aws:iam::123456789012:role/remedy-deployer", sessionName: "ci" }] },
    );
    // Static keys go to the token command too (they win over the profile, as in the provider),
    // so the kubeconfig is a secret.
    const sealed = one("pulumi:providers:kubernetes", "cluster").inputs.kubeconfig as Obj;
    assert.equal(sealed["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270");
    const exec = (JSON.parse(sealed.value as string) as Obj).users[0].user.exec;
    assert.deepEqual(exec.args.slice(-2), ["--role-arn", "arn:aws:iam::123456789012:role/remedy-deployer"]);
    assert.deepEqual(exec.env, [
      { name: "AWS_PROFILE", value: "deploy" },
      { name: "AWS_ACCESS_KEY_ID", value: "AKIAEXAMPLE" },
      { name: "AWS_SECRET_ACCESS_KEY", value: "not-read-without-accessKey" },
    ]);
  });

  it("stops on bad config before registering anything, with every problem listed", async () => {
    const config = stackYaml("prod") as { "remedy:services": Obj[] };
    const services = structuredClone(config["remedy:services"]);
    services[2].candidate = { weight: 140 };
    services[1].port = "3000";
    await assert.rejects(
      runStackEntry({ ...config, "remedy:services": services }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ["services[1].port", "services[2].candidate.weight"],
        );
        assert.match(err.message, /services\[2\]\.candidate\.weight: must be an integer 0\.\.100, got 140/);
        return true;
      },
    );
    await settle();
    assert.deepEqual(recorded.resources, []);
  });

  describe("a test route's header value", () => {
    const withTestRoute = () => {
      const yaml = stackYaml("prod") as Record<string, unknown>;
      const services = JSON.parse(JSON.stringify(yaml["remedy:services"])) as Obj[];
      services[0].testRoute = { priority: 5, value: "9f86d081884c7d659a2feaa0c55ad015" };
      return { ...yaml, "remedy:services": services };
    };

    it("is refused in plain-text config before anything is built, naming the key and the command", async () => {
      recorded.resources.length = 0;
      await assert.rejects(
        runStackEntry(withTestRoute()),
        (err: Error) =>
          err instanceof ConfigError &&
          err.message.includes(`services[0].testRoute.value: is in plain text in the stack's config; set it as a secret: pulumi config set --secret --path 'remedy:services[0].testRoute.value' "$(openssl rand -hex 16)"`),
      );
      await settle();
      assert.deepEqual(recorded.resources, []);
    });

    it("from secret config: the program runs, and the services' env values stay secrets in state", async () => {
      recorded.resources.length = 0;
      await runStackEntry(withTestRoute(), ["remedy:services"]);
      await settle();
      // The engine receives the Deployment's spec as a secret (a nested secret seals its top-level
      // property): encrypted in state, shown as [secret] in diffs.
      const sealed = (one(T.deployment, "orders-blue").inputs as Obj).spec as Obj;
      assert.equal(sealed["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270", "a secret in state");
      const env = ((sealed.value as Obj).template.spec.containers[0].env as Obj[]).find((e) => e.name === "LOG_LEVEL") as Obj;
      assert.equal(env.value, "info");
      // Not secret config: plain, as before.
      recorded.resources.length = 0;
      await runStackEntry(stackYaml("prod"));
      await settle();
      const plain = ((one(T.deployment, "orders-blue").inputs as Obj).spec.template.spec.containers[0].env as Obj[]).find((e) => e.name === "LOG_LEVEL") as Obj;
      assert.equal(plain.value, "info");
    });

    it("is accepted from secret config (remedy:services is then a secret key), and a source-IP-limited route needs no secret", async () => {
      assert.doesNotThrow(() => requireSecretTestRoutes(parseStackConfig(configOf(withTestRoute())), (k) => k === "remedy:services"));
      const byIp = withTestRoute();
      ((byIp["remedy:services"] as Obj[])[0] as Obj).testRoute = { priority: 5, sourceCidrs: ["10.0.0.0/8"] };
      assert.doesNotThrow(() => requireSecretTestRoutes(parseStackConfig(configOf(byIp)), () => false));
      // The runtime's own notion of secret keys is what the program consults.
      pulumi.runtime.setAllConfig({ "remedy:services": "[]" }, ["remedy:services"]);
      assert.equal(isSecretConfig("remedy:services"), true);
      pulumi.runtime.setAllConfig({ "remedy:services": "[]" }, []);
      assert.equal(isSecretConfig("remedy:services"), false);
    });
  });

  describe("custom and relative alarms", () => {
    it("creates them per slot and records their kinds in the release state, so the driver, the rollback Lambda and status name them", async () => {
      const yaml = structuredClone(stackYaml("prod")) as Record<string, unknown>;
      const payments = (yaml["remedy:services"] as Obj[])[0];
      payments.alarms = {
        relative: { errorRatePoints: 2 },
        custom: [{ name: "checkout-errors", metric: { namespace: "Payments", name: "CheckoutErrors", dimensions: { Slot: "{slot}", Version: "{version}" }, statistic: "Sum" }, threshold: 5, periodSeconds: 10 }],
      };
      const backend = new MemoryReleaseBackend();
      const restore = setReleaseBackendFactory(() => backend);
      try {
        recorded.resources.length = 0;
        await runStackEntry(yaml);
        await settle();
        const names = ofType(T.alarm).map((r) => (r.inputs as Obj).name as string);
        for (const slot of ["blue", "green"]) {
          assert.ok(names.includes(`remedy-prod/payments/${slot}/custom-checkout-errors`), names.join("\n"));
          assert.ok(names.includes(`remedy-prod/payments/${slot}/error-rate-vs-stable`), names.filter((n) => n.includes("payments")).join("\n"));
        }
        assert.ok(!names.some((n) => n.startsWith("remedy-prod/orders/") && n.includes("custom-")), names.filter((n) => n.includes("custom-")).join(", "));
        const green = ofType(T.alarm).find((r) => (r.inputs as Obj).name === "remedy-prod/payments/green/custom-checkout-errors")?.inputs as Obj;
        assert.deepEqual(green.dimensions, { Slot: "green", Version: "v2.3.1" });
        const state = await backend.get("payments");
        assert.deepEqual(state?.routing.alarmKinds, ["error-rate", "latency-p99", "unhealthy-hosts", "connection-errors", "error-rate-vs-stable", "custom-checkout-errors"]);
        assert.equal((await backend.get("orders"))?.routing.alarmKinds, undefined, "the built-in four are not recorded");
      } finally {
        restore();
      }
    });
  });

  describe("image mode reads the live image from release state", () => {
    const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments";
    const imageYaml = () => {
      const yaml = structuredClone(stackYaml("prod")) as Record<string, unknown>;
      const services = yaml["remedy:services"] as Obj[];
      const p = services[0];
      delete p.stable;
      delete p.slots;
      delete p.candidate;
      Object.assign(p, { image: ECR, version: "v2.3.2", strategy: { kind: "canary", weight: 10, minutes: 5 } });
      return yaml;
    };
    afterEach(() => stackReferenceOutputs.clear());

    it("refuses a live image the stack's last deployment never ran (its own previous outputs, through a reference to itself)", async () => {
      // Prepare: the table (written by someone else) says payments' live slot runs an image of theirs.
      const backend = new MemoryReleaseBackend();
      await backend.store.create(initialState("payments", { slot: Slot.Blue, version: "v2.3.0", image: "evil.example.com/payments:v2.3.0" }, { ruleArn: "arn:aws:x", targetGroupArns: { blue: "arn:aws:b", green: "arn:aws:g" }, stickinessSeconds: 0 }, new Date().toISOString()));
      const restore = setReleaseBackendFactory(() => backend);
      stackReferenceOutputs.set(`${pulumi.getOrganization()}/${pulumi.getProject()}/prod`, { services: { payments: { images: { blue: `${ECR}:v2.3.0` } } } });
      try {
        recorded.resources.length = 0;
        // Act + Assess
        await assert.rejects(
          runStackEntry(imageYaml()),
          (err: Error) => err instanceof ConfigError && err.message.includes("services[0].image: release state of payments records evil.example.com/payments:v2.3.0 for its live slot, but this stack's last deployment ran"),
        );
        assert.equal(ofType(T.deployment).length, 0, "nothing deployed");
      } finally {
        restore();
      }
    });
  });
});
