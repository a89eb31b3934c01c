/**
 * Field rules shared by every config section: names, integers, CIDRs, quantities, ARNs.
 */
import { z } from "zod";
import { parseCidr } from "../cidr";

export function required(what: string) {
  return (iss: { input?: unknown }) =>
    iss.input === undefined ? `required: ${what}` : `must be ${what}`;
}

export const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const dnsLabel = (what: string, max: number) =>
  z
    .string({ error: required(`${what} (lowercase DNS label)`) })
    .max(max, { error: `must be at most ${max} characters` })
    .regex(DNS_LABEL, {
      error: "must be a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, not ending with '-'",
    });

/** An IPv4 or IPv6 CIDR (see `core/cidr.ts`). */
export const cidr = () => z.string().refine((c) => parseCidr(c) !== undefined, { error: 'must be an IPv4 or IPv6 CIDR such as "10.0.0.0/8" or "fd00::/8"' });

export const int = (what: string, min: number, max: number) =>
  z
    .number({ error: required(`${what}, an integer ${min}..${max}`) })
    .int({ error: `must be an integer ${min}..${max}` })
    .min(min, { error: `must be an integer ${min}..${max}` })
    .max(max, { error: `must be an integer ${min}..${max}` });

/** A number above `low` (excluded) and at most `high`; `outside` is the message for either bound. */
export const aboveAtMost = (what: string, low: number, high: number, outside: string) =>
  z
    .number({ error: required(what) })
    .gt(low, { error: outside })
    .max(high, { error: outside });

export const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
export const quantity = (what: string) =>
  z
    .string({ error: required(`${what}, a Kubernetes quantity such as "250m" or "512Mi"`) })
    .regex(QUANTITY, { error: `must be a Kubernetes quantity such as "250m" or "512Mi"` });

export const arn = (service: string, what: string) =>
  z
    .string({ error: required(what) })
    .regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:.+$`), {
      error: `must be an ARN of ${what} (arn:aws:${service}:<region>:<account>:...)`,
    });

// ---------------------------------------------------------------------------------------------
// Schema

/** Name of the group the top-level `ingress` settings describe (the stack's first ALB). */
export const DEFAULT_INGRESS_GROUP = "default";

/**
 * Longest ingress group name: its ALB is auto-named `remedy-<group>` plus 8 random characters,
 * and AWS allows 32 characters in a load balancer name.
 */
export const MAX_INGRESS_GROUP_CHARS = 32 - "remedy-".length - 8;

export const ingressGroupName = z
  .string()
  .regex(new RegExp(`^[a-z][a-z0-9-]{0,${MAX_INGRESS_GROUP_CHARS - 1}}$`), {
    error: `must be 1..${MAX_INGRESS_GROUP_CHARS} of a-z 0-9 - starting with a letter (the group's ALB is named remedy-<group> plus 8 random characters, and AWS allows 32)`,
  });

export type Path = (string | number)[];

export const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
export const DECIMAL: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };

/** Compares two Kubernetes quantities (suffixes Ki..Pi, m, k..P); NaN-safe: unknown suffixes compare equal. */
export function compareQuantity(a: string, b: string): number {
  const value = (q: string): number => {
    const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
    if (!m) return NaN;
    const mult = BINARY[m[2]] ?? DECIMAL[m[2]];
    return mult === undefined ? NaN : Number(m[1]) * mult;
  };
  const d = value(a) - value(b);
  return Number.isNaN(d) ? 0 : Math.sign(d);
}

// ---------------------------------------------------------------------------------------------
// Hotfix stack: an isolated copy of prod's live versions, with hotfix images where given.

/** `T` read-only all the way down (arrays included): what a validated config value is. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/**
 * A section's validated type derived from its schema's output: the keys `K` (default: all) have
 * their defaults applied, so they are present; everything is read-only.
 */
export type Filled<T, K extends keyof T = keyof T> = DeepReadonly<Omit<T, K> & { [P in K]-?: Exclude<T[P], undefined> }>;

