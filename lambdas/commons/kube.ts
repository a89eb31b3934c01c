/**
 * The release driver's Kubernetes calls: scale a slot's Deployment to 0 once its version's
 * rollback window is over, only if the slot still runs that version's image (a GET, then a
 * PATCH of the `scale` subresource conditional on the resourceVersion read). Authenticates to EKS
 * as the driver's IAM role, the way `aws eks get-token` does (a presigned STS GetCallerIdentity
 * URL bound to the cluster name), against the cluster's endpoint and CA. The role is mapped to a
 * Kubernetes group by an EKS access entry; RBAC lets that group get the named Deployments and
 * patch only their `scale` subresource (see `components/rollback/releaseDriver.ts`).
 */
import * as https from "node:https";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

/** Seconds an EKS token's presigned URL is valid (the cluster accepts at most 15 minutes). */
const TOKEN_EXPIRES_SECONDS = 60;

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A bearer token for the EKS cluster `cluster`: `k8s-aws-v1.` + base64url of a presigned
 * `sts:GetCallerIdentity` URL whose signed headers include `x-k8s-aws-id: <cluster>`.
 */
export async function eksToken(cluster: string, region: string, credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider, signingDate?: Date): Promise<string> {
  const signer = new SignatureV4({ service: "sts", region, credentials, sha256: Hash.bind(null, "sha256"), applyChecksum: false });
  const hostname = `sts.${region}.amazonaws.com`;
  const signed = await signer.presign(
    { method: "GET", protocol: "https:", hostname, path: "/", query: { Action: "GetCallerIdentity", Version: "2011-06-15" }, headers: { host: hostname, "x-k8s-aws-id": cluster } },
    { expiresIn: TOKEN_EXPIRES_SECONDS, ...(signingDate ? { signingDate } : {}) },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`)
    .join("&");
  return `k8s-aws-v1.${Buffer.from(`https://${hostname}/?${query}`).toString("base64url")}`;
}

export interface KubeClusterAccess {
  /** The cluster's API endpoint, `https://…`. */
  readonly endpoint: string;
  /** The cluster CA, base64 PEM (as EKS reports it). */
  readonly certificateAuthorityData: string;
  readonly cluster: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Per-request timeout. Default 5 s. */
  readonly timeoutMs?: number;
}

export type ScaleOutcome =
  /** Scaled to 0 (or it already was), from `previousReplicas`. */
  | { readonly outcome: "scaled"; readonly detail: string; readonly previousReplicas?: number }
  /** The Deployment runs another image now (a new release is being deployed into the slot): left alone. */
  | { readonly outcome: "image-changed"; readonly detail: string }
  | { readonly outcome: "missing"; readonly detail: string };

/** Thrown for answers that need a human (no access, API errors): the tick logs them and moves on. */
export class KubeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeError";
  }
}

export interface KubeScaler {
  /** Scales `namespace/name` to 0 replicas if its first container runs `image`. */
  scaleToZeroIfImage(namespace: string, name: string, image: string): Promise<ScaleOutcome>;
  /**
   * Undoes a scale-down that turned out wrong (the slot got traffic or a new release in between):
   * scales `namespace/name` back to `replicas` if it still runs `image` (a new release's
   * Deployment brings its own replicas and is left alone).
   */
  restoreReplicas(namespace: string, name: string, replicas: number, image: string): Promise<ScaleOutcome>;
}

export function createKubeScaler(access: KubeClusterAccess): KubeScaler {
  const ca = Buffer.from(access.certificateAuthorityData, "base64").toString("utf8");
  const base = new URL(access.endpoint);
  const timeout = access.timeoutMs ?? 5_000;

  function request(method: string, path: string, token: string, body?: string, contentType?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          method,
          hostname: base.hostname,
          port: base.port || 443,
          path,
          ca,
          timeout,
          headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body ? { "content-type": contentType ?? "application/json", "content-length": Buffer.byteLength(body) } : {}) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("timeout", () => req.destroy(new KubeError(`no answer from ${base.host} within ${timeout} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  const message = (text: string) => {
    try {
      return (JSON.parse(text) as { message?: string }).message ?? text.slice(0, 200);
    } catch {
      return text.slice(0, 200);
    }
  };

  const base$ = (namespace: string, name: string) => `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(name)}`;
  const denied = (status: number, namespace: string, name: string, body: string) =>
    new KubeError(
      `${status} from the cluster for ${namespace}/${name}: ${message(body)}; check the release driver's EKS access entry and its Role/RoleBinding in ${namespace} (or set remedy:kubernetes.driverAccess: false)`,
    );

  /** Sets the replicas of a Deployment that runs `image`, through the scale subresource (see below). */
  async function scaleIfImage(namespace: string, name: string, image: string, replicas: number): Promise<ScaleOutcome> {
    const token = await eksToken(access.cluster, access.region, access.credentials);
    // Read the Deployment (RBAC: get), check its image, then scale through the scale
    // subresource (RBAC: patch on deployments/scale only: the driver can change nothing but
    // replicas) with the resourceVersion it read as a precondition: if the Deployment changed
    // in between (a new release's image), the API server answers 409 and nothing is scaled.
    const got = await request("GET", base$(namespace, name), token);
    if (got.status === 404) return { outcome: "missing", detail: `${namespace}/${name} does not exist` };
    if (got.status === 401 || got.status === 403) throw denied(got.status, namespace, name, got.body);
    if (got.status !== 200) throw new KubeError(`GET ${namespace}/${name} answered ${got.status}: ${message(got.body)}`);
    const d = JSON.parse(got.body) as { metadata?: { resourceVersion?: string }; spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } } };
    const running = d.spec?.template?.spec?.containers?.[0]?.image;
    if (running !== image) return { outcome: "image-changed", detail: `${namespace}/${name} no longer runs ${image} (it runs ${running ?? "nothing"}); left alone` };
    const patch = JSON.stringify({ metadata: { resourceVersion: d.metadata?.resourceVersion }, spec: { replicas } });
    const res = await request("PATCH", `${base$(namespace, name)}/scale?fieldManager=remedy-release-driver`, token, patch, "application/merge-patch+json");
    if (res.status === 200) return { outcome: "scaled", detail: `${namespace}/${name} scaled to ${replicas} (it runs ${image})`, previousReplicas: d.spec?.replicas ?? 1 };
    if (res.status === 404) return { outcome: "missing", detail: `${namespace}/${name} does not exist` };
    if (res.status === 409) return { outcome: "image-changed", detail: `${namespace}/${name} changed while it was being scaled (${message(res.body)}); left alone` };
    if (res.status === 401 || res.status === 403) throw denied(res.status, namespace, name, res.body);
    throw new KubeError(`PATCH ${namespace}/${name}/scale answered ${res.status}: ${message(res.body)}`);
  }

  return {
    scaleToZeroIfImage: (namespace, name, image) => scaleIfImage(namespace, name, image, 0),
    restoreReplicas: (namespace, name, replicas, image) => scaleIfImage(namespace, name, image, replicas),
  };
}
