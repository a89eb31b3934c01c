/**
 * A stand-in for the EKS API server, for the release driver's one Kubernetes call: HTTPS with a
 * throwaway self-signed CA (made by openssl), bearer tokens checked the way EKS checks their
 * shape (a presigned STS GetCallerIdentity URL binding `x-k8s-aws-id` to the cluster), and
 * Deployments that answer JSON Patch with `test` and `replace` as the API server does (a failed
 * `test` rejects the whole patch with 422), and server-side apply (`application/apply-patch+yaml`)
 * with field ownership: every write records which field manager owns which fields (an Update for a
 * JSON Patch, an Apply for an apply), and an apply that would change a field another manager owns
 * is refused with 409 Conflict naming that manager and field, unless `force=true`, which takes the
 * field over (kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts). Simplified from
 * the real structured-merge-diff: lists are atomic, and fields an applier stops naming are released,
 * not removed. No cluster is reachable on this machine.
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

/** What a RoleBinding would allow the caller (checked per request, like the API server's RBAC). */
export interface FakeRbac {
  /** `verb resource` pairs allowed, e.g. `get deployments`, `patch deployments/scale`. */
  readonly allow: readonly string[];
}

export interface FakeKubeApi {
  readonly endpoint: string;
  /** Base64 PEM of the server's certificate (it is its own CA), as EKS reports a cluster CA. */
  readonly certificateAuthorityData: string;
  /** `namespace/name` -> Deployment. */
  readonly deployments: Map<string, FakeDeployment>;
  /**
   * Server-side apply bookkeeping per `namespace/name`: the live object (after the first apply)
   * and the fields each manager owns, keyed `<manager>|<Apply|Update>`, as `.a.b.c` paths.
   */
  readonly objects: Map<string, Obj>;
  readonly managedFields: Map<string, Map<string, Set<string>>>;
  /** resourceVersion per `namespace/name` (bumped by every change made through the API). */
  readonly versions: Map<string, number>;
  /** Every request: method, path, the decoded presigned URL of its token, content type. */
  readonly requests: { method: string; path: string; presignedUrl: URL | null; contentType: string | undefined }[];
  /** Answer the next requests with this status (e.g. 403) instead of serving them. */
  deny?: { status: number; message: string };
  /** When set, requests outside these verbs/resources are forbidden (403), as RBAC would. */
  rbac?: FakeRbac;
  /** Called after a GET of a Deployment is answered (a test changes the Deployment in between). */
  afterGet?: (key: string) => void;
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;

/** Leaf fields of an object as `.a.b` paths (lists are atomic leaves). */
export function fieldPaths(o: unknown, prefix = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (o !== null && typeof o === "object" && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o as Obj)) for (const [p, x] of fieldPaths(v, `${prefix}.${k}`)) out.set(p, x);
  } else if (prefix) {
    out.set(prefix, o);
  }
  return out;
}

function valueAt(o: unknown, path: string): unknown {
  return path.split(".").slice(1).reduce<unknown>((cur, k) => (cur !== null && typeof cur === "object" ? (cur as Obj)[k] : undefined), o);
}

function merge(target: Obj, patch: Obj): Obj {
  const out: Obj = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    out[k] = v !== null && typeof v === "object" && !Array.isArray(v) && cur !== null && typeof cur === "object" && !Array.isArray(cur) ? merge(cur as Obj, v as Obj) : v;
  }
  return out;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

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
  const objects = new Map<string, Obj>();
  const versions = new Map<string, number>();
  const managedFields = new Map<string, Map<string, Set<string>>>();
  const api: Partial<FakeKubeApi> & { deny?: FakeKubeApi["deny"]; rbac?: FakeRbac; afterGet?: FakeKubeApi["afterGet"] } = { deployments, requests, objects, managedFields, versions };
  /** `manager` now owns `paths`; with `take`, nobody else does. */
  const own = (key: string, manager: string, paths: Iterable<string>, take: (p: string) => boolean, replaceOwn = false) => {
    const owners = managedFields.get(key) ?? new Map<string, Set<string>>();
    managedFields.set(key, owners);
    const mine = replaceOwn ? new Set<string>() : (owners.get(manager) ?? new Set<string>());
    for (const p of paths) {
      mine.add(p);
      if (take(p)) for (const [m, set] of owners) if (m !== manager) set.delete(p);
    }
    owners.set(manager, mine);
  };
  const sync = (key: string) => {
    const o = objects.get(key);
    if (!o) return;
    deployments.set(key, { image: valueAt(o, ".spec.template.spec.containers") ? ((valueAt(o, ".spec.template.spec.containers") as Obj[])[0]?.image as string) : "", replicas: (valueAt(o, ".spec.replicas") as number) ?? 1 });
  };
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
      const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/?]+)(\/scale)?/.exec(req.url ?? "");
      const query = new URL(req.url ?? "/", "https://x").searchParams;
      const manager = query.get("fieldManager") ?? "unknown";
      const resource = m?.[3] ? "deployments/scale" : "deployments";
      const verb = req.method === "GET" ? "get" : "patch";
      if (api.rbac && !api.rbac.allow.includes(`${verb} ${resource}`)) {
        return answer(403, { kind: "Status", status: "Failure", reason: "Forbidden", code: 403, message: `${resource === "deployments" ? "deployments.apps" : "deployments.apps/scale"} "${m?.[2] ?? "?"}" is forbidden: cannot ${verb} resource "${resource}"` });
      }
      if (m && req.method === "PATCH" && req.headers["content-type"] === "application/apply-patch+yaml") {
        // Server-side apply (JSON is YAML): conflicts with other managers' differing fields.
        const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
        const applied = JSON.parse(body) as Obj;
        const live = objects.get(key) ?? {};
        const fields = fieldPaths(applied);
        const owners = managedFields.get(key) ?? new Map<string, Set<string>>();
        const me = `${manager}|Apply`;
        const conflicts = [...fields].flatMap(([p, v]) =>
          [...owners].filter(([k, set]) => k !== me && set.has(p) && !sameJson(valueAt(live, p), v)).map(([k]) => ({ manager: k.split("|")[0], path: p })),
        );
        const force = query.get("force") === "true";
        if (conflicts.length > 0 && !force) {
          const list = conflicts.map((c) => `conflict with "${c.manager}" using apps/v1: ${c.path}`).join("\n- ");
          return answer(409, { kind: "Status", status: "Failure", reason: "Conflict", code: 409, message: `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}: ${conflicts.length === 1 ? list : `\n- ${list}`}` });
        }
        // Only a changed value moves ownership; an equal one is shared with its other managers.
        const changed = (p: string) => !sameJson(valueAt(live, p), fields.get(p));
        objects.set(key, merge(live, applied));
        own(key, me, fields.keys(), changed, true);
        sync(key);
        versions.set(key, (versions.get(key) ?? 0) + 1);
        return answer(200, objects.get(key));
      }
      const d = m ? deployments.get(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`) : undefined;
      if (!m || !d) return answer(404, { kind: "Status", status: "Failure", message: `deployments.apps "${m?.[2] ?? "?"}" not found`, reason: "NotFound", code: 404 });
      const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
      const version = () => String(versions.get(key) ?? 1);
      if (req.method === "GET" && !m[3]) {
        answer(200, { kind: "Deployment", metadata: { name: m[2], namespace: m[1], resourceVersion: version() }, spec: { replicas: d.replicas, template: { spec: { containers: [{ image: d.image }] } } } });
        return api.afterGet?.(key);
      }
      if (m[3] && req.method === "PATCH" && req.headers["content-type"] === "application/merge-patch+json") {
        // The scale subresource: replicas only, with an optional resourceVersion precondition.
        const patch = JSON.parse(body) as { metadata?: { resourceVersion?: string }; spec?: { replicas?: number } };
        if (patch.metadata?.resourceVersion !== undefined && patch.metadata.resourceVersion !== version()) {
          return answer(409, { kind: "Status", status: "Failure", reason: "Conflict", code: 409, message: `Operation cannot be fulfilled on deployments.apps "${m[2]}": the object has been modified; please apply your changes to the latest version and try again` });
        }
        const replicas = patch.spec?.replicas ?? d.replicas;
        if (replicas !== d.replicas) {
          deployments.set(key, { ...d, replicas });
          versions.set(key, Number(version()) + 1);
          const o = objects.get(key);
          if (o) objects.set(key, merge(o, { spec: { replicas } }));
          own(key, `${manager}|Update`, [".spec.replicas"], () => true);
        }
        return answer(200, { kind: "Scale", metadata: { name: m[2], namespace: m[1], resourceVersion: version() }, spec: { replicas } });
      }
      if (req.method !== "PATCH" || req.headers["content-type"] !== "application/json-patch+json") return answer(415, { kind: "Status", message: "unsupported" });
      const ops = JSON.parse(body) as { op: string; path: string; value: unknown }[];
      const next = { ...d };
      for (const op of ops) {
        if (op.op === "test" && op.path === "/spec/template/spec/containers/0/image" && op.value !== d.image) {
          return answer(422, { kind: "Status", status: "Failure", message: `the server rejected our request due to an error in our request: testing value ${op.path} failed: test failed`, code: 422 });
        }
        if (op.op === "replace" && op.path === "/spec/replicas") next.replicas = op.value as number;
      }
      deployments.set(key, next);
      versions.set(key, Number(version()) + 1);
      // A JSON Patch is an Update: its manager takes every field it changed from everyone else.
      const o = objects.get(key);
      if (o && next.replicas !== d.replicas) {
        objects.set(key, merge(o, { spec: { replicas: next.replicas } }));
        own(key, `${manager}|Update`, [".spec.replicas"], () => true);
      }
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
