/**
 * A client-side token bucket, shaped like AWS's own API throttling (ELB: "Describe* ... a bucket
 * of 40 tokens refilled at 10 a second", per account and region): `burst` calls at once after a
 * quiet spell, then `perSecond`. Callers reserve a token and wait their turn, in order.
 */
export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    readonly rate: Rate,
    private readonly clock: () => number = Date.now,
    /** Waits that many milliseconds (tests pass one that moves `clock`). */
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    this.tokens = rate.burst;
    this.refilledAt = clock();
  }

  private refill(): void {
    const now = this.clock();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.rate.perSecond);
    this.refilledAt = now;
  }

  /** Milliseconds until a token is free (0 when one is). */
  msUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000);
  }

  /** Takes a token now (the caller checked {@link msUntilToken}). */
  consume(): void {
    this.refill();
    this.tokens -= 1;
  }

  /** Reserves a token and resolves when it is the caller's turn. */
  async take(): Promise<void> {
    this.refill();
    this.tokens -= 1;
    if (this.tokens < 0) await this.sleep(Math.ceil((-this.tokens / this.rate.perSecond) * 1000));
  }
}
