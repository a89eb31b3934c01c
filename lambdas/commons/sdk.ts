/**
 * What every remedy Lambda's AWS SDK clients share.
 *
 * `cacheMiddleware`: the client resolves its middleware stack once per command class instead of
 * on every `send` (a smithy client option, documented as saving "0-1ms per request"; it requires
 * that nobody changes the client's middleware after its first request, and remedy's Lambdas never
 * do). Each rollback flip sends five requests, all CPU-bound on the Lambda's share of a vCPU
 * before and after their network time. Measured with a canned HTTP handler (no network), a
 * DescribeTargetHealth send and parse took 0.27-0.29 ms without it and 0.22 ms with it.
 */
import * as http from "node:http";
import * as https from "node:https";

export const LAMBDA_SDK_CONFIG = { cacheMiddleware: true } as const;

/**
 * A send's options: only when there is a deadline. The SDK reuses a client's resolved middleware
 * (`cacheMiddleware`) only for sends without an options object, even an empty one.
 */
export const requestOptions = (abortSignal?: AbortSignal) => (abortSignal ? { abortSignal } : undefined);

/**
 * Longest a Lambda keeps its pooled connections between invocations. Longer, and they are closed
 * as the next invocation starts and its calls open fresh ones.
 *
 * The SDK keeps connections alive (docs: node-reusing-connections). Between invocations Lambda
 * freezes the process, and an endpoint or NAT that closes an idle connection meanwhile is not
 * seen until the next request is written to it: that request fails with ECONNRESET ("socket
 * hang up", aws/aws-sdk-js-v3#1196, reused Lambda containers) and the SDK retries it after a
 * random backoff of up to 200 ms, then on a new connection anyway. The rollback Lambda runs when
 * an alarm fires, often hours after its last run; a fresh connection costs one TLS handshake,
 * a few milliseconds in-region. Invocations seconds apart (alarms firing together, the release
 * driver's watch) keep theirs.
 */
export const IDLE_CONNECTION_MS = 4_000;

/**
 * The connections a Lambda's SDK clients share, dropped when they sat idle too long between
 * invocations (see IDLE_CONNECTION_MS). The entry point calls `beforeInvocation` as each
 * invocation starts and `afterInvocation` as it ends.
 */
export class LambdaConnections {
  readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 50 });
  readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  private idleSince: number | undefined;

  constructor(
    private readonly idleMs = IDLE_CONNECTION_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** SDK client settings: LAMBDA_SDK_CONFIG over these connections, plus `extra`. */
  clientConfig<T extends object>(extra?: T): typeof LAMBDA_SDK_CONFIG & { requestHandler: { httpAgent: http.Agent; httpsAgent: https.Agent } } & T {
    return { ...LAMBDA_SDK_CONFIG, requestHandler: { httpAgent: this.httpAgent, httpsAgent: this.httpsAgent }, ...(extra as T) };
  }

  /** Closes the pooled connections if they sat idle too long; returns how many it closed. */
  beforeInvocation(): number {
    const idle = this.idleSince === undefined ? 0 : this.now() - this.idleSince;
    this.idleSince = undefined;
    if (idle <= this.idleMs) return 0;
    let closed = 0;
    for (const agent of [this.httpsAgent, this.httpAgent]) {
      // Only idle ones: none is in use between invocations. A destroyed socket stays listed
      // until its close event; the agent skips destroyed ones when it hands out a connection.
      for (const sockets of Object.values(agent.freeSockets)) {
        for (const socket of sockets ?? []) {
          socket.destroy();
          closed++;
        }
      }
    }
    return closed;
  }

  afterInvocation(): void {
    this.idleSince = this.now();
  }
}
