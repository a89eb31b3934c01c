/**
 * The release driver's Kubernetes call against a stand-in API server (HTTPS, its own CA, EKS-style
 * bearer tokens, JSON Patch semantics): the token's shape, the conditional scale, and each refusal.
 */
import { strict as assert } from "node:assert";
import * as https from "node:https";
import { KubeError, createKubeScaler, eksToken } from "../../lambdas/commons/kube";
import { type FakeKubeApi, startFakeKubeApi } from "../helpers/fakeKubeApi";

/** One HTTPS request to the stand-in with a bearer token (what any holder of the role could send). */
function fetchJson(url: string, ca: string, token: string, method: string, body: string, contentType: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: Buffer.from(ca, "base64"), headers: { authorization: `Bearer ${token}`, "content-type": contentType } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const CREDS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "IQoJb3JpZ2luX2VjE+/=" };

describe("lambdas/kube: scale a promoted-away slot to 0 on EKS", function () {
  this.timeout(30_000);
  let api: FakeKubeApi;
  before(async () => {
    api = await startFakeKubeApi();
  });
  after(() => api.close());
  beforeEach(() => {
    api.requests.length = 0;
    api.deny = undefined;
    api.rbac = undefined;
    api.afterGet = undefined;
    api.deployments.clear();
    api.versions.clear();
  });
  const scaler = () => createKubeScaler({ endpoint: api.endpoint, certificateAuthorityData: api.certificateAuthorityData, cluster: "prod-eks", region: "eu-west-1", credentials: CREDS });

  it("makes an EKS token: a 60-second presigned sts:GetCallerIdentity URL signing the x-k8s-aws-id header", async () => {
    // Act
    const token = await eksToken("prod-eks", "eu-west-1", CREDS, new Date("2026-12-01T10:00:00Z"));

    // Assess
    assert.match(token, /^k8s-aws-v1\.[A-Za-z0-9_-]+$/, "base64url, no padding");
    const url = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString("utf8"));
    assert.equal(url.origin, "https://sts.eu-west-1.amazonaws.com");
    const q = url.searchParams;
    assert.equal(q.get("Action"), "GetCallerIdentity");
    assert.equal(q.get("Version"), "2011-06-15");
    assert.equal(q.get("X-Amz-Expires"), "60");
    assert.equal(q.get("X-Amz-SignedHeaders"), "host;x-k8s-aws-id");
    assert.equal(q.get("X-Amz-Credential"), "AKIDEXAMPLE/20261201/eu-west-1/sts/aws4_request");
    assert.equal(q.get("X-Amz-Date"), "20261201T100000Z");
    assert.equal(q.get("X-Amz-Security-Token"), CREDS.sessionToken, "the session token survives URL encoding");
    assert.notEqual(await eksToken("other-eks", "eu-west-1", CREDS, new Date("2026-12-01T10:00:00Z")), token, "the signature binds the cluster name");
  });

  it("reads the Deployment, then scales it to 0 through the scale subresource, conditional on what it read, over TLS checked against the cluster CA", async () => {
    // Prepare: RBAC as the driver's Role grants it: get deployments, patch deployments/scale.
    api.deployments.set("payments/payments-blue", { image: "registry/payments:v1", replicas: 3 });
    api.rbac = { allow: ["get deployments", "patch deployments/scale"] };

    // Act
    const r = await scaler().scaleToZeroIfImage("payments", "payments-blue", "registry/payments:v1");

    // Assess
    assert.deepEqual(r, { outcome: "scaled", detail: "payments/payments-blue scaled to 0 (it runs registry/payments:v1)", previousReplicas: 3 });
    assert.deepEqual(api.deployments.get("payments/payments-blue"), { image: "registry/payments:v1", replicas: 0 });
    assert.deepEqual(api.requests.map((q) => `${q.method} ${q.path} ${q.contentType ?? ""}`.trim()), [
      "GET /apis/apps/v1/namespaces/payments/deployments/payments-blue",
      "PATCH /apis/apps/v1/namespaces/payments/deployments/payments-blue/scale?fieldManager=remedy-release-driver application/merge-patch+json",
    ]);
    // An undo puts it back only while it still runs that image (issue 34, 15).
    assert.deepEqual(await scaler().restoreReplicas("payments", "payments-blue", 3, "registry/payments:v1"), { outcome: "scaled", detail: "payments/payments-blue scaled to 3 (it runs registry/payments:v1)", previousReplicas: 0 });
    assert.equal(api.deployments.get("payments/payments-blue")?.replicas, 3);
    assert.equal((await scaler().restoreReplicas("payments", "payments-blue", 5, "registry/payments:v9")).outcome, "image-changed");
    assert.equal(api.deployments.get("payments/payments-blue")?.replicas, 3);
    api.rbac = undefined;
  });

  it("holds no grant that could change an image: the same Role refuses a patch of the Deployment itself", async () => {
    // Prepare
    api.deployments.set("payments/payments-blue", { image: "registry/payments:v1", replicas: 3 });
    api.rbac = { allow: ["get deployments", "patch deployments/scale"] };
    const token = await eksToken("prod-eks", "eu-west-1", CREDS);
    // Act: what an attacker holding the driver's role would try.
    const res = await fetchJson(`${api.endpoint}/apis/apps/v1/namespaces/payments/deployments/payments-blue`, api.certificateAuthorityData, token, "PATCH", JSON.stringify([{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "evil/x:1" }]), "application/json-patch+json");
    // Assess
    assert.equal(res.status, 403);
    assert.deepEqual(api.deployments.get("payments/payments-blue"), { image: "registry/payments:v1", replicas: 3 });
    api.rbac = undefined;
  });

  it("leaves a Deployment alone when it runs another image now, or changed between the read and the scale; says so for a missing one, and names the fix on 403", async () => {
    // Prepare: a new release is being deployed into the slot.
    api.deployments.set("payments/payments-blue", { image: "registry/payments:v3", replicas: 3 });
    const s = scaler();

    // Act
    const changed = await s.scaleToZeroIfImage("payments", "payments-blue", "registry/payments:v1");
    const missing = await s.scaleToZeroIfImage("payments", "payments-green", "registry/payments:v1");
    // A release lands between the GET and the PATCH (resourceVersion moves on).
    api.deployments.set("payments/payments-green", { image: "registry/payments:v1", replicas: 3 });
    api.afterGet = (key) => {
      api.deployments.set(key, { image: "registry/payments:v4", replicas: 3 });
      api.versions.set(key, (api.versions.get(key) ?? 1) + 1);
      api.afterGet = undefined;
    };
    const raced = await s.scaleToZeroIfImage("payments", "payments-green", "registry/payments:v1");
    api.deny = { status: 403, message: 'deployments.apps "payments-blue" is forbidden: User "arn:aws:sts::123456789012:assumed-role/release-driver" cannot get resource' };
    const denied = s.scaleToZeroIfImage("payments", "payments-blue", "registry/payments:v3");

    // Assess
    assert.deepEqual(changed, { outcome: "image-changed", detail: "payments/payments-blue no longer runs registry/payments:v1 (it runs registry/payments:v3); left alone" });
    assert.deepEqual(api.deployments.get("payments/payments-blue"), { image: "registry/payments:v3", replicas: 3 }, "nothing changed");
    assert.deepEqual(missing, { outcome: "missing", detail: "payments/payments-green does not exist" });
    assert.equal(raced.outcome, "image-changed");
    assert.match(raced.detail, /changed while it was being scaled \(.*the object has been modified.*\); left alone$/);
    assert.deepEqual(api.deployments.get("payments/payments-green"), { image: "registry/payments:v4", replicas: 3 }, "the new release keeps its replicas");
    await assert.rejects(denied, (err: Error) => err instanceof KubeError && /^403 from the cluster for payments\/payments-blue: .*forbidden.*; check the release driver's EKS access entry and its Role\/RoleBinding in payments \(or set remedy:kubernetes\.driverAccess: false\)$/.test(err.message));
  });

  it("refuses a server whose certificate is not the cluster's CA", async () => {
    // Prepare: another self-signed CA.
    const other = await startFakeKubeApi();
    try {
      const s = createKubeScaler({ endpoint: api.endpoint, certificateAuthorityData: other.certificateAuthorityData, cluster: "prod-eks", region: "eu-west-1", credentials: CREDS });
      // Act + Assess
      await assert.rejects(s.scaleToZeroIfImage("payments", "payments-blue", "x"), /self.signed certificate|unable to verify|certificate/i);
      assert.equal(api.requests.length, 0, "no request reached the server");
    } finally {
      await other.close();
    }
  });
});
