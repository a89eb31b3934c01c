import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { AWS_LB_NAME_MAX, type TargetGroupIdentity, targetGroupName } from "../../core/naming";
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
});
