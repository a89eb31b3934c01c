/** What the operator commands share: their error, their output and their test hooks. */
import type { MetricAlarm } from "@aws-sdk/client-cloudwatch";
import type { AwsCredentialIdentity } from "@smithy/types";

/** An operator command's failure, said in one line (exit 2). */
export class OpsError extends Error {}

export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly tty: boolean;
  /** The terminal's width, when it is one (tables fit it; 100 otherwise). */
  readonly columns?: number;
}

export interface OpsHooks {
  /** Called by `drill` after it forced the alarm (tests deliver the event, as moto fires no actions). */
  readonly afterAlarm?: (alarm: MetricAlarm) => Promise<void>;
  /** Credentials the override request is signed with (default: the SDK's provider chain). */
  readonly credentials?: AwsCredentialIdentity;
}
