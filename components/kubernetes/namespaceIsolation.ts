/**
 * A NetworkPolicy that walls a namespace off from the rest of the cluster (the hotfix stack's,
 * issue 35, 20): the same cluster as prod, so without it a hotfix pod could call prod's pods and
 * prod's pods the hotfix's.
 *
 * Kubernetes' NetworkPolicy is allow-only: once a policy selects a pod for Ingress and Egress,
 * only what some policy allows gets through ("Network Policies", kubernetes.io). This one selects
 * every pod of the namespace and allows:
 *   - in: from the namespace's own pods, and from the ALB's subnets on the services' ports (the
 *     load balancer sits outside the cluster; with `ip` targets its health checks and requests
 *     come from its addresses in those subnets);
 *   - out: to the namespace's own pods, to the cluster DNS (kube-system's kube-dns, port 53), and
 *     to `egressCidrs` (databases, APIs the hotfix needs), nothing else.
 * On EKS the VPC CNI enforces it once its network policy agent is enabled ("Limit Pod traffic
 * with Kubernetes network policies", Amazon EKS User Guide); without an enforcing CNI a
 * NetworkPolicy is accepted and does nothing. With the VPC CNI pods take VPC addresses, so an
 * `ipBlock` also matches pods in it: keep the ALB's subnets and `egressCidrs` apart from the
 * subnets prod's pods run in.
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { IngressSpec, StackConfig } from "../../core/config";

export interface NamespaceIsolationArgs {
  readonly namespace: pulumi.Input<string>;
  /** The container ports the ALB reaches the pods on. */
  readonly ports: readonly number[];
  /** The CIDRs of the ALB's subnets. */
  readonly loadBalancerCidrs: pulumi.Input<readonly string[]>;
  /** Where the pods may connect beyond their namespace and DNS. */
  readonly egressCidrs: readonly string[];
}

/** The label Kubernetes sets on every namespace to its own name (since 1.22). */
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export function namespaceIsolation(name: string, args: NamespaceIsolationArgs, opts: pulumi.CustomResourceOptions): k8s.networking.v1.NetworkPolicy {
  const ports = [...new Set(args.ports)].sort((a, b) => a - b).map((port) => ({ protocol: "TCP", port }));
  return new k8s.networking.v1.NetworkPolicy(
    name,
    {
      metadata: { name: "remedy-isolation", namespace: args.namespace, labels: { "app.kubernetes.io/managed-by": "remedy" } },
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          { from: [{ podSelector: {} }] },
          { from: pulumi.output(args.loadBalancerCidrs).apply((cidrs) => [...cidrs].sort().map((cidr) => ({ ipBlock: { cidr } }))), ports },
        ],
        egress: [
          { to: [{ podSelector: {} }] },
          {
            to: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
            ports: [
              { protocol: "UDP", port: 53 },
              { protocol: "TCP", port: 53 },
            ],
          },
          ...(args.egressCidrs.length > 0 ? [{ to: args.egressCidrs.map((cidr) => ({ ipBlock: { cidr } })) }] : []),
        ],
      },
    },
    opts,
  );
}

/**
 * Where the stack's ALBs send from: the subnets of each ALB it creates; for an adopted listener
 * (subnets unknown here) its VPC's associated CIDRs, which is broader.
 */
export function loadBalancerCidrs(ingresses: readonly IngressSpec[], opts: pulumi.InvokeOutputOptions = {}): pulumi.Output<string[]> {
  return pulumi
    .all(
      ingresses.map((g) =>
        g.mode === "create"
          ? pulumi.all(g.subnetIds.map((id) => aws.ec2.getSubnetOutput({ id }, opts).cidrBlock))
          : aws.ec2.getVpcOutput({ id: g.vpcId }, opts).cidrBlockAssociations.apply((a) => a.filter((x) => x.state === "associated").map((x) => x.cidrBlock)),
      ),
    )
    .apply((lists) => [...new Set(lists.flat())].sort());
}

/** The stack's isolated namespace's NetworkPolicy (`config.isolation`), after its Namespace; none without one. */
export function isolateNamespace(config: StackConfig, namespaces: ReadonlyMap<string, k8s.core.v1.Namespace>, provider: k8s.Provider): k8s.networking.v1.NetworkPolicy | undefined {
  const iso = config.isolation;
  if (!iso) return undefined;
  const ns = namespaces.get(iso.namespace);
  return namespaceIsolation(
    "isolation",
    {
      namespace: iso.namespace,
      ports: config.services.filter((s) => s.namespace === iso.namespace).map((s) => s.port),
      loadBalancerCidrs: loadBalancerCidrs(Object.values(config.ingressGroups)),
      egressCidrs: iso.egressCidrs,
    },
    { provider, ...(ns ? { dependsOn: [ns] } : {}) },
  );
}
