import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubernetesSpec } from "../../core/config";
import { type TokenCredentials, eksKubeconfig, eksTokenAuth } from "../../core/kubeconfig";

export interface ClusterProviderArgs {
  /** The cluster from stack config (`remedy:kubernetes`). Required. */
  readonly kubernetes: Pick<KubernetesSpec, "cluster" | "context">;
  /** Region the token is fetched for. */
  readonly region?: string;
  /**
   * The AWS provider's credentials (profile, static keys, shared files, one assumed role): the
   * token is fetched with them. Settings the AWS CLI cannot follow are refused when the provider
   * is constructed. Default: the CLI's own environment.
   */
  readonly credentials?: TokenCredentials;
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
  // Before anything is looked up or registered: credentials the CLI cannot follow are refused.
  const auth = args.credentials ? eksTokenAuth(args.credentials, k.cluster) : undefined;
  const cluster = args.lookup ?? aws.eks.getClusterOutput({ name: k.cluster }, opts.parent ? { parent: opts.parent } : {});
  const kubeconfig = pulumi.all([cluster.endpoint, cluster.certificateAuthorities]).apply(([endpoint, cas]) =>
    JSON.stringify(
      eksKubeconfig({
        cluster: k.cluster,
        endpoint,
        certificateAuthorityData: cas?.[0]?.data ?? "",
        ...(args.region ? { region: args.region } : {}),
        ...(auth ? { auth } : {}),
      }),
    ),
  );
  // Static keys in the exec environment: the kubeconfig is encrypted in state.
  return new k8s.Provider(name, { kubeconfig: auth?.secret ? pulumi.secret(kubeconfig) : kubeconfig, enableServerSideApply: true }, opts);
}
