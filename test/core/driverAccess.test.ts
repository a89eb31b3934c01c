import { strict as assert } from "node:assert";
import { driverAccessProblems, lambdaConcurrencyProblem } from "../../core/driverAccess";
import { parseStackConfig } from "../../core/config";
import { checkLambdaConcurrency } from "../../stacks/main";
import { MemoryReleaseBackend } from "../../stacks/releases";
import { remedyConfig } from "../helpers/fixtures";

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
    await assert.rejects(checkLambdaConcurrency(config, backend(async () => 10)), /this account's limit is 10, and reserving 11 .* needs at least 111/);
    await checkLambdaConcurrency(config, backend(async () => 1000));
    await checkLambdaConcurrency(config, backend(async () => Promise.reject(Object.assign(new Error("not authorized to perform lambda:GetAccountSettings"), { name: "AccessDeniedException" }))));
    await checkLambdaConcurrency(config, new MemoryReleaseBackend());
  });
});
