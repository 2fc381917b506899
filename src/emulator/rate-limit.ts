import type { RateLimitRule } from './options.js';

/**
 * A token bucket refilled continuously: `limit` tokens per `windowMs`, at most `limit` stored.
 * `take()` answers 0 when a token was taken, else the milliseconds until one is available.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly rule: RateLimitRule,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rule.limit;
    this.updatedAt = now();
  }

  /** When the bucket last answered; a bucket idle for a whole window is full again. */
  get lastUsedAt(): number {
    return this.updatedAt;
  }

  take(): number {
    const now = this.now();
    const perMs = this.rule.limit / this.rule.windowMs;
    this.tokens = Math.min(this.rule.limit, this.tokens + (now - this.updatedAt) * perMs);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / perMs);
  }
}

/** One bucket per key (an email), dropped once it is full again so memory stays bounded. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(readonly rule: RateLimitRule) {}

  take(key: string): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.rule);
      this.buckets.set(key, bucket);
    }
    const wait = bucket.take();
    if (this.buckets.size > 10_000) this.sweep();
    return wait;
  }

  private sweep(): void {
    const cutoff = Date.now() - this.rule.windowMs;
    for (const [key, bucket] of this.buckets) {
      if (bucket.lastUsedAt < cutoff) this.buckets.delete(key);
    }
  }
}
