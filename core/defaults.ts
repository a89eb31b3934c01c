/**
 * Every default remedy applies, in one place. Each constant is documented with
 * why it has the value it has; components and the config schema import from here.
 */

/** Replicas per slot when a service does not say. Two keeps a slot available through one pod eviction. */
export const DEFAULT_REPLICAS = 2;

/** Container CPU request when a service does not say. */
export const DEFAULT_CPU_REQUEST = "100m";

/** Container memory request (and limit, see below) when a service does not say. */
export const DEFAULT_MEMORY_REQUEST = "128Mi";

/**
 * Container memory limit when a service does not say. Memory is not compressible, so a limit
 * equal to the request avoids noisy-neighbour OOM kills. No CPU limit by default: CPU
 * throttling hurts latency more than it protects neighbours.
 */
export const DEFAULT_MEMORY_LIMIT = DEFAULT_MEMORY_REQUEST;

/** `maxUnavailable` of each slot's PodDisruptionBudget: one pod at a time, whatever the replica count. */
export const DEFAULT_PDB_MAX_UNAVAILABLE = 1;

/** Seconds before the first readiness probe. */
export const DEFAULT_READINESS_INITIAL_DELAY_SECONDS = 5;

/** Seconds between readiness probes. Short, so a slot turns ready quickly after a deploy. */
export const DEFAULT_READINESS_PERIOD_SECONDS = 5;

/** Seconds before the first liveness probe; generous so slow starters are not killed in a loop. */
export const DEFAULT_LIVENESS_INITIAL_DELAY_SECONDS = 15;

/** Seconds between liveness probes. */
export const DEFAULT_LIVENESS_PERIOD_SECONDS = 10;

/** Failed liveness probes before the kubelet restarts the container. */
export const DEFAULT_LIVENESS_FAILURE_THRESHOLD = 3;

/**
 * Seconds a terminating pod keeps serving (preStop `sleep` action) so the ALB can deregister it
 * before the process gets SIGTERM. Must exceed the time the AWS Load Balancer Controller takes to
 * deregister a target; 15 s covers it in practice.
 */
export const DEFAULT_PRESTOP_SLEEP_SECONDS = 15;

/** Pod `terminationGracePeriodSeconds`: the preStop sleep plus time for in-flight requests to drain. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 45;

/**
 * Target group deregistration delay in seconds. The AWS default (300 s) makes every flip and
 * rollback leave connections draining for five minutes; 30 s is enough for request/response APIs.
 */
export const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 30;

/** Target group health check: interval in seconds (ALB minimum is 5). */
export const DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS = 10;

/** Target group health check: consecutive successes before a target is healthy. */
export const DEFAULT_HEALTHY_THRESHOLD = 2;

/** Target group health check: consecutive failures before a target is unhealthy. */
export const DEFAULT_UNHEALTHY_THRESHOLD = 2;

/** Target group health check: HTTP codes that count as healthy. */
export const DEFAULT_HEALTH_CHECK_MATCHER = "200-399";

/** CIDRs allowed to reach a remedy-created ALB. Public by default, as an internet-facing ALB is. */
export const DEFAULT_ALLOWED_CIDRS: readonly string[] = ["0.0.0.0/0"];

/** ALB idle timeout in seconds (the AWS default). */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 60;

/** TLS policy for the HTTPS listener of a remedy-created ALB: TLS 1.2+ with TLS 1.3. */
export const DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/** Namespace label that makes the AWS Load Balancer Controller inject pod readiness gates. */
export const POD_READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject";

/** ALB limit: condition values (hosts + paths) a single listener rule may evaluate. */
export const MAX_RULE_CONDITION_VALUES = 5;

/** ALB limit: listener rule priorities are 1..50000. */
export const MAX_RULE_PRIORITY = 50_000;

// ---------------------------------------------------------------------------------------------
// Automatic rollback: alarms on each slot's target group. ALB publishes target group metrics
// every 60 s, so periods are whole minutes. "2 of 3" evaluations tolerate one noisy minute
// without waiting for three.

/** Candidate 5xx rate (percent of requests) at or above which the release is rolled back. */
export const DEFAULT_ERROR_RATE_THRESHOLD_PERCENT = 5;

/**
 * Requests a period needs before its 5xx rate counts. Below it the rate is reported as 0, so
 * one failed request out of three at 10% canary traffic does not roll a release back.
 */
export const DEFAULT_ERROR_RATE_MIN_REQUESTS = 20;

/** p99 target response time, in seconds, at or above which the release is rolled back. */
export const DEFAULT_LATENCY_P99_THRESHOLD_SECONDS = 1.5;

/** Unhealthy targets in the candidate's target group at or above which it is rolled back. */
export const DEFAULT_UNHEALTHY_HOSTS_THRESHOLD = 1;

/** Alarm period in seconds (ALB metric resolution). */
export const DEFAULT_ALARM_PERIOD_SECONDS = 60;

/** Periods an alarm evaluates. */
export const DEFAULT_ALARM_EVALUATION_PERIODS = 3;

/** Breaching periods (out of the evaluated ones) that put an alarm in ALARM. */
export const DEFAULT_ALARM_DATAPOINTS_TO_ALARM = 2;

/**
 * Relative latency (`alarms.relative.latencyRatio`): a candidate p99 below this many seconds is
 * never judged slow, so 4 ms against 2 ms does not roll back.
 */
export const DEFAULT_RELATIVE_LATENCY_FLOOR_SECONDS = 0.1;

/**
 * Rollback Lambda memory in MB: one full vCPU. Lambda gives a function CPU in proportion to its
 * memory, one vCPU's worth at 1,769 MB (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
 * What a flip waits for besides the network is CPU: building, signing and parsing five AWS calls
 * and the cold start (bench/rollback-latency: about 80 ms of import on a full core). At 256 MB
 * (0.14 of a vCPU) that work would take about seven times as long. The function runs only when
 * an alarm fires or an operator rolls back, so the larger size costs next to nothing: a
 * 300 ms run at 1,769 MB is about 0.53 GB-seconds.
 */
export const DEFAULT_ROLLBACK_MEMORY_MB = 1769;

/** Rollback Lambda timeout in seconds: enough for SDK retries with backoff on a throttled API. */
export const DEFAULT_ROLLBACK_TIMEOUT_SECONDS = 30;

/**
 * Lambda asynchronous retries of a failed rollback invocation (the maximum AWS allows). Safe
 * because the handler is idempotent; after the last one the event goes to the dead-letter queue.
 */
export const DEFAULT_ROLLBACK_ASYNC_RETRIES = 2;

/** Days the rollback Lambda's logs are kept. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;

/** Seconds a failed rollback event stays in the dead-letter queue (the SQS maximum, 14 days). */
export const DEFAULT_DLQ_RETENTION_SECONDS = 1_209_600;

/**
 * Oldest alarm event (seconds) Lambda still delivers to the rollback function after retries.
 * An hour-old ALARM is a no-op anyway (the release has moved on or humans have), so drop it.
 */
export const DEFAULT_ROLLBACK_MAX_EVENT_AGE_SECONDS = 3_600;

/** The retention periods CloudWatch Logs accepts, in days; any other value fails at deploy time. */
export const LOG_RETENTION_DAYS_ALLOWED: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/**
 * Minutes a promoted-away version keeps its replicas as the rollback target. After it, the next
 * `pulumi up` scales that slot to zero (the image stays configured, so scaling back is one edit).
 */
export const DEFAULT_ROLLBACK_WINDOW_MINUTES = 60;

/** Kubernetes namespace of a hotfix environment when its config does not say. */
export const DEFAULT_HOTFIX_NAMESPACE = "hotfix";

/**
 * Replicas per slot in a hotfix environment: two, so a node drain evicting one pod never leaves the
 * candidate without a target (its PodDisruptionBudget keeps one), cheap to keep.
 */
export const DEFAULT_HOTFIX_REPLICAS = 2;

/** Longest a migration DDL statement waits for its lock per attempt; readers queue behind it at most this long. */
export const DEFAULT_DDL_LOCK_TIMEOUT_MS = 2000;

/** Attempts per migration DDL statement (with exponential backoff between them). */
export const DEFAULT_DDL_ATTEMPTS = 5;

/**
 * Longest a migration step waits for locks in total, across its lock_timeout attempts (a DDL
 * statement, or one backfill batch whose rows someone holds): then it stops, names the blocking
 * sessions and exits non-zero instead of waiting without end behind, say, an idle transaction.
 */
export const DEFAULT_MAX_LOCK_WAIT_MS = 60_000;

/** Rows per backfill batch: each batch is one short transaction holding row locks only on its range. */
export const DEFAULT_BACKFILL_BATCH_SIZE = 5000;

/**
 * Backfill pause after each batch, as a multiple of the batch's own duration (1 = 50% duty
 * cycle), leaving CPU and I/O to the live workload. bench/migrate shows the trade-off.
 */
export const DEFAULT_BACKFILL_THROTTLE = 1;

/**
 * Longest alarm reason recorded in release state, history and notifications, in characters.
 * CloudWatch's own reasons stay under 1,023; anything longer is cut (saying so) so a rollback
 * always fits one DynamoDB item (400 KB) and is never flipped without being recorded.
 */
export const MAX_RECORDED_REASON_CHARS = 2_048;

/** Longest notification body sent to SNS, in characters (SNS accepts 256 KB). */
export const MAX_NOTIFICATION_CHARS = 64_000;

/**
 * Milliseconds of a rollback invocation kept for what must happen (sending the recorded
 * notification and marking it sent); optional calls (listing other firing alarms) run only
 * with time to spare beyond this.
 */
export const ROLLBACK_RESERVED_MS = 3_000;

/**
 * Longest the rollback Lambda retries a throttled DescribeAlarms (the alarm's confirmation) within
 * one invocation, and the longest wait between two tries, in ms. Past it, humans are paged and
 * the invocation fails so Lambda retries the event (issue 35, 8).
 */
export const ROLLBACK_CONFIRM_MAX_MS = 15_000;

/** The rollback Lambda's Powertools identity: its metrics' namespace and `service` dimension. */
export const ROLLBACK_METRICS = { namespace: "remedy", serviceName: "remedy-rollback" } as const;
export const ROLLBACK_CONFIRM_BACKOFF_MAX_MS = 2_000;

/** An optional call is skipped when less than this is left beyond the reserve, in ms. */
export const ROLLBACK_OPTIONAL_CALL_MIN_MS = 500;

/** Longest an optional call may take, in ms. */
export const ROLLBACK_OPTIONAL_CALL_MAX_MS = 2_000;

/** Least time left, in ms, to attempt an SNS publish; below it the notification stays pending for the retry. */
export const ROLLBACK_PUBLISH_MIN_MS = 1_000;

/** Longest an SNS publish may take before it is abandoned for the retry, in ms. */
export const ROLLBACK_PUBLISH_MAX_MS = 10_000;

/**
 * How long one copy of the rollback handler holds a pending notification while sending it, in
 * ms. Longer than the publish timeout; a copy that crashed loses the lease after it.
 */
export const NOTIFICATION_LEASE_MS = 30_000;

/**
 * Failed TCP connections from the ALB to one slot's pods per period (TargetConnectionErrorCount)
 * that roll the release back: pods that are not listening, or a slot whose pods are gone.
 */
export const DEFAULT_CONNECTION_ERRORS_THRESHOLD = 5;

/**
 * Load-balancer-generated 5xx responses (HTTPCode_ELB_5XX_Count: 502/503/504, e.g. an empty
 * target group) per minute that page humans. CloudWatch publishes this metric per load balancer
 * only, not per target group, so it cannot name the slot at fault and does not roll back.
 */
export const DEFAULT_ELB_5XX_THRESHOLD = 10;

/** Seconds before Kubernetes stops a migration Job (its `activeDeadlineSeconds`). */
export const DEFAULT_MIGRATION_JOB_DEADLINE_SECONDS = 3_600;

/**
 * Seconds Pulumi waits for a migration Job beyond its deadline (image pull, scheduling), so
 * Pulumi's own timeout (`customTimeouts`) never fires before Kubernetes' deadline does.
 */
export const MIGRATION_JOB_SCHEDULING_MARGIN_SECONDS = 600;

/** Header of a service's test route (`testRoute.header`): requests carrying it reach the candidate only. */
export const DEFAULT_TEST_ROUTE_HEADER = "x-remedy-candidate";

/**
 * Value the test route's header must have when the test rule is limited by `testRoute.sourceCidrs`
 * and no secret `testRoute.value` is set. Without sourceCidrs a secret value is required.
 */
export const DEFAULT_TEST_ROUTE_VALUE = "1";

/** Shortest secret `testRoute.value` accepted (16 characters: 64 bits as hex). */
export const MIN_TEST_ROUTE_SECRET_LENGTH = 16;

/** Minutes a progressive release stays at 100% with alarms OK before the release driver promotes it. */
export const DEFAULT_BAKE_MINUTES = 10;

/**
 * The strategy of a service in image mode (`image` without `strategy`): 10% for 5 minutes, then
 * 100%, then the bake ({@link DEFAULT_BAKE_MINUTES}) before promotion — CodeDeploy's
 * Canary10Percent5Minutes.
 */
export const DEFAULT_IMAGE_MODE_STRATEGY = { kind: "canary", weight: 10, minutes: 5 } as const;

/** Seconds one run of a pre-traffic check (`preTraffic.timeoutSeconds`) may take. */
export const DEFAULT_PRE_TRAFFIC_TIMEOUT_SECONDS = 10;

/**
 * Failed runs of a pre-traffic check (one per driver tick) after which the release is held
 * until an operator acts (`preTraffic.attempts`): rides out a pod that was not quite ready.
 */
export const DEFAULT_PRE_TRAFFIC_ATTEMPTS = 3;

/**
 * Whether the release driver may scale a promoted-away slot to 0 itself when its rollback window
 * ends (`remedy:kubernetes.driverAccess`): needs EKS access entries on the cluster.
 */
export const DEFAULT_DRIVER_CLUSTER_ACCESS = true;

/**
 * Minutes past the end of a rollback window before the release driver (and `pulumi up`) scales the previous slot
 * to 0: longer than any rollback Lambda run that started inside the window (its timeout is 30 s),
 * so a rollback decided at the last moment never lands on a slot being emptied.
 */
export const RETIRE_GRACE_MINUTES = 5;

/**
 * With target-group stickiness on the rule, the previous slot is scaled to 0 only once its target
 * group got no request for this long (ALB's RequestCount per target group, 1-minute datapoints).
 * AWS documents that the ALB resets the expiry of its application-based stickiness cookie on every
 * response ("Sticky sessions for your Application Load Balancer") and says nothing either way for
 * the rule's AWSALBTG cookie: if it is refreshed too, a client that keeps coming stays on the old
 * target group past `DurationSeconds`, so the driver judges by the requests that still arrive.
 */
export const STICKY_QUIET_MINUTES = 10;

/** How often the release driver ticks (EventBridge schedule), in minutes. */
export const RELEASE_DRIVER_INTERVAL_MINUTES = 1;

/**
 * Services the release driver ticks at once (each a few sequential AWS calls, or a pre-traffic
 * check). Alarm reads are coalesced (CloudWatch allows 9 DescribeAlarms a second) and rules read
 * per listener, so what remains per due service is DescribeTargetHealth, one rule re-read and
 * ModifyRule against ELB's per-account buckets (40 Describe* a second); the SDK's adaptive retry
 * mode slows the driver down when ELB or DynamoDB throttle it.
 */
export const DRIVER_CONCURRENCY = 24;

/**
 * How long a fresh read of the release driver (a service's state, its rule) waits for other
 * services' before the batch call starts: a few milliseconds on a step that happens once a minute
 * at most, for a tick over hundreds of services that makes tens of calls instead of hundreds.
 */
export const DRIVER_READ_GATHER_MS = 25;

/**
 * The release driver's own limit on ELB Describe* calls: ELB gives each account and region a
 * bucket of 40 Describe* tokens refilled at 10 a second ("Request throttling for the ELB API"),
 * shared with everything else (the rollback Lambda, the AWS Load Balancer Controller, consoles).
 */
export const DRIVER_ELB_DESCRIBE_RATE = { perSecond: 8, burst: 30 } as const;

/**
 * The release driver's health watch's own share of ELB's Describe* budget (one
 * DescribeTargetHealth per exposed candidate per round; ELB has no batch form): at most 2 of the
 * account's 10 tokens a second, on top of {@link DRIVER_ELB_DESCRIBE_RATE}, so however many
 * candidates are exposed, the watch never takes more than a fifth of what the rollback Lambda,
 * the AWS Load Balancer Controller (its own reconciles call DescribeTargetHealth and the rules in
 * the same account bucket; only AWS services calling on your behalf have their own) and people
 * share. Up to 10 exposed candidates are still checked every {@link DRIVER_HEALTH_WATCH_SECONDS};
 * with more, each round takes n / 2 seconds, and the candidates with the most traffic go first.
 */
export const DRIVER_WATCH_ELB_DESCRIBE_RATE = { perSecond: 2, burst: 10 } as const;

/** Rules the release driver reads back in one DescribeRules call (by ARN). */
export const DRIVER_RULES_PER_READ = 20;

/**
 * Milliseconds of an invocation the driver keeps for recording a pre-traffic check's result: a
 * check gets what is left of the tick minus this, so one cut short is still recorded as failed.
 */
export const DRIVER_RECORD_RESERVE_MS = 4_000;

/** Below this much time left in an invocation, the release driver starts no further service. */
export const DRIVER_MIN_SERVICE_MS = 1_000;

/** Below this much time left, a pre-traffic check is not started this tick (it runs next tick). */
export const DRIVER_MIN_CHECK_MS = 1_000;

/**
 * How far the schedule's time (the EventBridge event's `time`) may be from the wall clock for the
 * driver to time steps from it; further off (a replayed or hand-made event), the wall clock is used.
 */
export const DRIVER_SCHEDULE_SKEW_SECONDS = 120;

/**
 * The migration Job's command (`<plan> <phase>` appended): the remedy the image installed, by its
 * entry point in the working directory, so nothing resolves a package at run time. Not npx: even
 * with `--no-install` it runs a public `remedy` already in its cache (`~/.npm/_npx`) where the
 * image has none, with DATABASE_URL in its environment (issue 35, 16). An image with remedy on
 * PATH sets `["remedy", "migrate", "apply"]`.
 */
export const DEFAULT_MIGRATE_COMMAND: readonly string[] = ["node_modules/.bin/remedy", "migrate", "apply"];

/** The schema-check init container's command (`--uses <columns>` appended); see {@link DEFAULT_MIGRATE_COMMAND}. */
export const DEFAULT_SCHEMA_CHECK_COMMAND: readonly string[] = ["node_modules/.bin/remedy", "migrate", "check"];

/**
 * The rollback Lambda pages about one escalation (service, alarm, cause) at most once in this
 * window, however many events repeat it (CloudWatch re-invokes, or someone floods the function).
 */
export const ESCALATION_PAGE_WINDOW_MS = 15 * 60_000;

/**
 * Concurrent executions reserved for the rollback Lambda: enough for every alarm of a large stack
 * firing at once, guaranteed whatever else runs in the account (reserving needs the account's
 * unreserved pool to stay at 100 or more).
 */
export const DEFAULT_ROLLBACK_RESERVED_CONCURRENCY = 10;

/**
 * Concurrent executions reserved for the release driver. Ticks do not overlap by the table's tick
 * lease (an invocation finding it held ends at once), so this only bounds what a flood of direct
 * invokes takes from the account; with 1, such a flood throttled the schedule's ticks (issue 35, 19).
 */
export const DRIVER_RESERVED_CONCURRENCY = 5;

/**
 * Pod security for every pod remedy creates (app slots, schema check, migration Job), the
 * Kubernetes "restricted" profile's essentials: never root (unless a service's or the Job's
 * `allowRunAsRoot` says so), no privilege escalation, no Linux capabilities, the runtime's
 * default seccomp profile.
 */
export function podSecurityContext(allowRunAsRoot: boolean): { runAsNonRoot?: boolean; seccompProfile: { type: string } } {
  return { ...(allowRunAsRoot ? {} : { runAsNonRoot: true }), seccompProfile: { type: "RuntimeDefault" } };
}

/** Container-level half of {@link podSecurityContext} (a fresh object: Kubernetes inputs are mutable). */
export function containerSecurityContext(): { allowPrivilegeEscalation: boolean; capabilities: { drop: string[] }; seccompProfile: { type: string } } {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } };
}

/**
 * Seconds between the release driver's target-health checks while a candidate takes traffic,
 * within its tick: a candidate whose targets all turn unhealthy (crash-looping, never ready) is
 * rolled back within about this long, not after an alarm's one-minute periods.
 */
export const DRIVER_HEALTH_WATCH_SECONDS = 5;

/**
 * The release driver Lambda's timeout: under its 1-minute schedule, so ticks rarely overlap; the
 * health watch runs until about 6 s before it (bench/detection models the gap to the next tick).
 */
export const DRIVER_TIMEOUT_SECONDS = 50;

