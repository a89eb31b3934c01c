import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { AWS_LB_NAME_MAX, type TargetGroupIdentity, bindingNameFor, isTargetGroupNameOf, targetGroupName, targetGroupNameOfArn } from "../../core/naming";
import { SLOTS } from "../../core/slots";

const identity = fc.record<TargetGroupIdentity>({
  stack: fc.constantFrom("prod", "hotfix", "staging-eu-west-1"),
  service: fc.stringMatching(/^[a-z]([-a-z0-9]{0,48}[a-z0-9])?$/),
  slot: fc.constantFrom(...SLOTS),
  port: fc.integer({ min: 1, max: 65535 }),
  protocol: fc.constant("HTTP"),
  targetType: fc.constant("ip"),
  vpcId: fc.constantFrom("vpc-0a1b2c3d4e5f67890", "vpc-11111111"),
});

describe("core/naming: targetGroupName", () => {
  it("always fits AWS's 32 characters of alphanumerics and inner hyphens", () => {
    fc.assert(
      fc.property(identity, (id) => {
        // Long names are cut to fit AWS's 32 characters: there the name cannot tell services (or
        // slots) sharing the cut prefix apart, and the check against the live rule does.
        fc.pre(`${id.service}-${id.slot}x`.length <= AWS_LB_NAME_MAX - 9);
        const name = targetGroupName(id);
        assert.ok(name.length <= AWS_LB_NAME_MAX, `${name} is ${name.length} chars`);
        assert.match(name, /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/);
      }),
    );
  });

  it("is stable for the same identity and changes with anything that forces replacement", () => {
    fc.assert(
      fc.property(identity, fc.integer({ min: 1, max: 65535 }), (id, port) => {
        assert.equal(targetGroupName(id), targetGroupName({ ...id }));
        if (port !== id.port) assert.notEqual(targetGroupName({ ...id, port }), targetGroupName(id));
        assert.notEqual(targetGroupName({ ...id, stack: id.stack + "x" }), targetGroupName(id), "stacks never share a name");
      }),
    );
  });

  it("keeps the service and slot readable when they fit", () => {
    const name = targetGroupName({ stack: "prod", service: "payments", slot: "green", port: 8080, protocol: "HTTP", targetType: "ip", vpcId: "vpc-11111111" });
    assert.match(name, /^payments-green-[0-9a-f]{8}$/);
  });

  describe("bindingNameFor: a TargetGroupBinding keeps its name while its target group stays", () => {
    const arn = (tg: string) => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${tg}/50dc6c495c0c9188`;
    const tg = "payments-blue-1a2b3c4d";

    it("keeps the recorded name, or the pre-recording name <service>-<slot>, for the recorded target group", () => {
      assert.equal(bindingNameFor("payments", "blue", tg, { targetGroupArn: arn(tg), binding: "payments-blue-1a2b3c4d" }), "payments-blue-1a2b3c4d");
      assert.equal(bindingNameFor("payments", "blue", tg, { targetGroupArn: arn(tg) }), "payments-blue", "a stack deployed before names were recorded: no rename, no second binding of the group");
    });

    it("names a binding after a new target group: first deployment, or a replaced group", () => {
      assert.equal(bindingNameFor("payments", "blue", tg), "payments-blue-1a2b3c4d");
      assert.equal(bindingNameFor("payments", "blue", "payments-blue-99ffee00", { targetGroupArn: arn(tg), binding: "payments-blue" }), "payments-blue-99ffee00");
      assert.equal(targetGroupNameOfArn(arn(tg)), tg);
      assert.equal(targetGroupNameOfArn("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1"), undefined);
    });

    it("never gives a replaced group's binding the name of the old one (property)", () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), (a, b) => {
          fc.pre(a !== b);
          const name = (port: number) => targetGroupName({ stack: "prod", service: "payments", slot: "green", port, protocol: "HTTP", targetType: "ip", vpcId: "vpc-1" });
          const first = bindingNameFor("payments", "green", name(a));
          const next = bindingNameFor("payments", "green", name(b), { targetGroupArn: arn(name(a)), binding: first });
          return next !== first && next.length <= 253;
        }),
      );
    });
  });

  it("isTargetGroupNameOf recognises exactly the names targetGroupName makes for that service and slot (property)", () => {
    fc.assert(
      fc.property(identity, (id) => {
        // Long names are cut to fit AWS's 32 characters: there the name cannot tell services (or
        // slots) sharing the cut prefix apart, and the check against the live rule does.
        fc.pre(`${id.service}-${id.slot}x`.length <= AWS_LB_NAME_MAX - 9);
        const name = targetGroupName(id);
        const other = id.slot === "blue" ? "green" : "blue";
        return isTargetGroupNameOf(id.service, id.slot, name) && !isTargetGroupNameOf(id.service, other, name) && !isTargetGroupNameOf(`${id.service}x`, id.slot, name);
      }),
    );
    for (let i = 0; i < 200; i++) {
      const id = { stack: "prod", service: `svc${i}`, slot: (i % 2 ? "blue" : "green") as "blue" | "green", port: 8000 + i, protocol: "HTTP", targetType: "ip", vpcId: "vpc-1" };
      assert.ok(isTargetGroupNameOf(id.service, id.slot, targetGroupName(id)), "every name the program makes passes");
    }
    assert.equal(isTargetGroupNameOf("payments", "blue", "attacker-tg"), false);
    assert.equal(isTargetGroupNameOf("payments", "blue", "payments-blue-XYZ12345"), false);
  });
});
