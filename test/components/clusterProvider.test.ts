import { strict as assert } from "node:assert";
import { clusterProvider } from "../../components/kubernetes/clusterProvider";
import { eksKubeconfig } from "../../core/kubeconfig";
import { ofType, one, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("components/kubernetes: the explicit cluster provider", () => {
  it("generates a kubeconfig for the named EKS cluster, fetching the token with the provider's profile and role", async () => {
    // Act
    clusterProvider("cluster", { kubernetes: { cluster: "prod-eks" }, region: "eu-west-1", credentials: { profile: "deploy", assumeRoles: [{ roleArn: "arn:aws:iam::123456789012:role/remedy-deployer" }] } });
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

  it("passes static keys and shared files to the token command, and keeps that kubeconfig a secret", async () => {
    // Act
    const creds = { accessKey: "AKIAEXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG", token: "FwoGZXIvYXdzE", sharedConfigFiles: ["/etc/aws/config"], sharedCredentialsFiles: ["/etc/aws/credentials"] };
    const provider = clusterProvider("static", { kubernetes: { cluster: "prod-eks" }, region: "eu-west-1", credentials: creds });
    await settle();
    // Assess
    const p = one("pulumi:providers:kubernetes", "static").inputs as Obj;
    const sealed = p.kubeconfig as Obj;
    assert.equal(sealed["4dabf18193072939515e22adb298388d"], "1b47061264138c4ac30d75fd1eb44270", "the kubeconfig arrives as a secret");
    const kc = JSON.parse(sealed.value as string) as Obj;
    assert.deepEqual(kc.users[0].user.exec.env, [
      { name: "AWS_SHARED_CREDENTIALS_FILE", value: "/etc/aws/credentials" },
      { name: "AWS_CONFIG_FILE", value: "/etc/aws/config" },
      { name: "AWS_ACCESS_KEY_ID", value: "AKIAEXAMPLE" },
      { name: "AWS_SECRET_ACCESS_KEY", value: "wJalrXUtnFEMI/K7MDENG" },
      { name: "AWS_SESSION_TOKEN", value: "FwoGZXIvYXdzE" },
    ]);
    assert.ok(!kc.users[0].user.exec.args.includes("--role-arn"));
    assert.ok(provider);
  });

  it("refuses what aws eks get-token cannot follow before registering anything, naming the fix", async () => {
    const cases: [Parameters<typeof clusterProvider>[1]["credentials"], RegExp][] = [
      [{ assumeRoles: [{ roleArn: "arn:aws:iam::111111111111:role/a" }, { roleArn: "arn:aws:iam::222222222222:role/b" }] }, /^aws:assumeRoles: a chain of 2 roles, but aws eks get-token assumes a single role \(--role-arn\).*use an aws:profile whose role_arn \/ source_profile chain the AWS CLI follows, or set remedy:kubernetes\.context/],
      [{ assumeRoles: [{ roleArn: "arn:aws:iam::111111111111:role/a", externalId: "x" }] }, /^aws:assumeRoles\[0\]\.externalId: aws eks get-token cannot pass an external id/],
      [{ sharedConfigFiles: ["/a", "/b"] }, /^aws:sharedConfigFiles: the AWS CLI reads one file \(AWS_CONFIG_FILE\), got 2/],
      [{ accessKey: "AKIAEXAMPLE" }, /^aws:accessKey and aws:secretKey: set both/],
    ];
    for (const [credentials, message] of cases) {
      assert.throws(() => clusterProvider("refused", { kubernetes: { cluster: "prod-eks" }, credentials }), (err: Error) => err.name === "KubeconfigAuthError" && message.test(err.message), JSON.stringify(credentials));
    }
    await settle();
    assert.equal(ofType("pulumi:providers:kubernetes", "refused").length, 0);
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
