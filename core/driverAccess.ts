/**
 * Can the release driver reach and authenticate to the EKS cluster as configured? Checked at
 * preview from the cluster lookup the program already makes (`aws.eks.getCluster`), so a setup
 * that cannot work stops before anything changes instead of failing mid-`up` (the access entry)
 * or silently at run time (a scale-down that never happens). Pure.
 */
import { uncovered } from "./cidr";

/** The parts of `aws.eks.getCluster`'s answer the checks read. */
export interface ClusterFacts {
  /** `accessConfigs[0].authenticationMode`: `CONFIG_MAP`, `API` or `API_AND_CONFIG_MAP`. */
  readonly authenticationMode?: string;
  readonly endpointPublicAccess?: boolean;
  readonly endpointPrivateAccess?: boolean;
  readonly publicAccessCidrs?: readonly string[];
}

/** Where the release driver runs: outside any VPC, or in one (`kubernetes.driverVpc`). */
export interface DriverNetwork {
  readonly inVpc: boolean;
  /** `driverVpc.egressCidrs`: the public addresses its subnets reach the internet from (NAT). */
  readonly egressCidrs?: readonly string[];
}

const restricted = (cidrs: readonly string[] | undefined): cidrs is readonly string[] => cidrs !== undefined && cidrs.length > 0 && !cidrs.includes("0.0.0.0/0");

/**
 * Why the release driver's cluster access cannot work, each with its fixes; empty when it can.
 * @param cluster the cluster name (for messages).
 * @param network where the driver runs (`kubernetes.driverVpc`).
 */
export function driverAccessProblems(cluster: string, facts: ClusterFacts, network: DriverNetwork): string[] {
  const inVpc = network.inVpc;
  const problems: string[] = [];
  const off = "or set remedy:kubernetes.driverAccess: false (pulumi up then scales promoted-away slots down after their window)";
  // EKS access entries need the API authentication mode (docs: "access entries ... cluster
  // authentication mode must be API or API_AND_CONFIG_MAP").
  if (facts.authenticationMode === "CONFIG_MAP") {
    problems.push(
      `kubernetes.driverAccess: cluster ${cluster} authenticates only through the aws-auth ConfigMap (authentication mode CONFIG_MAP), and the release driver's EKS access entry needs API or API_AND_CONFIG_MAP; ` +
        `switch the cluster to API_AND_CONFIG_MAP (aws eks update-cluster-config --name ${cluster} --access-config authenticationMode=API_AND_CONFIG_MAP; it keeps aws-auth working), ${off}`,
    );
  }
  if (!inVpc) {
    if (facts.endpointPublicAccess === false) {
      problems.push(
        `kubernetes.driverVpc: cluster ${cluster}'s API endpoint is private only, and the release driver runs outside the VPC, so it could never scale a slot down; ` +
          `set kubernetes.driverVpc { subnetIds, securityGroupIds } (subnets with NAT or VPC endpoints for the AWS APIs, a security group the cluster admits on 443), ${off}`,
      );
    } else if (restricted(facts.publicAccessCidrs)) {
      problems.push(
        `kubernetes.driverVpc: cluster ${cluster}'s public endpoint admits only ${facts.publicAccessCidrs.join(", ")}, and a Lambda outside a VPC calls from AWS addresses no CIDR list can name; ` +
          `set kubernetes.driverVpc (through the private endpoint, or a NAT gateway whose address you add to publicAccessCidrs), ${off}`,
      );
    }
  } else if (facts.endpointPrivateAccess === false && restricted(facts.publicAccessCidrs)) {
    // In the VPC, without private endpoint access the driver calls the public endpoint from its
    // subnets' NAT address ("If you disable private access ... ensure that publicAccessCidrs
    // includes the necessary CIDR blocks", EKS VpcConfigRequest). That address is not in the
    // cluster's facts: the config declares it, or the check cannot pass.
    const admits = `cluster ${cluster}'s endpoint is public only (endpointPrivateAccess false) and admits only ${facts.publicAccessCidrs.join(", ")}`;
    const usePrivate = `enable private endpoint access (aws eks update-cluster-config --name ${cluster} --resources-vpc-config endpointPrivateAccess=true; requests from the cluster's VPC then stay in it)`;
    if (network.egressCidrs === undefined) {
      problems.push(
        `kubernetes.driverVpc.egressCidrs: ${admits}, and the release driver in the VPC calls it from its subnets' NAT address, which remedy cannot see; ` +
          `${usePrivate}, or set kubernetes.driverVpc.egressCidrs to the NAT gateways' public addresses (e.g. ["203.0.113.10/32"]) and add them to publicAccessCidrs, ${off}`,
      );
    } else {
      const outside = uncovered(network.egressCidrs, facts.publicAccessCidrs);
      if (outside.length > 0) {
        problems.push(
          `kubernetes.driverVpc.egressCidrs: ${admits}, not the release driver's egress ${outside.join(", ")}, so every scale-down would be refused; ` +
            `add ${outside.join(", ")} to the cluster's publicAccessCidrs (aws eks update-cluster-config --name ${cluster} --resources-vpc-config publicAccessCidrs=...), or ${usePrivate}, ${off}`,
        );
      }
    }
  }
  return problems;
}

/**
 * Lambda keeps 100 concurrent executions of an account unreserved ("Lambda reserves 100 units of
 * concurrency for functions that don't use reserved concurrency"; PutFunctionConcurrency fails
 * past that), so reserving `reserved` for this stack's functions needs an account concurrency
 * limit of at least 100 + `reserved`. New accounts often start at 10 or 50. Undefined when it fits.
 */
export function lambdaConcurrencyProblem(accountLimit: number, reserved: number): string | undefined {
  const needed = 100 + reserved;
  if (accountLimit >= needed) return undefined;
  return (
    `AWS Lambda concurrent executions: this account's limit is ${accountLimit}, and reserving ${reserved} for the rollback Lambda and the release driver needs at least ${needed} ` +
    `(Lambda keeps 100 unreserved); request an increase of "Concurrent executions" (Service Quotas > AWS Lambda) to ${needed} or more, then run the update again`
  );
}
