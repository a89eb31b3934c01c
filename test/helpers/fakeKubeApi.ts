/**
 * A stand-in for the EKS API server, for the release driver's one Kubernetes call: HTTPS with a
 * throwaway self-signed CA (made by openssl), bearer tokens checked the way EKS checks their
 * shape (a presigned STS GetCallerIdentity URL binding `x-k8s-aws-id` to the cluster), and
 * Deployments that answer JSON Patch with `test` and `replace` as the API server does (a failed
 * `test` rejects the whole patch with 422). No cluster is reachable on this machine.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface FakeDeployment {
  image: string;
  replicas: number;
}

export interface FakeKubeApi {
  readonly endpoint: string;
  /** Base64 PEM of the server's certificate (it is its own CA), as EKS reports a cluster CA. */
  readonly certificateAuthorityData: string;
  /** `namespace/name` -> Deployment. */
  readonly deployments: Map<string, FakeDeployment>;
  /** Every request: method, path, the decoded presigned URL of its token, content type. */
  readonly requests: { method: string; path: string; presignedUrl: URL | null; contentType: string | undefined }[];
  /** Answer the next requests with this status (e.g. 403) instead of serving them. */
  deny?: { status: number; message: string };
  close(): Promise<void>;
}

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-kube-"));
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`openssl is needed to make the fake Kubernetes API's certificate: ${(err as Error).message}`);
  }
  const pem = fs.readFileSync(cert);
  const deployments = new Map<string, FakeDeployment>();
  const requests: FakeKubeApi["requests"] = [];
  const api: Partial<FakeKubeApi> & { deny?: FakeKubeApi["deny"] } = { deployments, requests };
  const server = https.createServer({ key: fs.readFileSync(key), cert: pem }, (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const answer = (status: number, obj: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(obj));
      };
      const token = /^Bearer k8s-aws-v1\.(.+)$/.exec(req.headers.authorization ?? "")?.[1];
      let presignedUrl: URL | null = null;
      try {
        presignedUrl = token ? new URL(Buffer.from(token, "base64url").toString("utf8")) : null;
      } catch {
        presignedUrl = null;
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", presignedUrl, contentType: req.headers["content-type"] });
      const q = presignedUrl?.searchParams;
      const valid =
        presignedUrl?.protocol === "https:" &&
        /^sts\.[a-z0-9-]+\.amazonaws\.com$/.test(presignedUrl.hostname) &&
        q?.get("Action") === "GetCallerIdentity" &&
        q.get("X-Amz-Algorithm") === "AWS4-HMAC-SHA256" &&
        (q.get("X-Amz-SignedHeaders") ?? "").split(";").includes("x-k8s-aws-id") &&
        Number(q.get("X-Amz-Expires")) <= 900 &&
        /^[0-9a-f]{64}$/.test(q.get("X-Amz-Signature") ?? "");
      if (!valid) return answer(401, { kind: "Status", status: "Failure", message: "Unauthorized", code: 401 });
      if (api.deny) return answer(api.deny.status, { kind: "Status", status: "Failure", message: api.deny.message, code: api.deny.status });
      const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/?]+)/.exec(req.url ?? "");
      const d = m ? deployments.get(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`) : undefined;
      if (!m || !d) return answer(404, { kind: "Status", status: "Failure", message: `deployments.apps "${m?.[2] ?? "?"}" not found`, reason: "NotFound", code: 404 });
      if (req.method !== "PATCH" || req.headers["content-type"] !== "application/json-patch+json") return answer(415, { kind: "Status", message: "unsupported" });
      const ops = JSON.parse(body) as { op: string; path: string; value: unknown }[];
      const next = { ...d };
      for (const op of ops) {
        if (op.op === "test" && op.path === "/spec/template/spec/containers/0/image" && op.value !== d.image) {
          return answer(422, { kind: "Status", status: "Failure", message: `the server rejected our request due to an error in our request: testing value ${op.path} failed: test failed`, code: 422 });
        }
        if (op.op === "replace" && op.path === "/spec/replicas") next.replicas = op.value as number;
      }
      deployments.set(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`, next);
      return answer(200, { kind: "Deployment", metadata: { name: m[2], namespace: m[1] }, spec: { replicas: next.replicas } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(api, {
    endpoint: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    certificateAuthorityData: pem.toString("base64"),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  }) as FakeKubeApi;
}
