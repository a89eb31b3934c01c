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
export const LAMBDA_SDK_CONFIG = { cacheMiddleware: true } as const;
