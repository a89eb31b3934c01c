/**
 * Kubernetes' own name rules, as the API server applies them: the patterns and lengths of
 * k8s.io/apimachinery `pkg/util/validation` (IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label,
 * IsQualifiedName, IsValidLabelValue, IsValidPortName) and which rule each field takes in
 * `pkg/apis/core/validation` and `pkg/apis/apps/validation` (object names, container and port
 * names, labels, annotations, readiness gates). The Pulumi mocks accept any string; these do not.
 * Names the AWS Load Balancer Controller derives from what remedy registers are checked too: the
 * readiness gate `target-health.elbv2.k8s.aws/<binding name>` it injects into every pod of a slot.
 */
import type { RecordedResource } from "./pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const dns1123Label = (v: string): string | undefined => (v.length > 63 ? `"${v}" is longer than 63 characters (DNS-1123 label)` : DNS1123_LABEL.test(v) ? undefined : `"${v}" is not a DNS-1123 label (lower case alphanumerics and "-", starting and ending alphanumeric)`);
export const dns1123Subdomain = (v: string): string | undefined => (v.length > 253 ? `"${v}" is longer than 253 characters (DNS-1123 subdomain)` : DNS1123_SUBDOMAIN.test(v) ? undefined : `"${v}" is not a DNS-1123 subdomain`);
export const dns1035Label = (v: string): string | undefined => (v.length > 63 ? `"${v}" is longer than 63 characters (DNS-1035 label)` : DNS1035_LABEL.test(v) ? undefined : `"${v}" is not a DNS-1035 label (starts with a letter)`);

export function qualifiedName(v: string): string | undefined {
  const parts = v.split("/");
  if (parts.length > 2) return `"${v}" is not a qualified name (at most one "/")`;
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined) {
    if (prefix.length === 0) return `"${v}": the prefix before "/" is empty`;
    const p = dns1123Subdomain(prefix);
    if (p) return `"${v}": prefix ${p}`;
  }
  if (!name) return `"${v}": the name part is empty`;
  if (name.length > 63) return `"${v}": the name part "${name}" is longer than 63 characters (qualified name)`;
  return QUALIFIED_NAME_PART.test(name) ? undefined : `"${v}": the name part is not alphanumerics, "-", "_" or "." starting and ending alphanumeric`;
}

export const labelValue = (v: string): string | undefined => (v.length > 63 ? `label value "${v}" is longer than 63 characters` : LABEL_VALUE.test(v) ? undefined : `label value "${v}" is not alphanumerics, "-", "_" or "."`);

/** IsValidPortName (IANA_SVC_NAME): what a container port's name and a Service's string targetPort must be. */
export function portName(v: string): string | undefined {
  if (v.length > 15) return `port name "${v}" is longer than 15 characters`;
  if (!/^[-a-z0-9]+$/.test(v)) return `port name "${v}" may hold only lower case alphanumerics and "-"`;
  if (!/[a-z]/.test(v)) return `port name "${v}" must hold a letter`;
  if (v.includes("--")) return `port name "${v}" must not hold "--"`;
  if (v.startsWith("-") || v.endsWith("-")) return `port name "${v}" must not start or end with "-"`;
  return undefined;
}

/** The readiness gate the AWS Load Balancer Controller injects for a TargetGroupBinding. */
export const readinessGateOf = (binding: string): string => `target-health.elbv2.k8s.aws/${binding}`;

/** The name rule Kubernetes applies to an object of this Pulumi type. */
const OBJECT_NAME: Record<string, (v: string) => string | undefined> = {
  "kubernetes:core/v1:Namespace": dns1123Label,
  "kubernetes:core/v1:Service": dns1035Label,
  // A Job's name becomes the value of its pods' job-name label: a label value at most.
  "kubernetes:batch/v1:Job": (v) => dns1123Subdomain(v) ?? labelValue(v),
};

function metaProblems(where: string, meta: Obj | undefined, out: string[]): void {
  for (const [k, v] of Object.entries((meta?.labels ?? {}) as Record<string, string>)) {
    const key = qualifiedName(k);
    if (key) out.push(`${where}: label key ${key}`);
    const value = labelValue(String(v));
    if (value) out.push(`${where}: label ${k}: ${value}`);
  }
  for (const k of Object.keys((meta?.annotations ?? {}) as Record<string, string>)) {
    const key = qualifiedName(k);
    if (key) out.push(`${where}: annotation key ${key}`);
  }
}

function podSpecProblems(where: string, spec: Obj | undefined, out: string[]): void {
  for (const c of [...((spec?.initContainers ?? []) as Obj[]), ...((spec?.containers ?? []) as Obj[])]) {
    const n = dns1123Label(String(c.name));
    if (n) out.push(`${where}: container name ${n}`);
    for (const p of (c.ports ?? []) as Obj[]) {
      if (p.name !== undefined) {
        const pn = portName(String(p.name));
        if (pn) out.push(`${where}: container ${String(c.name)}: ${pn}`);
      }
    }
  }
  for (const g of (spec?.readinessGates ?? []) as Obj[]) {
    const q = qualifiedName(String(g.conditionType));
    if (q) out.push(`${where}: readiness gate ${q}`);
  }
}

/** Every name rule a recorded Kubernetes object breaks, and those of the names derived from it. */
export function k8sNameProblems(r: Pick<RecordedResource, "type" | "name" | "inputs">): string[] {
  const out: string[] = [];
  const i = r.inputs as Obj;
  const name = String(i.metadata?.name ?? "");
  const where = `${r.type.replace(/^kubernetes:/, "")} ${name || r.name}`;
  if (!name) out.push(`${where}: no metadata.name`);
  else {
    const rule = OBJECT_NAME[r.type] ?? dns1123Subdomain;
    const p = rule(name);
    if (p) out.push(`${where}: name ${p}`);
  }
  if (i.metadata?.namespace !== undefined) {
    const ns = dns1123Label(String(i.metadata.namespace));
    if (ns) out.push(`${where}: namespace ${ns}`);
  }
  metaProblems(where, i.metadata, out);
  if (r.type === "kubernetes:apps/v1:Deployment" || r.type === "kubernetes:batch/v1:Job") {
    metaProblems(`${where} pod template`, i.spec?.template?.metadata, out);
    podSpecProblems(`${where} pod template`, i.spec?.template?.spec, out);
    for (const [k, v] of Object.entries((i.spec?.selector?.matchLabels ?? {}) as Record<string, string>)) {
      const p = qualifiedName(k) ?? labelValue(String(v));
      if (p) out.push(`${where}: selector ${p}`);
    }
  }
  if (r.type === "kubernetes:apps/v1:Deployment" && name) {
    // The ReplicaSet is `<deployment>-<pod-template-hash>` (up to 10 characters) and its pods add
    // 6 more; the API server checks the ReplicaSet's name as a subdomain.
    const rs = dns1123Subdomain(`${name}-${"x".repeat(10)}`);
    if (rs) out.push(`${where}: its ReplicaSet's name ${rs}`);
  }
  if (r.type === "kubernetes:core/v1:Service") {
    for (const p of (i.spec?.ports ?? []) as Obj[]) {
      if (p.name !== undefined) {
        const pn = dns1123Label(String(p.name));
        if (pn) out.push(`${where}: port name ${pn}`);
      }
      if (typeof p.targetPort === "string") {
        const tp = portName(p.targetPort);
        if (tp) out.push(`${where}: targetPort ${tp}`);
      }
    }
  }
  if (r.type === "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding" && name) {
    const gate = qualifiedName(readinessGateOf(name));
    if (gate) out.push(`${where}: the readiness gate the controller injects into the slot's pods: ${gate}`);
  }
  return out;
}
