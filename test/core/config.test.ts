import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { parseHotfixStackConfig, parseServiceSpec, parseStackConfig } from "../../core/config";
import * as defaults from "../../core/defaults";
import { SUBNETS, VPC_ID, configProblems, remedyConfig, serviceInput, stackInput } from "../helpers/fixtures";

const problems = configProblems;
/** A test route secret, as `openssl rand -hex 16` makes one. */
const SECRET = "9f86d081884c7d659a2feaa0c55ad015";

function svc(name: string, priority: number, overrides: Record<string, unknown> = {}) {
  return serviceInput({ name, routing: { paths: [`/${name}/*`], priority }, ...overrides });
}

describe("core/config: stack configuration", () => {
  describe("Pulumi.prod.yaml", () => {
    it("parses the shipped prod example into three services with every default applied", () => {
      // Act
      const config = parseStackConfig(remedyConfig("prod"));

      // Assess
      assert.deepEqual(
        config.services.map((s) => s.name),
        ["payments", "orders", "catalog"],
      );
      const [payments, orders, catalog] = config.services;
      assert.equal(payments.namespace, "payments", "namespace defaults to the service name");
      assert.equal(payments.candidateWeight, 10);
      assert.deepEqual(payments.slots.green, {
        image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1",
        version: "v2.3.1",
        replicas: 3,
      });
      assert.equal(payments.resources.limits.memory, "512Mi");
      assert.equal(payments.resources.limits.cpu, undefined, "no CPU limit unless asked for");
      assert.equal(orders.stable, "green");
      assert.equal(orders.slots.blue?.replicas, 1, "per-slot replicas override the service's");
      assert.equal(orders.livenessPath, "/health/live");
      assert.equal(catalog.namespace, "storefront");
      assert.equal(catalog.slots.blue?.version, "2026.11.3", "explicit version wins over the digest");
      assert.equal(catalog.slots.green, undefined);
      assert.equal(catalog.candidateWeight, 0);
      assert.equal(catalog.livenessPath, "/ping", "liveness path defaults to the health path");
      assert.equal(catalog.replicas, defaults.DEFAULT_REPLICAS);
      assert.equal(catalog.deregistrationDelaySeconds, defaults.DEFAULT_DEREGISTRATION_DELAY_SECONDS);
      assert.equal(config.ingress.mode, "create");
      assert.equal(config.ingress.mode === "create" && config.ingress.deletionProtection, true);
      assert.equal(config.createNamespaces, true);
    });

    it("reads the shipped hotfix stack file as a hotfix stack (services come from prod)", () => {
      const h = parseHotfixStackConfig(remedyConfig("hotfix"));
      assert.equal(h.prodStack, "organization/remedy/prod");
      assert.equal(h.host, "hotfix.example.com");
      assert.equal(h.namespace, "hotfix");
      assert.deepEqual(Object.keys(h.images), ["payments"]);
      assert.ok(problems(() => parseStackConfig(remedyConfig("hotfix"))).includes("services: required: a list of services"));
    });
  });

  describe("field errors name the key path, the value and the fix", () => {
    it("reports an out-of-range candidate weight on the third service", () => {
      // Prepare
      const raw = stackInput([svc("a", 1), svc("b", 2), svc("c", 3, { candidate: { weight: 140 } })]);

      // Act + Assess
      assert.deepEqual(problems(() => parseStackConfig(raw)), [
        "services[2].candidate.weight: must be an integer 0..100, got 140",
      ]);
    });

    it("reports every problem at once, not just the first", () => {
      const raw = stackInput([svc("a", 1, { port: "80", stable: "purple", replica: 3 })]);
      assert.deepEqual(problems(() => parseStackConfig(raw)), [
        'services[0].port: must be the container port the service listens on, an integer 1..65535, got "80"',
        'services[0].stable: must be the stable slot, "blue" or "green", got "purple"',
        'services[0].replica: unknown key; did you mean "replicas"?',
      ]);
    });

    it("says what a missing required key is for", () => {
      const raw = stackInput([{ name: "a", routing: { paths: ["/a"], priority: 1 }, stable: "blue", slots: {} }]);
      const lines = problems(() => parseStackConfig(raw));
      assert.ok(lines.includes("services[0].port: required: the container port the service listens on, an integer 1..65535"), lines.join("\n"));
      assert.ok(lines.includes('services[0].healthPath: required: the HTTP health check path, e.g. "/healthz"'), lines.join("\n"));
    });

    it("lists the known keys when an unknown key is not a near miss", () => {
      const lines = problems(() => parseStackConfig(stackInput([svc("a", 1, { routing: { paths: ["/a"], priority: 1, weighting: 3 } })])));
      assert.deepEqual(lines, ["services[0].routing.weighting: unknown key; known keys: hosts, paths, priority"]);
    });

    it("says which strategy or step kind was meant, and each kind's shape (issue 36, 7)", () => {
      const strategy = (value: unknown) => problems(() => parseStackConfig(stackInput([svc("a", 1, { image: "r/a", version: "v1", strategy: value })])));
      const kinds = "the kinds are manual, allAtOnce, canary, linear, steps: { kind: manual } | { kind: allAtOnce, bakeMinutes? } | { kind: canary, weight, minutes, bakeMinutes?, pauseBeforeFull? } | { kind: linear, stepPercent, minutes, bakeMinutes? } | { kind: steps, steps: [...], bakeMinutes? }";
      assert.deepEqual(strategy({ kind: "canery", weight: 10 }), [`services[0].strategy.kind: has unknown kind "canery" (did you mean "canary"?); ${kinds}, got {"kind":"canery","weight":10}`]);
      assert.deepEqual(strategy({ weight: 10, minutes: 5 }), [`services[0].strategy.kind: needs a kind (add kind: canary?); ${kinds}, got {"weight":10,"minutes":5}`]);
      const steps = "the kinds are weight, pause: { kind: weight, weight: 1..100, minutes } or { kind: pause, reason }";
      assert.deepEqual(strategy({ kind: "steps", steps: [{ weight: 10, minutes: 5 }, { kind: "pause" }, { kind: "wait", reason: "x" }] }), [
        `services[0].strategy.steps[0].kind: needs a kind (add kind: weight?); ${steps}, got {"weight":10,"minutes":5}`,
        "services[0].strategy.steps[1].reason: required: why it pauses (shown until remedy promote)",
        `services[0].strategy.steps[2].kind: has unknown kind "wait" (did you mean "pause"?); ${steps}, got {"kind":"wait","reason":"x"}`,
      ]);
      // Unknown keys inside a kind: that kind's keys, with a shortened name recognised.
      assert.deepEqual(strategy({ kind: "linear", stepPercent: 10, minutes: 5, bake: 3 }), ['services[0].strategy.bake: unknown key; did you mean "bakeMinutes"?']);
      assert.deepEqual(strategy({ kind: "canary", weight: 10, minutes: 5, speed: 3 }), ["services[0].strategy.speed: unknown key; known keys: kind, weight, minutes, bakeMinutes, pauseBeforeFull"]);
      assert.deepEqual(strategy({ kind: "steps", steps: [] }), ["services[0].strategy.steps: name at least one step, got []"]);
    });

    it("rejects service names that are not DNS labels", () => {
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("Payments_API", 1)]))), [
        `services[0].name: must be a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, not ending with '-', got "Payments_API"`,
      ]);
    });

    it("rejects malformed resource quantities and limits below requests", () => {
      assert.deepEqual(
        problems(() => parseStackConfig(stackInput([svc("a", 1, { resources: { requests: { cpu: "lots" } } })]))),
        ['services[0].resources.requests.cpu: must be a Kubernetes quantity such as "250m" or "512Mi", got "lots"'],
      );
      assert.deepEqual(
        problems(() =>
          parseStackConfig(stackInput([svc("a", 1, { resources: { requests: { memory: "1Gi" }, limits: { memory: "512Mi" } } })])),
        ),
        ["services[0].resources.limits.memory: 512Mi is below the request 1Gi; Kubernetes rejects limits below requests"],
      );
      assert.deepEqual(
        problems(() => parseStackConfig(stackInput([svc("a", 1, { resources: { requests: { cpu: "1" }, limits: { cpu: "500m" } } })]))),
        ["services[0].resources.limits.cpu: 500m is below the request 1; Kubernetes rejects limits below requests"],
      );
      assert.deepEqual(
        problems(() => parseStackConfig(stackInput([svc("a", 1, { resources: { limits: { cpu: "50m", memory: "64Mi" } } })]))),
        [
          `services[0].resources.limits.cpu: 50m is below the request ${defaults.DEFAULT_CPU_REQUEST}; Kubernetes rejects limits below requests`,
          `services[0].resources.limits.memory: 64Mi is below the request ${defaults.DEFAULT_MEMORY_REQUEST}; Kubernetes rejects limits below requests`,
        ],
        "a limit below the default request is refused too",
      );
    });
  });

  describe("images must be pinned, versions must be label-safe", () => {
    it("refuses untagged and :latest images because a rollback needs an immutable target", () => {
      const lines = problems(() =>
        parseStackConfig(stackInput([svc("a", 1, { slots: { blue: { image: "nginx" }, green: { image: "nginx:latest" } } })])),
      );
      assert.deepEqual(lines, [
        'services[0].slots.blue.image: has no tag or digest; pin a version tag or a digest so rollbacks have an immutable target, got "nginx"',
        'services[0].slots.green.image: uses the mutable tag "latest"; pin a version tag or a digest so rollbacks have an immutable target, got "nginx:latest"',
      ]);
    });

    it("refuses :latest even with an explicit version label", () => {
      const lines = problems(() => parseServiceSpec(serviceInput({ slots: { blue: { image: "r/a:latest", version: "1.0.0" } }, candidate: undefined })));
      assert.deepEqual(lines, [
        'service.slots.blue.image: uses the mutable tag "latest"; pin a version tag or a digest so rollbacks have an immutable target, got "r/a:latest"',
      ]);
    });

    it("derives the version from a digest when there is no tag", () => {
      const digest = "sha256:" + "ab".repeat(32);
      const spec = parseServiceSpec(serviceInput({ slots: { blue: { image: `registry:5000/team/app@${digest}` } }, candidate: { weight: 0 } }));
      assert.equal(spec.slots.blue?.version, "abababababab");
    });

    it("keeps a registry port out of the tag", () => {
      const spec = parseServiceSpec(serviceInput({ slots: { blue: { image: "registry:5000/team/app:1.2.3" } }, candidate: undefined }));
      assert.equal(spec.slots.blue?.version, "1.2.3");
    });

    it("asks for an explicit version when the tag is not a valid label value", () => {
      const tag = "v" + "1".repeat(70);
      const lines = problems(() => parseServiceSpec(serviceInput({ slots: { blue: { image: `r/app:${tag}` } }, candidate: undefined })));
      assert.deepEqual(lines, [
        `service.slots.blue.version: required: the image tag "${tag}" is not a valid Kubernetes label value; set an explicit version (max 63 chars of A-Z a-z 0-9 - _ .)`,
      ]);
    });
  });

  describe("cross-field rules", () => {
    it("refuses traffic to a candidate slot that has no image", () => {
      const lines = problems(() =>
        parseStackConfig(stackInput([svc("a", 1, { slots: { blue: { image: "r/a:1" } }, candidate: { weight: 25 } })])),
      );
      assert.deepEqual(lines, ['services[0].candidate.weight: is 25 but the candidate slot "green" has no image; set slots.green.image or weight 0']);
    });

    it("requires the stable slot to have an image", () => {
      const lines = problems(() =>
        parseStackConfig(stackInput([svc("a", 1, { stable: "green", slots: { blue: { image: "r/a:1" } }, candidate: undefined })])),
      );
      assert.deepEqual(lines, [
        'services[0].slots.green: required: the stable slot is "green", so slots.green.image must be set (or set stable to the slot that has an image)',
      ]);
    });

    it("refuses duplicate names, duplicate rule priorities and identical routes", () => {
      const lines = problems(() =>
        parseStackConfig(
          stackInput([
            svc("a", 10),
            svc("a", 20, { routing: { paths: ["/other"], priority: 20 } }),
            svc("c", 10, { routing: { paths: ["/c"], priority: 10 } }),
            svc("d", 40, { routing: { paths: ["/a/*"], priority: 40 } }),
          ]),
        ),
      );
      assert.deepEqual(lines, [
        'services[1].name: "a" is already used by services[0]; service names must be unique',
        `services[2].routing.priority: 10 is already used by services[0] (a); rule priorities must be unique per listener — pick an unused value 1..${defaults.MAX_RULE_PRIORITY}`,
        "services[3].routing: matches exactly the same hosts and paths as services[0] (a), so one of them would never receive traffic",
      ]);
    });

    it("requires at least one host or path and at most five values per rule", () => {
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1, { routing: { priority: 1 } })]))), [
        "services[0].routing: needs at least one of hosts or paths, or the rule would match nothing",
      ]);
      const paths = ["/1", "/2", "/3", "/4", "/5", "/6"];
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1, { routing: { paths, priority: 1 } })]))), [
        "services[0].routing: has 6 host/path values; an ALB rule allows at most 5 — use wildcards or split the service",
      ]);
    });
  });

  describe("ingress", () => {
    const listenerArn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2";

    it("adopts an existing listener when given its ARN and security group", () => {
      const config = parseStackConfig({ kubernetes: { cluster: "c" }, ingress: { vpcId: VPC_ID, listenerArn, securityGroupId: "sg-0123456789abcdef0" }, services: [svc("a", 1)] });
      assert.deepEqual(config.ingress, { mode: "existing", vpcId: VPC_ID, listenerArn, securityGroupId: "sg-0123456789abcdef0" });
    });

    it("refuses an existing listener without its security group, or mixed with ALB settings", () => {
      const lines = problems(() => parseStackConfig({ kubernetes: { cluster: "c" }, ingress: { vpcId: VPC_ID, listenerArn, subnetIds: SUBNETS }, services: [svc("a", 1)] }));
      assert.deepEqual(lines, [
        "ingress.securityGroupId: required with ingress.listenerArn: the ALB's security group, so target group bindings can admit its traffic",
        "ingress.subnetIds: cannot be combined with ingress.listenerArn (it configures a remedy-created ALB); remove one of them",
      ]);
    });

    it("requires two subnets for a created ALB", () => {
      const lines = problems(() => parseStackConfig(stackInput([svc("a", 1)], { subnetIds: [SUBNETS[0]] })));
      assert.deepEqual(lines, [
        `ingress.subnetIds: required: at least two subnet ids in different availability zones for the ALB, got ${JSON.stringify([SUBNETS[0]])} (or set ingress.listenerArn to use an existing ALB)`,
      ]);
    });

    it("checks the certificate is an ACM ARN", () => {
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1)], { certificateArn: "my-cert" }))), [
        'ingress.certificateArn: must be an ARN of an ACM certificate (arn:aws:acm:<region>:<account>:...), got "my-cert"',
      ]);
    });
  });

  describe("production defaults that must be chosen, not fallen into", () => {
    it("requires the cluster to be named, and a context to name that cluster", () => {
      const raw = stackInput([svc("a", 1)]);
      delete raw.kubernetes;
      assert.deepEqual(problems(() => parseStackConfig(raw)), [
        'kubernetes: required: the kubernetes block { cluster, context?, driverAccess?, driverVpc? }',
      ]);
      assert.deepEqual(problems(() => parseStackConfig({ ...raw, kubernetes: { context: "minikube" } })), [
        'kubernetes.cluster: required: the EKS cluster this stack deploys to, e.g. "prod-eks" (remedy never uses the current kubeconfig context)',
      ]);
      assert.deepEqual(problems(() => parseStackConfig({ ...raw, kubernetes: { cluster: "prod-eks", context: "minikube" } })), [
        'kubernetes.context: "minikube" does not name cluster "prod-eks"; use the context `aws eks update-kubeconfig --name prod-eks` creates (arn:aws:eks:<region>:<account>:cluster/prod-eks), or leave context out so remedy generates a kubeconfig for the cluster',
      ]);
      const ok = parseStackConfig({ ...raw, kubernetes: { cluster: "prod-eks", context: "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eks" } });
      assert.deepEqual(ok.kubernetes, { cluster: "prod-eks", context: "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eks", driverAccess: true });
      assert.equal(parseStackConfig({ ...raw, kubernetes: { cluster: "prod-eks", driverAccess: false } }).kubernetes.driverAccess, false);
      assert.deepEqual(problems(() => parseStackConfig({ ...raw, kubernetes: { cluster: "prod-eks", driverAccess: "yes" } })), ['kubernetes.driverAccess: must be true or false, got "yes"']);
    });

    it("refuses plain HTTP open to 0.0.0.0/0 unless explicitly allowed", () => {
      const plain = stackInput([svc("a", 1)], { certificateArn: undefined });
      assert.deepEqual(problems(() => parseStackConfig(plain)), [
        "ingress.certificateArn: required: without it the ALB serves plain HTTP to public address space (0.0.0.0/0); set an ACM certificate for HTTPS, narrow ingress.allowedCidrs to private ranges (and set ingress.internal: true), or set ingress.allowPlainHttp: true to accept plain HTTP",
      ]);
      // The internet is covered by more than the literal 0.0.0.0/0: halves, IPv6, a public /32.
      for (const allowedCidrs of [["0.0.0.0/1", "128.0.0.0/1"], ["::/0"], ["10.0.0.0/8", "203.0.113.7/32"], ["2001:db8::/32"], ["172.16.0.0/11"]]) {
        const [p] = problems(() => parseStackConfig(stackInput([svc("a", 1)], { certificateArn: undefined, internal: true, allowedCidrs })));
        assert.match(p ?? "", /^ingress\.certificateArn: required: without it the ALB serves plain HTTP to public address space \(/, JSON.stringify(allowedCidrs));
        assert.ok(p.includes(allowedCidrs.filter((c) => !c.startsWith("10."))[0]), `${p} names the public block`);
      }
      for (const allowedCidrs of [["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"], ["fd00::/8"], ["100.64.0.0/10"]]) {
        const ok = parseStackConfig(stackInput([svc("a", 1)], { certificateArn: undefined, internal: true, allowedCidrs }));
        assert.equal(ok.ingress.mode, "create", JSON.stringify(allowedCidrs));
      }
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1)], { allowedCidrs: ["999.0.0.0/8"] }))), [
        'ingress.allowedCidrs[0]: must be an IPv4 or IPv6 CIDR such as "10.0.0.0/8" or "fd00::/8", got "999.0.0.0/8"',
      ]);
      const allowed = parseStackConfig(stackInput([svc("a", 1)], { certificateArn: undefined, allowPlainHttp: true }));
      assert.equal(allowed.ingress.mode === "create" && allowed.ingress.allowPlainHttp, true);
      const narrowed = parseStackConfig(stackInput([svc("a", 1)], { certificateArn: undefined, internal: true, allowedCidrs: ["10.0.0.0/8"] }));
      assert.equal(narrowed.ingress.mode === "create" && narrowed.ingress.allowPlainHttp, false);
    });

    it("refuses a slot scaled to 0 that receives traffic, naming the key", () => {
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1, { slots: { blue: { image: "r/a:1" }, green: { image: "r/a:2", replicas: 0 } }, candidate: { weight: 20 } })]))), [
        'services[0].slots.green.replicas: is 0 but the candidate slot "green" receives 20% of traffic; an empty target group answers 503 — give it at least 1 replica or weight 0',
      ]);
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1, { replicas: 0, candidate: { weight: 0 } })]))), [
        'services[0].replicas: is 0 but the stable slot "blue" receives 100% of traffic; an empty target group answers 503 — give it at least 1 replica',
      ]);
      // A warm slot at weight 0 may be scaled to 0.
      parseStackConfig(stackInput([svc("a", 1, { slots: { blue: { image: "r/a:1" }, green: { image: "r/a:2", replicas: 0 } }, candidate: { weight: 0 } })]));
    });

    it("names the union's own message when an env value fits no form", () => {
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1, { env: { PORT: 8080 } })]))), [
        'services[0].env.PORT: must be a string (quote numbers and booleans), { secretKeyRef: { name, key } } or { configMapKeyRef: { name, key } }, got 8080',
      ]);
    });

    it("takes a progressive strategy in place of candidate.weight, with the bake defaulted, and names bad steps", () => {
      const c = parseStackConfig(stackInput([svc("a", 1, { candidate: undefined, strategy: { kind: "linear", stepPercent: 25, minutes: 10 } })]));
      assert.deepEqual(c.services[0].strategy, {
        steps: [25, 50, 75].map((weight) => ({ kind: "weight", weight, minutes: 10 })).concat([{ kind: "weight", weight: 100, minutes: 0 }]),
        bakeMinutes: 10,
      });
      assert.equal(parseStackConfig(stackInput([svc("a", 1, { strategy: { kind: "manual" } })])).services[0].strategy, undefined, "manual: candidate.weight decides");
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1, { candidate: { weight: 10 }, strategy: { kind: "canary", weight: 10, minutes: 5 } })]))), [
        "services[0].candidate.weight: cannot be combined with strategy canary: the release driver sets the candidate's weight step by step; remove candidate.weight (or use strategy: { kind: manual })",
      ]);
      assert.deepEqual(
        problems(() => parseStackConfig(stackInput([svc("a", 1, { candidate: undefined, strategy: { kind: "steps", steps: [{ kind: "weight", weight: 50, minutes: 5 }, { kind: "weight", weight: 20, minutes: 5 }] } })]))),
        ["services[0].strategy: steps[1].weight 20 is below the step before (50); weights only go up, a rollback is the way down"],
      );
    });

    it("accepts a test route evaluated before the main rule, with a priority no other rule uses", () => {
      const ok = parseStackConfig(stackInput([svc("a", 10, { testRoute: { priority: 5, value: SECRET } })]));
      assert.deepEqual(ok.services[0].testRoute, { priority: 5, header: "x-remedy-candidate", value: SECRET });
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 10, { testRoute: { priority: 20, value: SECRET } }), svc("b", 20)]))), [
        "services[0].testRoute.priority: 20 must be lower than routing.priority 10: the listener evaluates lower priorities first, and the main rule would answer the test requests",
        "services[1].routing.priority: 20 is already used by services[0] (a); rule priorities must be unique per listener — pick an unused value 1..50000",
      ]);
    });

    it("requires the test route to carry a secret header value or a source-IP condition: a guessable header reaches a 0% candidate from anywhere", () => {
      // Act
      const bare = problems(() => parseStackConfig(stackInput([svc("a", 10, { testRoute: { priority: 5 } })])));
      const weak = problems(() => parseStackConfig(stackInput([svc("a", 10, { testRoute: { priority: 5, value: "1" } })])));
      const byIp = parseStackConfig(stackInput([svc("a", 10, { testRoute: { priority: 5, sourceCidrs: ["10.0.0.0/8", "fd00::/8"] } })])).services[0];
      const both = parseStackConfig(stackInput([svc("a", 10, { testRoute: { priority: 5, value: SECRET, sourceCidrs: ["10.0.0.0/8"] } })])).services[0];
      const tooMany = problems(() => parseStackConfig(stackInput([svc("a", 10, { testRoute: { priority: 5, value: SECRET, sourceCidrs: ["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"] } })])));
      // Assess
      assert.deepEqual(bare, [
        `services[0].testRoute.value: required (or testRoute.sourceCidrs): without a secret value anyone who sends the header reaches the candidate at 0%; set one with pulumi config set --secret --path 'remedy:services[0].testRoute.value' "$(openssl rand -hex 16)", or limit the test rule to your network with sourceCidrs`,
      ]);
      assert.deepEqual(weak, ['services[0].testRoute.value: must be a secret of 16 to 128 letters, digits and . _ - (e.g. openssl rand -hex 16), set with pulumi config set --secret --path, got "1"']);
      assert.deepEqual(byIp.testRoute, { priority: 5, header: "x-remedy-candidate", value: "1", sourceCidrs: ["10.0.0.0/8", "fd00::/8"] });
      assert.deepEqual(both.testRoute, { priority: 5, header: "x-remedy-candidate", value: SECRET, sourceCidrs: ["10.0.0.0/8"] });
      assert.match(tooMany[0] ?? "", /^services\[0\]\.testRoute: the test rule needs the \d host\/path values plus its header and 4 source CIDRs, over the ALB's 5/);
    });

    it("refuses an HTTP pre-traffic check against an internet-facing ALB that admits only some CIDRs, unless the driver runs in a VPC (issue 34, 10)", () => {
      // Prepare
      const canary = { candidate: undefined, strategy: { kind: "canary", weight: 10, minutes: 5 }, testRoute: { priority: 5, value: SECRET }, preTraffic: { http: { url: "https://api.example.com/a/healthz" } } };
      const narrow = stackInput([svc("a", 10, canary)], { allowedCidrs: ["203.0.113.0/24"] });
      // Act
      const refused = problems(() => parseStackConfig(narrow));
      // Assess
      assert.deepEqual(refused, [
        "services[0].preTraffic.http: the ALB admits only 203.0.113.0/24 (ingress.allowedCidrs), and the release driver runs outside any VPC, calling https://api.example.com/a/healthz from AWS addresses no CIDR list can name: every check would time out and hold the release; set kubernetes.driverVpc { subnetIds, securityGroupIds } (subnets whose NAT gateway's address you add to allowedCidrs), or use preTraffic.lambda with a hook that can reach it",
      ]);
      assert.doesNotThrow(() => parseStackConfig({ ...narrow, kubernetes: { cluster: "test-eks", driverVpc: { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] } } }));
      assert.doesNotThrow(() => parseStackConfig(stackInput([svc("a", 10, canary)])), "an ALB open to all admits the driver");
      // In the VPC with its NAT egress declared: that egress must be inside allowedCidrs.
      const vpc = (egressCidrs: string[]) => ({ ...narrow, kubernetes: { cluster: "test-eks", driverVpc: { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"], egressCidrs } } });
      assert.doesNotThrow(() => parseStackConfig(vpc(["203.0.113.10/32"])));
      assert.deepEqual(problems(() => parseStackConfig(vpc(["192.0.2.1/32"]))), [
        "services[0].preTraffic.http: the ALB admits only 203.0.113.0/24 (ingress.allowedCidrs), not the release driver's egress 192.0.2.1/32 (kubernetes.driverVpc.egressCidrs), so every check of https://api.example.com/a/healthz would time out and hold the release; add 192.0.2.1/32 to allowedCidrs, correct egressCidrs, or use preTraffic.lambda with a hook that can reach it",
      ]);
      assert.deepEqual(problems(() => parseStackConfig(vpc(["nat-1"]))), ['kubernetes.driverVpc.egressCidrs[0]: must be an IPv4 CIDR such as "203.0.113.10/32" (a NAT gateway\'s Elastic IP), got "nat-1"']);
    });

    it("refuses an HTTP pre-traffic check against an internal ALB unless the release driver runs in the VPC (kubernetes.driverVpc)", () => {
      // Prepare
      const canary = { candidate: undefined, strategy: { kind: "canary", weight: 10, minutes: 5 }, testRoute: { priority: 5, value: SECRET }, preTraffic: { http: { url: "https://internal.example.com/a/healthz" } } };
      const internal = stackInput([svc("a", 10, canary)], { internal: true });
      // Act
      const refused = problems(() => parseStackConfig(internal));
      const inVpc = parseStackConfig({ ...internal, kubernetes: { cluster: "test-eks", driverVpc: { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] } } });
      const badVpc = problems(() => parseStackConfig({ ...internal, kubernetes: { cluster: "test-eks", driverVpc: { subnetIds: [], securityGroupIds: ["default"] } } }));
      // Assess
      assert.equal(refused.length, 1);
      assert.match(refused[0], /^services\[0\]\.preTraffic\.http: the ALB is internal \(ingress\.internal: true\) but the release driver runs outside the VPC and cannot reach https:\/\/internal\.example\.com\/a\/healthz; set kubernetes\.driverVpc/);
      assert.deepEqual(inVpc.kubernetes.driverVpc, { subnetIds: ["subnet-0a1b2c3d"], securityGroupIds: ["sg-0a1b2c3d"] });
      assert.deepEqual(badVpc, [
        "kubernetes.driverVpc.subnetIds: name at least one subnet, got []",
        'kubernetes.driverVpc.securityGroupIds[0]: must be a security group id such as "sg-0a1b2c3d", got "default"',
      ]);
      // A Lambda hook runs where it is deployed: no VPC needed for the driver.
      const hook = { ...canary, preTraffic: { lambda: { functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:smoke" } } };
      assert.equal(parseStackConfig(stackInput([svc("a", 10, hook)], { internal: true })).services[0].preTraffic?.check.kind, "lambda");
    });

    it("takes a pre-traffic check (HTTP through the test route, or a Lambda hook) for progressive releases only", () => {
      // Prepare
      const canary = { candidate: undefined, strategy: { kind: "canary", weight: 10, minutes: 5 } };
      const hook = "arn:aws:lambda:eu-west-1:123456789012:function:payments-smoke";

      // Act
      const viaHttp = parseStackConfig(stackInput([svc("a", 10, { ...canary, testRoute: { priority: 5, header: "x-canary", value: SECRET }, preTraffic: { http: { url: "https://api.example.com/a/healthz" } } })])).services[0];
      const viaLambda = parseStackConfig(stackInput([svc("a", 10, { ...canary, preTraffic: { lambda: { functionArn: hook }, attempts: 1, timeoutSeconds: 20 } })])).services[0];
      const refused = problems(() =>
        parseStackConfig(
          stackInput([
            svc("a", 10, { ...canary, preTraffic: { http: { url: "ftp://x/y" } } }),
            svc("b", 20, { preTraffic: { lambda: { functionArn: hook } } }),
            svc("c", 30, { ...canary, preTraffic: {} }),
            svc("d", 40, { ...canary, preTraffic: { lambda: { functionArn: "payments-smoke" } } }),
          ]),
        ),
      );

      // Assess
      assert.deepEqual(viaHttp.preTraffic, {
        // The secret's SHA-256, never the secret: the check goes into release records (issue 35, 12).
        check: { kind: "http", url: "https://api.example.com/a/healthz", header: "x-canary", valueSha256: createHash("sha256").update(SECRET).digest("hex"), expectStatus: [200, 299], timeoutSeconds: defaults.DEFAULT_PRE_TRAFFIC_TIMEOUT_SECONDS },
        maxAttempts: defaults.DEFAULT_PRE_TRAFFIC_ATTEMPTS,
      });
      assert.ok(!JSON.stringify(viaHttp.preTraffic).includes(SECRET));
      assert.deepEqual(viaLambda.preTraffic, { check: { kind: "lambda", functionArn: hook, timeoutSeconds: 20 }, maxAttempts: 1 });
      assert.deepEqual(refused, [
        'services[0].preTraffic.http.url: must be an http(s) URL the release driver can reach, e.g. "https://api.example.com/orders/healthz", got "ftp://x/y"',
        "services[3].preTraffic.lambda.functionArn: must be an ARN of the hook function (it answers { status: Succeeded | Failed }) (arn:aws:lambda:<region>:<account>:...), got \"payments-smoke\"",
      ]);
      const crossField = problems(() =>
        parseStackConfig(stackInput([svc("a", 10, { ...canary, preTraffic: { http: { url: "https://api.example.com/a/healthz" } } }), svc("b", 20, { preTraffic: { lambda: { functionArn: hook } } }), svc("c", 30, { ...canary, preTraffic: {} })])),
      );
      assert.deepEqual(crossField, [
        "services[0].testRoute: required by preTraffic.http: the check reaches the candidate (at 0%) through the header-matched test rule; add testRoute { priority }",
        "services[1].preTraffic: only applies to a progressive release (strategy canary, linear, allAtOnce or steps, or image mode): the release driver runs it before the first step",
        "services[2].preTraffic: needs exactly one of http or lambda, got neither",
      ]);
    });

    it("takes env from Secrets and ConfigMaps by reference, and refuses plaintext secrets", () => {
      const env = { LOG_LEVEL: "info", DB_PASSWORD: { secretKeyRef: { name: "payments-db", key: "password" } }, FEATURES: { configMapKeyRef: { name: "flags", key: "payments" } } };
      const config = parseStackConfig(stackInput([svc("a", 1, { env })]));
      assert.deepEqual(config.services[0].env, env);
      assert.deepEqual(problems(() => parseStackConfig(stackInput([svc("a", 1, { env: { STRIPE_API_KEY: "sk_live_123", GITHUB_TOKEN: "ghp_1" } })]))), [
        "services[0].env.STRIPE_API_KEY: looks like a secret but is plaintext in stack config and in the Deployment; store it in a Kubernetes Secret and use { secretKeyRef: { name, key } }",
        "services[0].env.GITHUB_TOKEN: looks like a secret but is plaintext in stack config and in the Deployment; store it in a Kubernetes Secret and use { secretKeyRef: { name, key } }",
      ]);
      // Connection strings, by name or by a password in the URL.
      assert.deepEqual(
        problems(() => parseStackConfig(stackInput([svc("a", 1, { env: { DATABASE_URL: "postgres://app@db/app", SENTRY_DSN: "https://k@o1.ingest.sentry.io/1", CACHE: "redis://:hunter2@cache:6379/0" } })]))),
        [
          "services[0].env.DATABASE_URL: looks like a secret but is plaintext in stack config and in the Deployment; store it in a Kubernetes Secret and use { secretKeyRef: { name, key } }",
          "services[0].env.SENTRY_DSN: looks like a secret but is plaintext in stack config and in the Deployment; store it in a Kubernetes Secret and use { secretKeyRef: { name, key } }",
          "services[0].env.CACHE: is a URL with a password but is plaintext in stack config and in the Deployment; store it in a Kubernetes Secret and use { secretKeyRef: { name, key } }",
        ],
      );
      const fine = parseStackConfig(stackInput([svc("a", 1, { env: { UPSTREAM_URL: "https://api.example.com/v1", DB_POOL_SIZE: "10", DATABASE_URL: { secretKeyRef: { name: "payments-db", key: "url" } } } })]));
      assert.equal(Object.keys(fine.services[0].env).length, 3, "URLs without a password, and connection strings by reference, pass");
      const bad = problems(() => parseStackConfig(stackInput([svc("a", 1, { env: { DB_PASSWORD: { secretKeyRef: { name: "Payments DB" } } } })])));
      assert.ok(bad.some((l) => l.startsWith("services[0].env.DB_PASSWORD.secretKeyRef.name: must be a Kubernetes Secret name")), bad.join("\n"));
      assert.ok(bad.some((l) => l.startsWith("services[0].env.DB_PASSWORD.secretKeyRef.key: required: the key inside the Secret")), bad.join("\n"));
    });
  });

});
