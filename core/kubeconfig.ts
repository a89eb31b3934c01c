/**
 * A kubeconfig for one EKS cluster, authenticating with `aws eks get-token` (the exec plugin
 * kubectl and `aws eks update-kubeconfig` use), so the Kubernetes provider talks to the cluster
 * named in stack config and nothing else, whatever the current kubeconfig context is.
 */

export interface EksKubeconfigArgs {
  readonly cluster: string;
  /** API server endpoint (`https://...eks.amazonaws.com`). */
  readonly endpoint: string;
  /** Base64 PEM of the cluster CA. */
  readonly certificateAuthorityData: string;
  readonly region?: string;
  /** AWS profile the token is fetched with (the provider's `aws:profile`). */
  readonly profile?: string;
  /** Role assumed to fetch the token (the last of the provider's `aws:assumeRoles`). */
  readonly roleArn?: string;
}

/** The kubeconfig document (JSON is valid YAML; the provider accepts either). */
export function eksKubeconfig(a: EksKubeconfigArgs): Record<string, unknown> {
  if (!/^https:\/\//.test(a.endpoint)) throw new Error(`EKS cluster ${a.cluster}: endpoint must be https://..., got ${JSON.stringify(a.endpoint)}`);
  if (!a.certificateAuthorityData) throw new Error(`EKS cluster ${a.cluster}: no certificate authority data`);
  const name = `remedy-${a.cluster}`;
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: a.endpoint, "certificate-authority-data": a.certificateAuthorityData } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    "current-context": name,
    users: [
      {
        name,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: [
              "eks",
              "get-token",
              "--cluster-name",
              a.cluster,
              "--output",
              "json",
              ...(a.region ? ["--region", a.region] : []),
              ...(a.roleArn ? ["--role-arn", a.roleArn] : []),
            ],
            env: a.profile ? [{ name: "AWS_PROFILE", value: a.profile }] : null,
            interactiveMode: "Never",
          },
        },
      },
    ],
  };
}
