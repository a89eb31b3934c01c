import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenService } from "../components/delivery/blueGreenService";
import { SharedIngress } from "../components/delivery/sharedIngress";
import { AutoRollback } from "../components/rollback/autoRollback";
import { RollbackFunction } from "../components/rollback/rollbackFunction";
import { type StackConfig, serviceInputOf } from "../core/config";
import { POD_READINESS_GATE_LABEL } from "../core/defaults";
import { SLOTS, type Slot } from "../core/slots";
import type { SlotWeights } from "../core/weights";

/** What each service exports: enough for operators, the CLI and a hotfix stack to find it. */
export interface ServiceOutputs {
  readonly namespace: pulumi.Output<string>;
  readonly activeSlot: pulumi.Output<Slot>;
  readonly candidateSlot: pulumi.Output<Slot>;
  readonly weights: pulumi.Output<SlotWeights>;
  readonly versions: pulumi.Output<Partial<Record<Slot, string>>>;
  readonly images: Partial<Record<Slot, string>>;
  readonly targetGroupArns: pulumi.Output<Record<Slot, string>>;
  readonly targetGroupNames: pulumi.Output<Record<Slot, string>>;
  readonly ruleArn: pulumi.Output<string>;
  readonly alarmNames: pulumi.Output<string[]>;
}

export interface StackResources {
  readonly ingress: SharedIngress;
  readonly namespaces: ReadonlyMap<string, k8s.core.v1.Namespace>;
  readonly services: ReadonlyMap<string, BlueGreenService>;
  readonly rollback: RollbackFunction;
  readonly alarms: ReadonlyMap<string, AutoRollback>;
  readonly alarmNamePrefix: string;
}

export interface StackOutputs {
  readonly ingress: {
    readonly listenerArn: pulumi.Output<string>;
    readonly securityGroupId: pulumi.Output<string>;
    readonly dnsName: pulumi.Output<string | undefined>;
  };
  readonly services: Record<string, ServiceOutputs>;
  readonly rollback: {
    readonly functionArn: pulumi.Output<string>;
    readonly releaseTable: pulumi.Output<string>;
    readonly notificationTopicArn: pulumi.Output<string>;
    readonly alarmNamePrefix: string;
  };
}

/** Name of the shared ingress component (and of its ALB, auto-named from it). */
export const INGRESS_NAME = "remedy";

/** Name of the stack's RollbackFunction component. */
export const ROLLBACK_NAME = "rollback";

export interface BuildOptions {
  /** Prefix of every rollback alarm name: `<project>-<stack>`, unique per account and region. */
  readonly alarmNamePrefix: string;
}

/**
 * Builds a whole stack from validated config: one shared ingress, the namespaces (labelled so the
 * AWS Load Balancer Controller injects pod readiness gates), and one blue/green service per entry.
 */
export function buildStack(config: StackConfig, options: BuildOptions): StackResources {
  const ingress =
    config.ingress.mode === "existing"
      ? new SharedIngress(INGRESS_NAME, {
          vpcId: config.ingress.vpcId,
          listenerArn: config.ingress.listenerArn,
          securityGroupId: config.ingress.securityGroupId,
        })
      : new SharedIngress(INGRESS_NAME, {
          vpcId: config.ingress.vpcId,
          subnetIds: [...config.ingress.subnetIds],
          certificateArn: config.ingress.certificateArn,
          internal: config.ingress.internal,
          allowedCidrs: config.ingress.allowedCidrs,
          idleTimeoutSeconds: config.ingress.idleTimeoutSeconds,
          deletionProtection: config.ingress.deletionProtection,
        });

  const namespaces = new Map<string, k8s.core.v1.Namespace>();
  if (config.createNamespaces) {
    for (const ns of new Set(config.services.map((s) => s.namespace))) {
      namespaces.set(
        ns,
        new k8s.core.v1.Namespace(ns, {
          metadata: {
            name: ns,
            labels: { [POD_READINESS_GATE_LABEL]: "enabled", "app.kubernetes.io/managed-by": "remedy" },
          },
        }),
      );
    }
  }

  const services = new Map<string, BlueGreenService>();
  const attachment = ingress.attachment();
  for (const spec of config.services) {
    services.set(
      spec.name,
      new BlueGreenService(spec.name, {
        service: serviceInputOf(spec),
        ingress: attachment,
        namespace: namespaces.get(spec.namespace)?.metadata.name ?? spec.namespace,
      }),
    );
  }

  const rollback = new RollbackFunction(ROLLBACK_NAME, {
    alarmNamePrefix: options.alarmNamePrefix,
    ruleArns: [...services.values()].map((s) => s.ruleArn),
    notificationEmails: config.rollback.notificationEmails,
    tableDeletionProtection: config.rollback.tableDeletionProtection,
    logRetentionDays: config.rollback.logRetentionDays,
  });
  const alarms = new Map<string, AutoRollback>();
  for (const spec of config.services) {
    const svc = services.get(spec.name) as BlueGreenService;
    alarms.set(
      spec.name,
      new AutoRollback(`${spec.name}-rollback`, {
        service: spec.name,
        slots: SLOTS.filter((slot) => spec.slots[slot] !== undefined),
        alarms: spec.alarms,
        alarmNamePrefix: options.alarmNamePrefix,
        listenerArn: attachment.listenerArn,
        targetGroupArns: svc.targetGroupArns,
        functionArn: rollback.functionArn,
        topicArn: rollback.topicArn,
      }),
    );
  }
  return { ingress, namespaces, services, rollback, alarms, alarmNamePrefix: options.alarmNamePrefix };
}

/** The stack's exports. */
export function stackOutputs(resources: StackResources): StackOutputs {
  const services: Record<string, ServiceOutputs> = {};
  for (const [name, svc] of resources.services) {
    const images: Partial<Record<Slot, string>> = {};
    for (const [slot, s] of Object.entries(svc.spec.slots)) images[slot as Slot] = s.image;
    services[name] = {
      namespace: pulumi.output(svc.spec.namespace),
      activeSlot: svc.activeSlot,
      candidateSlot: svc.candidateSlot,
      weights: svc.weights,
      versions: svc.versions,
      images,
      targetGroupArns: svc.targetGroupArns,
      targetGroupNames: svc.targetGroupNames,
      ruleArn: svc.ruleArn,
      alarmNames: (resources.alarms.get(name) as AutoRollback).alarmNames,
    };
  }
  return {
    ingress: {
      listenerArn: resources.ingress.listenerArn,
      securityGroupId: resources.ingress.securityGroupId,
      dnsName: resources.ingress.dnsName,
    },
    services,
    rollback: {
      functionArn: resources.rollback.functionArn,
      releaseTable: resources.rollback.tableName,
      notificationTopicArn: resources.rollback.topicArn,
      alarmNamePrefix: resources.alarmNamePrefix,
    },
  };
}
