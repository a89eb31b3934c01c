import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ALB_ONLY_INGRESS_KEYS } from "../../core/config";
import * as defaults from "../../core/defaults";
import { parseCidr, publicCidrs } from "../../core/cidr";

/** Where a `BlueGreenService` attaches: the listener its rule goes on and the ALB's security group. */
export interface IngressAttachment {
  /** Listener that receives the service's weighted-forward rule. */
  readonly listenerArn: pulumi.Input<string>;
  /** Security group of the ALB; TargetGroupBindings admit traffic from it to the pods. */
  readonly securityGroupId: pulumi.Input<string>;
  /** VPC of the EKS cluster; target groups are created in it. */
  readonly vpcId: pulumi.Input<string>;
}

export interface SharedIngressArgs {
  /** VPC of the EKS cluster. Required. */
  readonly vpcId: pulumi.Input<string>;
  /**
   * Subnets (two or more availability zones) for a remedy-created ALB.
   * Required unless `listenerArn` is given; mutually exclusive with it.
   */
  readonly subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * ACM certificate for an HTTPS listener on 443, with 80 redirecting to it.
   * Default: none, a plain HTTP listener on 80. Not allowed with `listenerArn`.
   */
  readonly certificateArn?: pulumi.Input<string>;
  /**
   * More ACM certificates on the HTTPS listener, chosen by SNI (one per domain the services
   * answer on). Requires `certificateArn`. AWS allows 25 besides the default. Default none.
   */
  readonly additionalCertificateArns?: readonly pulumi.Input<string>[];
  /** Internal (VPC-only) ALB. Default `false`. Not allowed with `listenerArn`. */
  readonly internal?: boolean;
  /** CIDRs allowed to reach the ALB. Default `["0.0.0.0/0"]`. Not allowed with `listenerArn`. */
  readonly allowedCidrs?: readonly string[];
  /**
   * ALB deletion protection: `pulumi destroy` (or a replacement) fails until it is turned off.
   * Default `false`. Not allowed with `listenerArn`.
   */
  readonly deletionProtection?: boolean;
  /**
   * Accept a plain-HTTP listener reachable from 0.0.0.0/0 (no `certificateArn`). Default `false`:
   * without a certificate, `allowedCidrs` must not include 0.0.0.0/0 unless this is set.
   * Not allowed with `listenerArn`.
   */
  readonly allowPlainHttp?: boolean;
  /** ALB idle timeout in seconds. Default 60. Not allowed with `listenerArn`. */
  readonly idleTimeoutSeconds?: number;
  /**
   * Bring your own ALB: attach service rules to this existing listener instead of creating an ALB.
   * Requires `securityGroupId`; excludes `subnetIds`, `certificateArn`, `internal`, `allowedCidrs`.
   */
  readonly listenerArn?: pulumi.Input<string>;
  /** Security group of the existing ALB. Required with, and only with, `listenerArn`. */
  readonly securityGroupId?: pulumi.Input<string>;
  /** Tags added to every AWS resource. Default none. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** AWS: certificates per Application Load Balancer listener, besides the default one. */
export const MAX_LISTENER_CERTIFICATES = 25;

/** Longest component name whose auto-named ALB (name + 8 random characters) fits AWS's 32. */
const MAX_NAME_FOR_ALB = 24;

/**
 * One ALB and listener shared by many blue/green services: either created here (security group,
 * ALB, HTTP or HTTPS listener answering 404 to anything no service claims), or an existing listener
 * adopted by ARN. Each `BlueGreenService` adds its own rule to `listenerArn`.
 */
export class SharedIngress extends pulumi.ComponentResource {
  /** Listener that service rules attach to. */
  public readonly listenerArn: pulumi.Output<string>;
  /** Security group of the ALB. */
  public readonly securityGroupId: pulumi.Output<string>;
  /** VPC of the target groups. */
  public readonly vpcId: pulumi.Output<string>;
  /** DNS name of a remedy-created ALB; undefined when an existing listener was adopted. */
  public readonly dnsName: pulumi.Output<string | undefined>;
  /** ARN of a remedy-created ALB; undefined when an existing listener was adopted. */
  public readonly loadBalancerArn: pulumi.Output<string | undefined>;
  /** The created ALB, security group and listeners (absent when adopting a listener). */
  public readonly loadBalancer?: aws.lb.LoadBalancer;
  public readonly securityGroup?: aws.ec2.SecurityGroup;
  public readonly listener?: aws.lb.Listener;

  constructor(name: string, args: SharedIngressArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:delivery:SharedIngress", name, {}, opts);
    validate(name, args, this);

    this.vpcId = pulumi.output(args.vpcId);
    if (args.listenerArn !== undefined) {
      this.listenerArn = pulumi.output(args.listenerArn);
      this.securityGroupId = pulumi.output(args.securityGroupId as pulumi.Input<string>);
      this.dnsName = pulumi.output(undefined);
      this.loadBalancerArn = pulumi.output(undefined);
    } else {
      const created = createLoadBalancer(name, this, args);
      this.loadBalancer = created.loadBalancer;
      this.securityGroup = created.securityGroup;
      this.listener = created.listener;
      this.listenerArn = created.listener.arn;
      this.securityGroupId = created.securityGroup.id;
      this.dnsName = created.loadBalancer.dnsName;
      this.loadBalancerArn = created.loadBalancer.arn;
    }

    this.registerOutputs({
      listenerArn: this.listenerArn,
      securityGroupId: this.securityGroupId,
      vpcId: this.vpcId,
      dnsName: this.dnsName,
      loadBalancerArn: this.loadBalancerArn,
    });
  }

  /** What a `BlueGreenService` needs to attach to this ingress. */
  public attachment(): IngressAttachment {
    return { listenerArn: this.listenerArn, securityGroupId: this.securityGroupId, vpcId: this.vpcId };
  }
}

function validate(name: string, args: SharedIngressArgs, self: pulumi.Resource): void {
  const fail = (msg: string): never => {
    throw new pulumi.ResourceError(`SharedIngress ${name}: ${msg}`, self);
  };
  if (args.listenerArn !== undefined) {
    if (args.securityGroupId === undefined) {
      fail("`securityGroupId` is required with `listenerArn`: target group bindings must admit the ALB's traffic");
    }
    for (const key of ALB_ONLY_INGRESS_KEYS) {
      if (args[key] !== undefined) {
        fail(`\`${key}\` configures a remedy-created ALB and cannot be combined with \`listenerArn\`; remove one`);
      }
    }
    return;
  }
  if (args.securityGroupId !== undefined) {
    fail("`securityGroupId` only applies with `listenerArn`; a remedy-created ALB gets its own security group");
  }
  const cidrs = args.allowedCidrs ?? defaults.DEFAULT_ALLOWED_CIDRS;
  const invalid = cidrs.filter((c) => parseCidr(c) === undefined);
  if (invalid.length > 0) fail(`\`allowedCidrs\`: ${invalid.map((c) => JSON.stringify(c)).join(", ")} is not an IPv4 or IPv6 CIDR`);
  const open = publicCidrs(cidrs);
  if (args.certificateArn === undefined && open.length > 0 && args.allowPlainHttp !== true) {
    fail(
      `without \`certificateArn\` the ALB would serve plain HTTP to public address space (${open.join(", ")}); give an ACM certificate, narrow \`allowedCidrs\` to private ranges, or set \`allowPlainHttp: true\``,
    );
  }
  const extra = args.additionalCertificateArns ?? [];
  if (extra.length > 0 && args.certificateArn === undefined) fail("`additionalCertificateArns` needs `certificateArn`: they go on the HTTPS listener, which only exists with a default certificate");
  if (extra.length > MAX_LISTENER_CERTIFICATES) {
    fail(`\`additionalCertificateArns\` has ${extra.length} certificates; an ALB listener takes ${MAX_LISTENER_CERTIFICATES} besides its default (AWS quota "Certificates per Application Load Balancer"); split the services over ingress groups`);
  }
  if (args.subnetIds === undefined) {
    fail("`subnetIds` is required (two or more availability zones) unless `listenerArn` adopts an existing ALB");
  }
  if (name.length > MAX_NAME_FOR_ALB) {
    fail(
      `name is ${name.length} characters; the ALB is auto-named from it plus 8 random characters and AWS allows 32, so use at most ${MAX_NAME_FOR_ALB}`,
    );
  }
}

/** Security-group rule blocks: IPv4 in `cidrBlocks`, IPv6 in `ipv6CidrBlocks` (EC2 refuses them mixed). */
export function cidrBlocksByFamily(cidrs: readonly string[]): { cidrBlocks: string[]; ipv6CidrBlocks?: string[] } {
  const v6 = cidrs.filter((c) => parseCidr(c)?.family === 6);
  return { cidrBlocks: cidrs.filter((c) => parseCidr(c)?.family === 4), ...(v6.length > 0 ? { ipv6CidrBlocks: v6 } : {}) };
}

/** @internal */
export function createLoadBalancer(
  name: string,
  self: pulumi.ComponentResource,
  args: SharedIngressArgs,
): { loadBalancer: aws.lb.LoadBalancer; securityGroup: aws.ec2.SecurityGroup; listener: aws.lb.Listener } {
  const parent = { parent: self };
  // With deletion protection on, Pulumi refuses to delete or replace these too (`protect`), so a
  // config change that would replace the ALB fails at preview instead of at AWS's API.
  const guarded = { parent: self, protect: args.deletionProtection ?? false };
  const tags = { ...args.tags, "remedy:component": name };
  const https = args.certificateArn !== undefined;
  const ports = https ? [80, 443] : [80];

  // Egress only into the VPC, every associated CIDR (pods may live in a secondary CIDR with EKS
  // custom networking): the ALB talks to pod IPs and nothing else.
  const vpc = aws.ec2.getVpcOutput({ id: args.vpcId }, parent);
  const vpcCidrs = pulumi.all([vpc.cidrBlock, vpc.cidrBlockAssociations]).apply(([primary, associations]) => {
    const cidrs = (associations ?? []).filter((a) => a.state === "associated").map((a) => a.cidrBlock);
    return cidrs.length > 0 ? cidrs : [primary];
  });
  const securityGroup = new aws.ec2.SecurityGroup(
    `${name}-alb`,
    {
      vpcId: args.vpcId,
      description: `remedy shared ALB ${name}: ${ports.join("/")} in, VPC out`,
      ingress: ports.map((port) => ({
        description: `listener ${port}`,
        protocol: "tcp",
        fromPort: port,
        toPort: port,
        ...cidrBlocksByFamily(args.allowedCidrs ?? defaults.DEFAULT_ALLOWED_CIDRS),
      })),
      egress: [{ description: "to pods in the VPC", protocol: "tcp", fromPort: 1, toPort: 65535, cidrBlocks: vpcCidrs }],
      revokeRulesOnDelete: true,
      tags,
    },
    parent,
  );

  const loadBalancer = new aws.lb.LoadBalancer(
    name,
    {
      loadBalancerType: "application",
      internal: args.internal ?? false,
      securityGroups: [securityGroup.id],
      subnets: args.subnetIds,
      idleTimeout: args.idleTimeoutSeconds ?? defaults.DEFAULT_IDLE_TIMEOUT_SECONDS,
      dropInvalidHeaderFields: true,
      enableDeletionProtection: args.deletionProtection ?? false,
      enableHttp2: true,
      tags,
    },
    guarded,
  );

  const notFound = {
    type: "fixed-response",
    fixedResponse: { contentType: "text/plain", statusCode: "404", messageBody: "no service matches this host/path" },
  };
  let listener: aws.lb.Listener;
  if (https) {
    listener = new aws.lb.Listener(
      `${name}-https`,
      {
        loadBalancerArn: loadBalancer.arn,
        port: 443,
        protocol: "HTTPS",
        sslPolicy: defaults.DEFAULT_SSL_POLICY,
        certificateArn: args.certificateArn,
        defaultActions: [notFound],
        tags,
      },
      guarded,
    );
    new aws.lb.Listener(
      `${name}-http`,
      {
        loadBalancerArn: loadBalancer.arn,
        port: 80,
        protocol: "HTTP",
        defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
        tags,
      },
      guarded,
    );
    (args.additionalCertificateArns ?? []).forEach(
      (certificateArn, i) => new aws.lb.ListenerCertificate(`${name}-cert-${i}`, { listenerArn: listener.arn, certificateArn }, { parent: self }),
    );
  } else {
    listener = new aws.lb.Listener(
      `${name}-http`,
      { loadBalancerArn: loadBalancer.arn, port: 80, protocol: "HTTP", defaultActions: [notFound], tags },
      guarded,
    );
  }
  return { loadBalancer, securityGroup, listener };
}
