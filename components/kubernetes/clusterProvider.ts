import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubernetesSpec } from "../../core/config";
import { eksKubeconfig } from "../../core/kubeconfig";

export interface ClusterProviderArgs {
  /** The cluster from stack config (`remedy:kubernetes`). Required. */
  readonly kubernetes: Pick<KubernetesSpec, "cluster" | "context">;
  /** Region, profile and role the token is fetched with (the AWS provider's settings). */
  readonly region?: string;
  readonly profile?: string;
  readonly roleArn?: string;
  /** The cluster's lookup, when the caller already made it; default: looked up here. */
  readonly lookup?: pulumi.Output<aws.eks.GetClusterResult>;
}

/**
 * The explicit Kubernetes provider every Kubernetes object of a stack uses. Either a kubeconfig
 * generated for the named EKS cluster (looked up with the AWS provider, so a wrong account or
 * region fails at preview), or the named kubeconfig context; never the current context.
 */
export function clusterProvider(name: string, args: ClusterProviderArgs, opts: pulumi.CustomResourceOptions = {}): k8s.Provider {
  const k = args.kubernetes;
  if (k.context !== undefined) {
    return new k8s.Provider(name, { context: k.context, enableServerSideApply: true }, opts);
  }
  const cluster = args.lookup ?? aws.eks.getClusterOutput({ name: k.cluster }, opts.parent ? { parent: opts.parent } : {});
  const kubeconfig = pulumi.all([cluster.endpoint, cluster.certificateAuthorities]).apply(([endpoint, cas]) =>
    JSON.stringify(
      eksKubeconfig({
        cluster: k.cluster,
        endpoint,
        certificateAuthorityData: cas?.[0]?.data ?? "",
        ...(args.region ? { region: args.region } : {}),
        ...(args.profile ? { profile: args.profile } : {}),
        ...(args.roleArn ? { roleArn: args.roleArn } : {}),
      }),
    ),
  );
  return new k8s.Provider(name, { kubeconfig, enableServerSideApply: true }, opts);
}
