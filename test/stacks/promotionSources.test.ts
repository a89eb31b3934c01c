/**
 * Which credentials and region read a promotion source (stacks/promotionEvidence.ts sourceClients,
 * issue 38, 4): in the program, the stack's own AWS settings (aws:profile / aws:assumeRoles / keys,
 * never whatever the shell has), and a source in another account through its role, assumed with
 * those; the source's region where it names one.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import { sourceClients } from "../../stacks/promotionEvidence";
import type { AwsSettings } from "../../stacks/awsClients";

const BASE: AwsSettings = { accessKey: "AKIASTACKKEY", secretKey: "stack-secret", region: "eu-west-1", assumeRoles: [] };

describe("stacks/promotionEvidence: a source's clients (issue 38, 4)", () => {
  it("uses the stack's own credentials and region, and the source's region where it names one", async () => {
    const own = sourceClients({ stack: "organization/remedy/staging", table: "remedy-staging-releases" }, BASE);
    assert.equal(await own.cloudwatch.config.region(), "eu-west-1");
    assert.equal((await own.cloudwatch.config.credentials()).accessKeyId, "AKIASTACKKEY", "the stack's keys, not the environment's");
    const elsewhere = sourceClients({ stack: "organization/remedy/staging-us", table: "remedy-staging-us-releases", region: "us-east-1" }, BASE);
    assert.equal(await elsewhere.cloudwatch.config.region(), "us-east-1");
  });

  it("assumes a source's role with the stack's credentials, in the source's region", async () => {
    // STS as an HTTP endpoint: what the SDK signs and sends is what AWS would receive.
    const seen: { credential?: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        seen.push({ credential: /Credential=([^,]+)/.exec(String(req.headers.authorization))?.[1], body });
        res.setHeader("content-type", "text/xml");
        res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIASOURCE</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>${new Date(Date.now() + 3_600_000).toISOString()}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::210987654321:assumed-role/remedy-evidence-reader/remedy-promotion</Arn><AssumedRoleId>AROA:remedy-promotion</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const c = sourceClients({ stack: "organization/remedy/staging", table: "remedy-staging-releases", region: "us-east-1", roleArn: "arn:aws:iam::210987654321:role/remedy-evidence-reader" }, BASE);
      assert.equal((await c.cloudwatch.config.credentials()).accessKeyId, "ASIASOURCE", "the source's role's credentials");
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
      server.close();
    }
    assert.equal(seen.length, 1);
    assert.match(seen[0].credential ?? "", /^AKIASTACKKEY\/\d{8}\/us-east-1\/sts\/aws4_request$/, "signed with the stack's key, in the source's region");
    assert.match(decodeURIComponent(seen[0].body), /Action=AssumeRole&.*RoleArn=arn:aws:iam::210987654321:role\/remedy-evidence-reader/);
  });
});
