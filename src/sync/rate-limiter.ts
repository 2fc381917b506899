import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One token bucket for every WorkOS write the leader makes, with AIMD control: a 429 pauses
 * everyone until `Retry-After` and multiplies the rate by 0.85; each success adds a little back, up
 * to the configured ceiling. That finds an unannounced limit without halving into the ground.
 */
export class AdaptiveRateLimiter {
  private rate: number;
  private tokens = 1;
  private updatedAt = Date.now();
  private pausedUntil = 0;
  rateLimitedCount = 0;

  constructor(
    private readonly ceiling: number,
    private readonly floor = 1,
  ) {
    this.rate = ceiling;
  }

  get currentRate(): number {
    return this.rate;
  }

  /** Waits for a token (or until `signal` aborts: then it rejects). */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = Date.now();
      if (now < this.pausedUntil) {
        await sleep(this.pausedUntil - now, undefined, { signal });
        continue;
      }
      this.tokens = Math.min(
        Math.max(1, this.rate / 10),
        this.tokens + ((now - this.updatedAt) * this.rate) / 1000,
      );
      this.updatedAt = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.tokens) * 1000) / this.rate), undefined, { signal });
    }
  }

  onSuccess(): void {
    // About +1 request/s for every second of clean answers at the current rate.
    this.rate = Math.min(this.ceiling, this.rate + 1 / this.rate);
  }

  onRateLimited(retryAfterMs: number | null): void {
    this.rateLimitedCount += 1;
    this.rate = Math.max(this.floor, this.rate * 0.85);
    this.tokens = 0;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + (retryAfterMs ?? 1000));
  }
}
