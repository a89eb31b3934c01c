/**
 * Coalesces single-key reads made at about the same time into one batch call: while a call is in
 * flight, new keys queue and go out together in the next one (up to `maxBatch` keys), as often as
 * a token bucket allows (`rate`). The release driver reads alarms, rules and release state this
 * way, so a tick over hundreds of services makes tens of calls instead of one per service and read,
 * and each answer is still as fresh as one call's latency (plus any wait for the rate limit).
 */
import { type Rate, TokenBucket } from "./tokenBucket";

export interface CoalescerOptions {
  /** Most keys in one call (the API's limit). */
  readonly maxBatch: number;
  /**
   * A token bucket, as AWS throttles: at most `burst` calls at once after a quiet spell, then
   * `perSecond` a second. Default: no limit.
   */
  readonly rate?: Rate;
  /** Calls in flight at once. Default 1. */
  readonly maxInFlight?: number;
  /** How long a key waits for others before a call starts with it (when none is in flight). Default 0. */
  readonly gatherMs?: number;
}

export class Coalescer<K, V> {
  /** Keys waiting for a call, oldest first, with when each was asked. */
  private queue: { key: K; at: number; resolve: (v: V | undefined) => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;
  private readonly bucket?: TokenBucket;
  private timer: NodeJS.Timeout | undefined;
  /** Batch calls made. */
  public calls = 0;

  /**
   * `fetch` answers a batch; a key whose value is an `Error` (one bad record) rejects that key's
   * reads only, the other keys of the call resolve.
   */
  constructor(
    private readonly fetch: (keys: K[]) => Promise<ReadonlyMap<K, V | Error>>,
    private readonly opts: CoalescerOptions,
  ) {
    if (opts.rate) this.bucket = new TokenBucket(opts.rate);
  }

  /** The value of `key` as the next batch call reads it (undefined when the call finds none). */
  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, at: Date.now(), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer || this.queue.length === 0 || this.inFlight >= (this.opts.maxInFlight ?? 1)) return;
    const now = Date.now();
    const gathered = this.queue.length >= this.opts.maxBatch ? now : this.queue[0].at + (this.opts.gatherMs ?? 0);
    const wait = Math.max(this.bucket?.msUntilToken() ?? 0, Math.ceil(gathered - now));
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.inFlight++;
    this.bucket?.consume();
    this.calls++;
    const keys = [...new Set(batch.map((q) => q.key))];
    this.fetch(keys)
      .then(
        (found) => {
          for (const q of batch) {
            const v = found.get(q.key);
            if (v instanceof Error) q.reject(v);
            else q.resolve(v);
          }
        },
        (err: unknown) => {
          for (const q of batch) q.reject(err);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.pump();
      });
  }
}
