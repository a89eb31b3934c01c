import { strict as assert } from "node:assert";
import { clusterProvider } from "../../components/kubernetes/clusterProvider";
import { eksKubeconfig } from "../../core/kubeconfig";
import { one, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("components/kubernetes: the explicit cluster provider", () => {
  it("generates a kubeconfig for the named EKS cluster, fetching the token with the provider's profile and role", async () => {
    // Act
    clusterProvider("cluster", { kubernetes: { cluster: "prod-eks" }, region: "eu-west-1", profile: "deploy", roleArn: "arn:aws:iam::123456789012:role/remedy-deployer" });
    await settle();
    // Assess
    const p = one("pulumi:providers:kubernetes", "cluster").inputs as Obj;
    const kc = JSON.parse(p.kubeconfig as string) as Obj;
    assert.equal(kc.clusters[0].name, "remedy-prod-eks");
    assert.equal(kc.clusters[0].cluster["certificate-authority-data"], Buffer.from("mock CA of prod-eks").toString("base64"));
    assert.deepEqual(kc.users[0].user.exec.args, ["eks", "get-token", "--cluster-name", "prod-eks", "--output", "json", "--region", "eu-west-1", "--role-arn", "arn:aws:iam::123456789012:role/remedy-deployer"]);
    assert.deepEqual(kc.users[0].user.exec.env, [{ name: "AWS_PROFILE", value: "deploy" }]);
    assert.equal(String(p.enableServerSideApply), "true", "provider inputs arrive as strings");
  });

  it("uses a named kubeconfig context, explicitly, when config gives one", async () => {
    clusterProvider("ctx", { kubernetes: { cluster: "prod-eks", context: "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eks" } });
    await settle();
    const p = one("pulumi:providers:kubernetes", "ctx").inputs as Obj;
    assert.equal(p.context, "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eks");
    assert.equal(p.kubeconfig, undefined, "the context's own kubeconfig entry, from KUBECONFIG or ~/.kube/config");
  });

  it("refuses a cluster without an https endpoint or a CA rather than writing a kubeconfig that cannot verify it", () => {
    assert.throws(() => eksKubeconfig({ cluster: "c", endpoint: "http://x", certificateAuthorityData: "Y2E=" }), /EKS cluster c: endpoint must be https:\/\/\.\.\., got "http:\/\/x"/);
    assert.throws(() => eksKubeconfig({ cluster: "c", endpoint: "https://x", certificateAuthorityData: "" }), /EKS cluster c: no certificate authority data/);
  });
});
