import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as defaults from "../../core/defaults";
import type { MigrationPhase, VersionUsage } from "../../database/plan";

export interface MigrationJobArgs {
  /** Plan id, e.g. `0001-rename-payments-amount`. Required. */
  readonly plan: string;
  /** The phase this Job applies. Required. */
  readonly phase: MigrationPhase;
  /** Image with remedy's CLI (or any image whose `command` applies the phase). Required. */
  readonly image: string;
  /** Command; `<plan> <phase>` are appended. Default {@link defaults.DEFAULT_MIGRATE_COMMAND}. */
  readonly command?: readonly string[];
  readonly namespace: pulumi.Input<string>;
  /** Secret and key holding `DATABASE_URL`. */
  readonly databaseUrlSecret: { readonly name: string; readonly key: string };
  /** Let the Job's container run as root (its image has no non-root USER). Default `false`: runAsNonRoot. */
  readonly allowRunAsRoot?: boolean;
  /** Versions in the rollback window; a contract Job re-checks them (REMEDY_ROLLBACK_WINDOW). */
  readonly rollbackWindow?: readonly VersionUsage[];
  /**
   * Seconds before Kubernetes kills the Job. Default {@link defaults.DEFAULT_MIGRATION_JOB_DEADLINE_SECONDS};
   * Pulumi waits this long plus a scheduling margin for it to complete.
   */
  readonly activeDeadlineSeconds?: number;
}

/** Kubernetes object name of a phase's Job: `migrate-<plan>-<phase>`, at most 63 characters. */
export function migrationJobName(plan: string, phase: MigrationPhase): string {
  const base = `migrate-${plan}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  return `${base.slice(0, 62 - phase.length)}-${phase}`.replace(/-+/g, "-");
}

/**
 * Runs one migration phase as a Kubernetes Job, once: Pulumi waits for it to complete, so
 * resources given `dependsOn: [job]` (the release that needs an expanded schema) deploy only
 * after it succeeded; a contract Job is made to depend on the releases instead. No retries by
 * Kubernetes (backoffLimit 0): the runner retries lock timeouts itself and resumes backfills, so
 * a failed Job means a human should look.
 */
export class MigrationJob extends pulumi.ComponentResource {
  public readonly job: k8s.batch.v1.Job;
  public readonly jobName: string;

  constructor(name: string, args: MigrationJobArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:database:MigrationJob", name, {}, opts);
    if (!/^[^@:]+[:@].+/.test(args.image) || args.image.endsWith(":latest")) {
      throw new pulumi.ResourceError(`\`image\` must be pinned to a tag or digest, got ${JSON.stringify(args.image)}`, this);
    }
    this.jobName = migrationJobName(args.plan, args.phase);
    const deadline = args.activeDeadlineSeconds ?? defaults.DEFAULT_MIGRATION_JOB_DEADLINE_SECONDS;
    if (!Number.isInteger(deadline) || deadline < 60 || deadline > 86_400) {
      throw new pulumi.ResourceError(`\`activeDeadlineSeconds\` must be an integer 60..86400, got ${deadline}`, this);
    }
    // Pulumi waits for the Job to complete, by default for 10 minutes; a backfill may run for the
    // Job's whole deadline. Wait that long plus scheduling time, or Pulumi would give up (and fail
    // the `up`) while the Job is still running fine.
    const wait = `${Math.ceil((deadline + defaults.MIGRATION_JOB_SCHEDULING_MARGIN_SECONDS) / 60)}m`;
    this.job = new k8s.batch.v1.Job(
      name,
      {
        metadata: {
          name: this.jobName,
          namespace: args.namespace,
          labels: { "app.kubernetes.io/managed-by": "remedy", "remedy/migration": args.plan, "remedy/phase": args.phase },
        },
        spec: {
          backoffLimit: 0,
          activeDeadlineSeconds: deadline,
          ttlSecondsAfterFinished: 86_400,
          template: {
            metadata: { labels: { "remedy/migration": args.plan, "remedy/phase": args.phase } },
            spec: {
              restartPolicy: "Never",
              securityContext: defaults.podSecurityContext(args.allowRunAsRoot ?? false),
              containers: [
                {
                  name: "migrate",
                  image: args.image,
                  command: [...(args.command ?? defaults.DEFAULT_MIGRATE_COMMAND), args.plan, args.phase],
                  env: [
                    { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: args.databaseUrlSecret.name, key: args.databaseUrlSecret.key } } },
                    { name: "REMEDY_ROLLBACK_WINDOW", value: JSON.stringify(args.rollbackWindow ?? []) },
                  ],
                  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                  securityContext: defaults.containerSecurityContext(),
                },
              ],
            },
          },
        },
      },
      { parent: this, customTimeouts: { create: wait, update: wait } },
    );
    this.registerOutputs({ jobName: this.jobName });
  }
}
