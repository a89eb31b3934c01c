/**
 * A kubeconfig for one EKS cluster, authenticating with `aws eks get-token` (the exec plugin
 * kubectl and `aws eks update-kubeconfig` use), so the Kubernetes provider talks to the cluster
 * named in stack config and nothing else, whatever the current kubeconfig context is.
 */

/**
 * The AWS provider settings the token must be fetched with (the same names as `aws:*` config):
 * `aws eks get-token` runs with these, so the cluster sees the identity the provider deploys as.
 */
export interface TokenCredentials {
  readonly profile?: string;
  readonly accessKey?: string;
  readonly secretKey?: string;
  readonly token?: string;
  readonly sharedCredentialsFiles?: readonly string[];
  readonly sharedConfigFiles?: readonly string[];
  readonly assumeRoles?: readonly { readonly roleArn: string; readonly externalId?: string; readonly sessionName?: string }[];
}

/** How `aws eks get-token` is run: its `--role-arn`, and the environment the exec plugin gives it. */
export interface TokenAuth {
  readonly roleArn?: string;
  readonly env: readonly { readonly name: string; readonly value: string }[];
  /** True when `env` holds credentials: the kubeconfig must then be a Pulumi secret. */
  readonly secret: boolean;
}

/** Provider settings `aws eks get-token` cannot follow; the message names the fix. */
export class KubeconfigAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeconfigAuthError";
  }
}

/**
 * Translates the provider's credentials for `aws eks get-token` (which takes one `--role-arn`
 * and nothing else about roles: docs.aws.amazon.com/cli/latest/reference/eks/get-token): a profile
 * and shared files through the CLI's environment variables, static keys through
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, and one assumed role as
 * `--role-arn`.
 * @throws KubeconfigAuthError for a chain of two or more roles, an external id, or several
 *   shared files, naming the fix.
 */
export function eksTokenAuth(c: TokenCredentials, cluster: string): TokenAuth {
  const fix = `use an aws:profile whose role_arn / source_profile chain the AWS CLI follows, or set remedy:kubernetes.context to a kubeconfig context for ${cluster}`;
  const roles = c.assumeRoles ?? [];
  if (roles.length > 1) {
    throw new KubeconfigAuthError(`aws:assumeRoles: a chain of ${roles.length} roles, but aws eks get-token assumes a single role (--role-arn), so the cluster would see another identity than the provider; ${fix}`);
  }
  if (roles[0]?.externalId !== undefined) {
    throw new KubeconfigAuthError(`aws:assumeRoles[0].externalId: aws eks get-token cannot pass an external id when it assumes ${roles[0].roleArn}; ${fix}`);
  }
  for (const [key, files] of [["sharedCredentialsFiles", c.sharedCredentialsFiles], ["sharedConfigFiles", c.sharedConfigFiles]] as const) {
    if (files && files.length > 1) throw new KubeconfigAuthError(`aws:${key}: the AWS CLI reads one file (${key === "sharedConfigFiles" ? "AWS_CONFIG_FILE" : "AWS_SHARED_CREDENTIALS_FILE"}), got ${files.length}; merge them, or ${fix}`);
  }
  if ((c.accessKey === undefined) !== (c.secretKey === undefined)) {
    throw new KubeconfigAuthError("aws:accessKey and aws:secretKey: set both (static keys) or neither");
  }
  const env: { name: string; value: string }[] = [];
  if (c.profile) env.push({ name: "AWS_PROFILE", value: c.profile });
  if (c.sharedCredentialsFiles?.[0]) env.push({ name: "AWS_SHARED_CREDENTIALS_FILE", value: c.sharedCredentialsFiles[0] });
  if (c.sharedConfigFiles?.[0]) env.push({ name: "AWS_CONFIG_FILE", value: c.sharedConfigFiles[0] });
  if (c.accessKey !== undefined && c.secretKey !== undefined) {
    env.push({ name: "AWS_ACCESS_KEY_ID", value: c.accessKey }, { name: "AWS_SECRET_ACCESS_KEY", value: c.secretKey });
    if (c.token) env.push({ name: "AWS_SESSION_TOKEN", value: c.token });
  }
  return { ...(roles[0] ? { roleArn: roles[0].roleArn } : {}), env, secret: c.accessKey !== undefined };
}

export interface EksKubeconfigArgs {
  readonly cluster: string;
  /** API server endpoint (`https://...eks.amazonaws.com`). */
  readonly endpoint: string;
  /** Base64 PEM of the cluster CA. */
  readonly certificateAuthorityData: string;
  readonly region?: string;
  /** How the token is fetched (see {@link eksTokenAuth}). Default: the CLI's own environment. */
  readonly auth?: TokenAuth;
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
              ...(a.auth?.roleArn ? ["--role-arn", a.auth.roleArn] : []),
            ],
            env: a.auth && a.auth.env.length > 0 ? a.auth.env.map((e) => ({ ...e })) : null,
            interactiveMode: "Never",
          },
        },
      },
    ],
  };
}
