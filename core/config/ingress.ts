/**
 * The `remedy:ingress` section (ALB settings and ingress groups): schema, types, rules, normalisation.
 */
import { z } from "zod";
import * as defaults from "../defaults";
import { publicCidrs } from "../cidr";
import { Issue } from "./errors";
import { DEFAULT_INGRESS_GROUP, Path, arn, cidr, int, required } from "./fields";
import { RawStack } from "./stack";

/** The ALB settings a group may set (all optional: a remedy-created group inherits the stack's). */
export const albSettings = {
  subnetIds: z
    .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'must be a subnet id such as "subnet-0a1b2c3d"' }), {
      error: required("a list of subnet ids"),
    })
    .optional(),
  certificateArn: arn("acm", "an ACM certificate").optional(),
  additionalCertificateArns: z.array(arn("acm", "an ACM certificate")).optional(),
  internal: z.boolean({ error: "must be true or false" }).optional(),
  allowedCidrs: z
    .array(cidr())
    .optional(),
  idleTimeoutSeconds: int("the ALB idle timeout in seconds", 1, 4000).optional(),
  deletionProtection: z.boolean({ error: "must be true or false" }).optional(),
  allowPlainHttp: z.boolean({ error: "must be true or false" }).optional(),
  listenerArn: arn("elasticloadbalancing", "an existing ALB listener")
    .regex(/:listener\/app\/[^/]+\/[^/]+\/[^/]+$/, {
      error: "must be an Application Load Balancer listener ARN (...:listener/app/<alb-name>/<alb-id>/<listener-id>)",
    })
    .optional(),
  securityGroupId: z
    .string()
    .regex(/^sg-[0-9a-f]{8,17}$/, { error: 'must be a security group id such as "sg-0a1b2c3d"' })
    .optional(),
};

export const ingressSchema = z.strictObject({
  vpcId: z
    .string({ error: required('the VPC id of the EKS cluster, e.g. "vpc-0abc..."') })
    .regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'must be a VPC id such as "vpc-0a1b2c3d4e5f67890"' }),
  ...albSettings,
  /**
   * More ALBs: services name one with `ingressGroup`. Each group is an ALB of its own (listeners,
   * security group, DNS name); a remedy-created group inherits every setting above it does not set.
   */
  groups: z
    .record(z.string(), z.strictObject(albSettings, { error: required("the group's ALB settings (an empty map {} inherits them all)") }), {
      error: required("a map of group name to ALB settings"),
    })
    .optional(),
});

export type IngressSpec =
  | {
      readonly mode: "create";
      readonly vpcId: string;
      readonly subnetIds: readonly string[];
      readonly certificateArn?: string;
      /** More certificates on the HTTPS listener (SNI), besides `certificateArn`. */
      readonly additionalCertificateArns: readonly string[];
      readonly internal: boolean;
      readonly allowedCidrs: readonly string[];
      readonly idleTimeoutSeconds: number;
      readonly deletionProtection: boolean;
      /** Plain HTTP with no certificate, explicitly allowed. */
      readonly allowPlainHttp: boolean;
    }
  | {
      readonly mode: "existing";
      readonly vpcId: string;
      readonly listenerArn: string;
      readonly securityGroupId: string;
    };


// ---------------------------------------------------------------------------------------------
// Cross-field rules: run once the shape is valid.

/** Ingress settings that configure a remedy-created ALB, so they exclude adopting a `listenerArn`. */
export const ALB_ONLY_INGRESS_KEYS = [
  "subnetIds",
  "certificateArn",
  "internal",
  "allowedCidrs",
  "idleTimeoutSeconds",
  "deletionProtection",
  "allowPlainHttp",
] as const;

export type RawIngress = RawStack["ingress"];
export type RawAlbSettings = Omit<RawIngress, "vpcId" | "groups">;

/** A group's effective settings: its own, else (for a remedy-created ALB) the stack's. */
export function groupSettings(top: RawIngress, group: RawAlbSettings): RawAlbSettings {
  if (group.listenerArn !== undefined) return group;
  const inherited: Record<string, unknown> = {};
  for (const k of ALB_ONLY_INGRESS_KEYS) if (top[k] !== undefined) inherited[k] = top[k];
  return { ...inherited, ...Object.fromEntries(Object.entries(group).filter(([, v]) => v !== undefined)) } as RawAlbSettings;
}

/** Every group's effective raw settings, the default group first. */
export function rawGroups(ing: RawIngress): [string, RawAlbSettings, Path][] {
  return [
    [DEFAULT_INGRESS_GROUP, ing, ["ingress"]],
    ...Object.entries(ing.groups ?? {}).map(([name, g]): [string, RawAlbSettings, Path] => [name, groupSettings(ing, g), ["ingress", "groups", name]]),
  ];
}

export function checkIngress(ing: RawAlbSettings, at: Path, out: Issue[]): void {
  const where = at.join(".");
  if (ing.listenerArn !== undefined) {
    if (ing.securityGroupId === undefined) {
      out.push({
        path: [...at, "securityGroupId"],
        message: `required with ${where}.listenerArn: the ALB's security group, so target group bindings can admit its traffic`,
      });
    }
    for (const k of ALB_ONLY_INGRESS_KEYS) {
      if (ing[k] !== undefined) {
        out.push({
          path: [...at, k],
          message: `cannot be combined with ${where}.listenerArn (it configures a remedy-created ALB); remove one of them`,
        });
      }
    }
    return;
  }
  if (ing.securityGroupId !== undefined) {
    out.push({
      path: [...at, "securityGroupId"],
      message: `only applies with ${where}.listenerArn; remedy creates the security group of its own ALB`,
    });
  }
  // Any block reaching public address space counts (0.0.0.0/1 + 128.0.0.0/1, ::/0, an office /32):
  // requests from there cross the internet in clear text.
  const open = publicCidrs(ing.allowedCidrs ?? defaults.DEFAULT_ALLOWED_CIDRS);
  if (ing.certificateArn === undefined && open.length > 0 && ing.allowPlainHttp !== true) {
    out.push({
      path: [...at, "certificateArn"],
      message:
        `required: without it the ALB serves plain HTTP to public address space (${open.join(", ")}); set an ACM certificate for HTTPS, narrow ${where}.allowedCidrs to private ranges (and set ${where}.internal: true), or set ${where}.allowPlainHttp: true to accept plain HTTP`,
    });
  }
  if (ing.certificateArn === undefined && (ing.additionalCertificateArns ?? []).length > 0) {
    out.push({ path: [...at, "additionalCertificateArns"], message: `needs ${where}.certificateArn: extra certificates go on the HTTPS listener, which only exists with a default certificate` });
  }
  if (ing.subnetIds === undefined || ing.subnetIds.length < 2) {
    out.push({
      path: [...at, "subnetIds"],
      message: `required: at least two subnet ids in different availability zones for the ALB, got ${JSON.stringify(ing.subnetIds ?? [])} (or set ${where}.listenerArn to use an existing ALB)`,
    });
  }
}

export function normaliseIngress(vpcId: string, ing: RawAlbSettings): IngressSpec {
  return ing.listenerArn !== undefined
      ? { mode: "existing", vpcId, listenerArn: ing.listenerArn, securityGroupId: ing.securityGroupId as string }
      : {
          mode: "create",
          vpcId,
          subnetIds: ing.subnetIds ?? [],
          certificateArn: ing.certificateArn,
          additionalCertificateArns: ing.additionalCertificateArns ?? [],
          internal: ing.internal ?? false,
          allowedCidrs: ing.allowedCidrs ?? defaults.DEFAULT_ALLOWED_CIDRS,
          idleTimeoutSeconds: ing.idleTimeoutSeconds ?? defaults.DEFAULT_IDLE_TIMEOUT_SECONDS,
          deletionProtection: ing.deletionProtection ?? false,
          allowPlainHttp: ing.allowPlainHttp ?? false,
        };
}
