import { strict as assert } from "node:assert";
import { driverAccessProblems } from "../../core/driverAccess";

describe("core/driverAccess: can the release driver reach and authenticate to the cluster", () => {
  const open = { authenticationMode: "API_AND_CONFIG_MAP", endpointPublicAccess: true, endpointPrivateAccess: false, publicAccessCidrs: ["0.0.0.0/0"] };

  it("accepts API and API_AND_CONFIG_MAP clusters with a public endpoint open to the driver", () => {
    assert.deepEqual(driverAccessProblems("prod-eks", open, false), []);
    assert.deepEqual(driverAccessProblems("prod-eks", { ...open, authenticationMode: "API" }, false), []);
  });

  it("refuses a CONFIG_MAP cluster (no access entries), naming both fixes", () => {
    const [p, ...rest] = driverAccessProblems("prod-eks", { ...open, authenticationMode: "CONFIG_MAP" }, true);
    assert.equal(rest.length, 0);
    assert.match(p, /^kubernetes\.driverAccess: cluster prod-eks authenticates only through the aws-auth ConfigMap \(authentication mode CONFIG_MAP\)/);
    assert.match(p, /aws eks update-cluster-config --name prod-eks --access-config authenticationMode=API_AND_CONFIG_MAP/);
    assert.match(p, /or set remedy:kubernetes\.driverAccess: false/);
  });

  it("refuses a private-only endpoint or a CIDR-restricted public one unless the driver runs in the VPC", () => {
    const [privateOnly] = driverAccessProblems("prod-eks", { ...open, endpointPublicAccess: false, endpointPrivateAccess: true }, false);
    assert.match(privateOnly, /^kubernetes\.driverVpc: cluster prod-eks's API endpoint is private only.*set kubernetes\.driverVpc \{ subnetIds, securityGroupIds \}.*driverAccess: false/);
    const [restricted] = driverAccessProblems("prod-eks", { ...open, publicAccessCidrs: ["203.0.113.0/24"] }, false);
    assert.match(restricted, /^kubernetes\.driverVpc: cluster prod-eks's public endpoint admits only 203\.0\.113\.0\/24/);
    assert.deepEqual(driverAccessProblems("prod-eks", { ...open, endpointPublicAccess: false, endpointPrivateAccess: true }, true), []);
    assert.deepEqual(driverAccessProblems("prod-eks", { ...open, publicAccessCidrs: ["203.0.113.0/24"] }, true), []);
  });
});
