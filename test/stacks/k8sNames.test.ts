/**
 * Every Kubernetes name the program registers, and those the AWS Load Balancer Controller derives
 * from them, judged by Kubernetes' own rules (test/helpers/k8sNames.ts) rather than the mocks,
 * which take any string. Issue 34, items 7 and 21.
 */
import { strict as assert } from "node:assert";
import { BINDING_NAME_MAX, targetGroupBindingName, bindingNameFor } from "../../core/naming";
import { stackYaml } from "../helpers/fixtures";
import { runStackEntry, useMemoryReleases } from "../helpers/stackProgram";
import { dns1035Label, dns1123Label, k8sNameProblems, labelValue, portName, qualifiedName, readinessGateOf } from "../helpers/k8sNames";
import { T, ofType, recorded, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A 50-character service name, the longest config accepts. */
const LONG = "payments-settlement-reconciliation-service-eu-west";

describe("stacks: Kubernetes names as the API server judges them", () => {
  describe("the rules", () => {
    it("follow apimachinery's validation: labels, subdomains, qualified names, label values, port names", () => {
      assert.equal(dns1123Label("payments-blue"), undefined);
      assert.match(dns1123Label("Payments") ?? "", /not a DNS-1123 label/);
      assert.match(dns1123Label("a".repeat(64)) ?? "", /longer than 63/);
      assert.match(dns1035Label("1payments") ?? "", /starts with a letter/);
      assert.equal(qualifiedName("target-health.elbv2.k8s.aws/payments-blue-0a1b2c3d"), undefined);
      assert.match(qualifiedName(`target-health.elbv2.k8s.aws/${"a".repeat(64)}`) ?? "", /name part "a+" is longer than 63 characters/);
      assert.match(qualifiedName("a/b/c") ?? "", /at most one "\/"/);
      assert.equal(labelValue(""), undefined);
      assert.match(labelValue("-x") ?? "", /not alphanumerics/);
      assert.equal(portName("http"), undefined);
      assert.match(portName("http-traffic-port") ?? "", /longer than 15/);
      assert.match(portName("8080") ?? "", /must hold a letter/);
      assert.match(portName("a--b") ?? "", /"--"/);
    });

    it("name a TargetGroupBinding within the readiness gate's 63 characters, even for a 50-character service (issue 34, 7)", () => {
      // Prepare: the name the controller's gate would carry before the fix: <service>-green-<hash>, 65 characters.
      const before = `${LONG}-green-0a1b2c3d`;
      assert.equal(before.length, 65);
      assert.match(k8sNameProblems({ type: T.tgb, name: "x", inputs: { metadata: { name: before } } }).join("\n"), /readiness gate the controller injects .* longer than 63 characters/);
      // Act
      const names = (["blue", "green"] as const).map((slot) => targetGroupBindingName(LONG, slot, `${LONG.slice(0, 20)}-${slot}-0a1b2c3d`));
      // Assess: both fit, differ, and keep the target group's hash.
      for (const n of names) {
        assert.ok(n.length <= BINDING_NAME_MAX, n);
        assert.equal(qualifiedName(readinessGateOf(n)), undefined);
        assert.ok(n.endsWith("-0a1b2c3d"));
      }
      assert.notEqual(names[0], names[1]);
      // A short service keeps its readable name whole.
      assert.equal(targetGroupBindingName("payments", "green", "payments-green-0a1b2c3d"), "payments-green-0a1b2c3d");
      // A recorded name too long for the gate is not kept (its pods were never admitted).
      const arn = `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${LONG.slice(0, 20)}-green-0a1b2c3d/abc`;
      assert.equal(bindingNameFor(LONG, "green", `${LONG.slice(0, 20)}-green-0a1b2c3d`, { targetGroupArn: arn, binding: before }), names[1]);
      assert.equal(bindingNameFor("payments", "green", `${LONG.slice(0, 20)}-green-0a1b2c3d`, { targetGroupArn: arn, binding: "payments-green" }), "payments-green", "a valid recorded name is kept");
    });
  });

  describe("what the program registers", () => {
    useMemoryReleases();

    for (const [what, edit] of [
      ["Pulumi.prod.yaml", (c: Obj) => c],
      [
        "a 50-character service name with both slots",
        (c: Obj) => {
          const services = JSON.parse(JSON.stringify(c["remedy:services"])) as Obj[];
          const payments = services[0] as Obj;
          payments.name = LONG;
          delete payments.api;
          return { ...c, "remedy:services": services };
        },
      ],
    ] as const) {
      it(`${what}: every object's name, labels, ports and readiness gates, and each binding's controller gate`, async () => {
        // Prepare + Act
        recorded.resources.length = 0;
        await runStackEntry(edit(stackYaml("prod") as Obj));
        await settle();
        const objects = recorded.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:index") && r.type !== "pulumi:providers:kubernetes");
        // Assess: the kinds remedy writes are all here, and none breaks a rule.
        const kinds = new Set(objects.map((r) => r.type));
        for (const t of [T.deployment, T.service, T.tgb, T.namespace, T.pdb]) assert.ok(kinds.has(t), `no ${t} registered`);
        assert.deepEqual(objects.flatMap((r) => k8sNameProblems(r)), []);
        if (what !== "Pulumi.prod.yaml") {
          const bindings = ofType(T.tgb).map((r) => String((r.inputs as Obj).metadata.name)).filter((n) => n.startsWith(LONG.slice(0, 30)));
          assert.equal(bindings.length, 2);
        }
      });
    }
  });
});
