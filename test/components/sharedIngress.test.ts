import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { SharedIngress } from "../../components/delivery/sharedIngress";
import { SUBNETS, VPC_ID } from "../helpers/fixtures";
import { MOCK_VPC_CIDR, MOCK_VPC_SECONDARY_CIDR, T, one, ofType, promiseOf, recorded, resetRecorded, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2";

describe("components/SharedIngress", () => {
  it("creates a security group, an ALB and an HTTP listener answering 404 by default", async () => {
    // Act
    const ingress = new SharedIngress("edge", { vpcId: VPC_ID, subnetIds: SUBNETS, allowedCidrs: ["10.0.0.0/8"] });
    await settle();

    // Assess
    const sg = one(T.sg, "edge-alb").inputs as Obj;
    assert.equal(sg.vpcId, VPC_ID);
    const sgId = one(T.sg, "edge-alb").id;
    const rule = (r: Obj) => [r.protocol, r.fromPort, r.toPort, r.cidrBlocks];
    assert.deepEqual(sg.ingress.map(rule), [["tcp", 80, 80, ["10.0.0.0/8"]]]);
    assert.deepEqual(
      sg.egress.map(rule),
      [["tcp", 1, 65535, [MOCK_VPC_CIDR, MOCK_VPC_SECONDARY_CIDR]]],
      "egress only to the VPC's associated CIDRs, secondary ones included",
    );
    assert.deepEqual(recorded.invokes.map((i) => [i.token, i.inputs.id]), [["aws:ec2/getVpc:getVpc", VPC_ID]]);

    const lb = one(T.lb, "edge").inputs as Obj;
    assert.equal(lb.loadBalancerType, "application");
    assert.equal(lb.internal, false);
    assert.deepEqual(lb.subnets, SUBNETS);
    assert.deepEqual(lb.securityGroups, [sgId]);
    assert.equal(lb.dropInvalidHeaderFields, true);
    assert.equal(lb.enableDeletionProtection, false);

    const listeners = ofType(T.listener);
    assert.equal(listeners.length, 1);
    const http = listeners[0].inputs as Obj;
    assert.equal(http.port, 80);
    assert.equal(http.protocol, "HTTP");
    assert.equal(http.loadBalancerArn, one(T.lb, "edge").state.arn);
    assert.equal(http.defaultActions[0].type, "fixed-response");
    assert.equal(http.defaultActions[0].fixedResponse.statusCode, "404");

    assert.equal(await promiseOf(ingress.listenerArn), listeners[0].state.arn);
    assert.equal(await promiseOf(ingress.securityGroupId), sgId);
    assert.equal(await promiseOf(ingress.dnsName), one(T.lb, "edge").state.dnsName);
    const urn = await promiseOf(ingress.loadBalancer!.urn);
    assert.match(urn, /::remedy:delivery:SharedIngress\$aws:lb\/loadBalancer:LoadBalancer::edge$/);
  });

  it("serves HTTPS with the certificate and redirects HTTP when given a certificate", async () => {
    const ingress = new SharedIngress("edge", { vpcId: VPC_ID, subnetIds: SUBNETS, certificateArn: CERT, deletionProtection: true });
    await settle();
    assert.equal((one(T.lb, "edge").inputs as Obj).enableDeletionProtection, true);
    const https = one(T.listener, "edge-https");
    assert.equal((https.inputs as Obj).port, 443);
    assert.equal((https.inputs as Obj).protocol, "HTTPS");
    assert.equal((https.inputs as Obj).certificateArn, CERT);
    assert.match((https.inputs as Obj).sslPolicy, /^ELBSecurityPolicy-TLS13/);
    const http = one(T.listener, "edge-http").inputs as Obj;
    assert.deepEqual(http.defaultActions[0].redirect, { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" });
    assert.deepEqual(
      (one(T.sg, "edge-alb").inputs as Obj).ingress.map((r: Obj) => [r.fromPort, r.cidrBlocks]),
      [[80, ["0.0.0.0/0"]], [443, ["0.0.0.0/0"]]],
      "80 and 443 open from 0.0.0.0/0",
    );
    assert.equal(await promiseOf(ingress.listenerArn), https.state.arn, "services attach to the HTTPS listener");
  });

  it("adopts an existing listener without creating anything", async () => {
    const ingress = new SharedIngress("edge", { vpcId: VPC_ID, listenerArn: LISTENER, securityGroupId: "sg-0123456789abcdef0" });
    await settle();
    assert.deepEqual(recorded.resources.map((r) => r.type), [T.ingress]);
    assert.deepEqual(ingress.attachment(), { listenerArn: ingress.listenerArn, securityGroupId: ingress.securityGroupId, vpcId: ingress.vpcId });
    assert.equal(await promiseOf(ingress.listenerArn), LISTENER);
    assert.equal(await promiseOf(ingress.dnsName), undefined);
  });

  for (const [title, args, message] of [
    ["listenerArn without securityGroupId", { vpcId: VPC_ID, listenerArn: LISTENER }, "`securityGroupId` is required with `listenerArn`"],
    [
      "listenerArn with ALB settings",
      { vpcId: VPC_ID, listenerArn: LISTENER, securityGroupId: "sg-1", certificateArn: CERT },
      "`certificateArn` configures a remedy-created ALB and cannot be combined with `listenerArn`",
    ],
    ["neither subnets nor a listener", { vpcId: VPC_ID, certificateArn: CERT }, "`subnetIds` is required"],
    [
      "plain HTTP open to 0.0.0.0/0 unless explicitly allowed",
      { vpcId: VPC_ID, subnetIds: SUBNETS },
      "without `certificateArn` the ALB would serve plain HTTP to public address space (0.0.0.0/0); give an ACM certificate, narrow `allowedCidrs` to private ranges, or set `allowPlainHttp: true`",
    ],
    [
      "plain HTTP to the two halves of the IPv4 internet",
      { vpcId: VPC_ID, subnetIds: SUBNETS, allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"] },
      "plain HTTP to public address space (0.0.0.0/1, 128.0.0.0/1)",
    ],
    ["plain HTTP to the IPv6 internet", { vpcId: VPC_ID, subnetIds: SUBNETS, allowedCidrs: ["10.0.0.0/8", "::/0"] }, "plain HTTP to public address space (::/0)"],
    ["a malformed CIDR", { vpcId: VPC_ID, subnetIds: SUBNETS, certificateArn: CERT, allowedCidrs: ["10.0.0.0/33"] }, '`allowedCidrs`: "10.0.0.0/33" is not an IPv4 or IPv6 CIDR'],
    ["securityGroupId without listenerArn", { vpcId: VPC_ID, subnetIds: SUBNETS, securityGroupId: "sg-1" }, "`securityGroupId` only applies with `listenerArn`"],
  ] as const) {
    it(`refuses ${title}`, () => {
      assert.throws(
        () => new SharedIngress("edge", args),
        (err: unknown) => pulumi.ResourceError.isInstance(err) && (err as Error).message.includes(message),
      );
    });
  }

  it("refuses a name too long for the auto-named ALB", () => {
    assert.throws(() => new SharedIngress("a-very-long-shared-ingress-name", { vpcId: VPC_ID, subnetIds: SUBNETS, certificateArn: CERT }), /use at most 24/);
  });

  it("serves plain HTTP to 0.0.0.0/0 only when allowPlainHttp says so", async () => {
    new SharedIngress("edge", { vpcId: VPC_ID, subnetIds: SUBNETS, allowPlainHttp: true });
    await settle();
    assert.equal((one(T.listener, "edge-http").inputs as Obj).protocol, "HTTP");
    assert.deepEqual((one(T.sg, "edge-alb").inputs as Obj).ingress.map((r: Obj) => r.cidrBlocks), [["0.0.0.0/0"]]);
  });

  it("protects the ALB and its listeners from deletion and replacement by Pulumi when deletion protection is on", async () => {
    new SharedIngress("edge", { vpcId: VPC_ID, subnetIds: SUBNETS, certificateArn: CERT, deletionProtection: true });
    await settle();
    for (const [type, name] of [[T.lb, "edge"], [T.listener, "edge-https"], [T.listener, "edge-http"]] as const) {
      assert.equal(one(type, name).options.protect, true, `${name} is protected`);
    }
    assert.equal(one(T.sg, "edge-alb").options.protect, false, "the security group is not: it may be replaced freely");
    resetRecorded();
    new SharedIngress("edge2", { vpcId: VPC_ID, subnetIds: SUBNETS, certificateArn: CERT });
    await settle();
    assert.equal(one(T.lb, "edge2").options.protect, false, "no protection without deletionProtection");
  });
});
