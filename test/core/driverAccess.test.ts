import { strict as assert } from "node:assert";
import { driverAccessProblems, lambdaConcurrencyProblem } from "../../core/driverAccess";
import { parseStackConfig } from "../../core/config";
import { checkLambdaConcurrency } from "../../stacks/main";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { remedyConfig } from "../helpers/fixtures";

describe("core/driverAccess: can the release driver reach and authenticate to the cluster", () => {
  const OUTSIDE = { inVpc: false };
  const IN_VPC = { inVpc: true };
  const open = { authenticationMode: "API_AND_CONFIG_MAP", endpointPublicAccess: true, endpointPrivateAccess: false, publicAccessCidrs: ["0.0.0.0/0"] };

  it("accepts API and API_AND_CONFIG_MAP clusters with a public endpoint open to the driver", () => {
    assert.deepEqual(driverAccessProblems("prod-eks", open, OUTSIDE), []);
    assert.deepEqual(driverAccessProblems("prod-eks", { ...open, authenticationMode: "API" }, OUTSIDE), []);
  });

  it("refuses a CONFIG_MAP cluster (no access entries), naming both fixes", () => {
    const [p, ...rest] = driverAccessProblems("prod-eks", { ...open, authenticationMode: "CONFIG_MAP" }, IN_VPC);
    assert.equal(rest.length, 0);
    assert.match(p, /^kubernetes\.driverAccess: cluster prod-eks authenticates only through the aws-auth ConfigMap \(authentication mode CONFIG_MAP\)/);
    assert.match(p, /aws eks update-cluster-config --name prod-eks --access-config authenticationMode=API_AND_CONFIG_MAP/);
    assert.match(p, /or set remedy:kubernetes\.driverAccess: false/);
  });

  it("refuses a private-only endpoint or a CIDR-restricted public one unless the driver runs in the VPC", () => {
    const [privateOnly] = driverAccessProblems("prod-eks", { ...open, endpointPublicAccess: false, endpointPrivateAccess: true }, OUTSIDE);
    assert.match(privateOnly, /^kubernetes\.driverVpc: cluster prod-eks's API endpoint is private only.*set kubernetes\.driverVpc \{ subnetIds, securityGroupIds \}.*driverAccess: false/);
    const [restricted] = driverAccessProblems("prod-eks", { ...open, publicAccessCidrs: ["203.0.113.0/24"] }, OUTSIDE);
    assert.match(restricted, /^kubernetes\.driverVpc: cluster prod-eks's public endpoint admits only 203\.0\.113\.0\/24/);
    assert.deepEqual(driverAccessProblems("prod-eks", { ...open, endpointPublicAccess: false, endpointPrivateAccess: true }, IN_VPC), []);
    assert.deepEqual(driverAccessProblems("prod-eks", { ...open, endpointPrivateAccess: true, publicAccessCidrs: ["203.0.113.0/24"] }, IN_VPC), []);
  });

  it("in the VPC against a public-only endpoint with a CIDR list: needs the declared NAT egress, inside that list (issue 34, 10)", () => {
    const publicOnly = { ...open, endpointPrivateAccess: false, publicAccessCidrs: ["203.0.113.0/24", "198.51.100.7/32"] };
    // Undeclared: remedy cannot see the NAT address, so it cannot pass.
    const [unknown, ...more] = driverAccessProblems("prod-eks", publicOnly, IN_VPC);
    assert.equal(more.length, 0);
    assert.match(unknown, /^kubernetes\.driverVpc\.egressCidrs: cluster prod-eks's endpoint is public only \(endpointPrivateAccess false\) and admits only 203\.0\.113\.0\/24, 198\.51\.100\.7\/32/);
    assert.match(unknown, /endpointPrivateAccess=true/);
    assert.match(unknown, /set kubernetes\.driverVpc\.egressCidrs to the NAT gateways' public addresses/);
    // Declared and inside the list (a /32 inside the /24, the exact /32).
    assert.deepEqual(driverAccessProblems("prod-eks", publicOnly, { inVpc: true, egressCidrs: ["203.0.113.10/32", "198.51.100.7/32"] }), []);
    // Declared, one outside: named, with the fix.
    const [outside] = driverAccessProblems("prod-eks", publicOnly, { inVpc: true, egressCidrs: ["203.0.113.10/32", "192.0.2.1/32"] });
    assert.match(outside, /not the release driver's egress 192\.0\.2\.1\/32, so every scale-down would be refused; add 192\.0\.2\.1\/32 to the cluster's publicAccessCidrs/);
    // A wider egress block than the allowed one is not covered.
    assert.equal(driverAccessProblems("prod-eks", publicOnly, { inVpc: true, egressCidrs: ["203.0.112.0/23"] }).length, 1);
    // Open to all, or with private access on: nothing to check.
    assert.deepEqual(driverAccessProblems("prod-eks", { ...publicOnly, publicAccessCidrs: ["0.0.0.0/0"] }, IN_VPC), []);
    assert.deepEqual(driverAccessProblems("prod-eks", { ...publicOnly, endpointPrivateAccess: true }, IN_VPC), []);
  });
});

describe("core/driverAccess + stacks/main: the account's Lambda concurrency holds the stack's reservations (issue 34, 10)", () => {
  it("needs 100 unreserved besides the rollback Lambda's 10 and the driver's 1: 111 at least", () => {
    assert.equal(lambdaConcurrencyProblem(1000, 11), undefined);
    assert.equal(lambdaConcurrencyProblem(111, 11), undefined);
    assert.equal(
      lambdaConcurrencyProblem(50, 11),
      'AWS Lambda concurrent executions: this account\'s limit is 50, and reserving 11 for the rollback Lambda and the release driver needs at least 111 (Lambda keeps 100 unreserved); request an increase of "Concurrent executions" (Service Quotas > AWS Lambda) to 111 or more, then run the update again',
    );
  });

  it("refuses before anything is registered on a new account's limit, and only warns when the limit cannot be read", async () => {
    const config = parseStackConfig(remedyConfig("prod"));
    const backend = (limit: () => Promise<number | undefined>) => Object.assign(new MemoryReleaseBackend(), { lambdaConcurrencyLimit: limit });
    await assert.rejects(checkLambdaConcurrency(config, backend(async () => 10)), /this account's limit is 10, and reserving 15 .* needs at least 115/);
    await checkLambdaConcurrency(config, backend(async () => 1000));
    await checkLambdaConcurrency(config, backend(async () => Promise.reject(Object.assign(new Error("not authorized to perform lambda:GetAccountSettings"), { name: "AccessDeniedException" }))));
    await checkLambdaConcurrency(config, new MemoryReleaseBackend());
  });
});
