/**
 * Validates recorded Kubernetes objects against the official API schemas (kubernetes-models,
 * generated from the Kubernetes OpenAPI spec) and the TargetGroupBinding CRD's structural schema.
 */
import Ajv from "ajv";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { Namespace, Service } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import tgbSchema from "../fixtures/schemas/targetGroupBinding.v1beta1.json";
import type { RecordedResource } from "./pulumiMocks";

const ajv = new Ajv({ allErrors: true, strict: false });
const validateTgb = ajv.compile(tgbSchema);

type Model = { validate(): void };
const MODELS: Record<string, (data: never) => Model> = {
  "kubernetes:apps/v1:Deployment": (d) => new Deployment(d),
  "kubernetes:batch/v1:Job": (d) => new Job(d),
  "kubernetes:core/v1:Service": (d) => new Service(d),
  "kubernetes:core/v1:Namespace": (d) => new Namespace(d),
  "kubernetes:policy/v1:PodDisruptionBudget": (d) => new PodDisruptionBudget(d),
  "kubernetes:networking.k8s.io/v1:NetworkPolicy": (d) => new NetworkPolicy(d),
  "kubernetes:rbac.authorization.k8s.io/v1:Role": (d) => new Role(d),
  "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": (d) => new RoleBinding(d),
};

/** Throws with the object's type, name and every schema violation. */
export function validateK8sObject(resource: Pick<RecordedResource, "type" | "name" | "inputs">): void {
  if (resource.type === "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding") {
    if (!validateTgb(resource.inputs)) {
      throw new Error(`${resource.type} ${resource.name}: ${ajv.errorsText(validateTgb.errors)}`);
    }
    return;
  }
  const make = MODELS[resource.type];
  if (make === undefined) {
    throw new Error(`no schema known for ${resource.type}; add it to test/helpers/k8sSchema.ts`);
  }
  try {
    make(resource.inputs as never).validate();
  } catch (err) {
    throw new Error(`${resource.type} ${resource.name}: ${(err as Error).message}`);
  }
}
