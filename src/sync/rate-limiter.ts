import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One token bucket for every WorkOS write the leader makes, with AIMD control: a 429 pauses
 * everyone until `Retry-After` and multiplies the rate by 0.85; clean answers add it back linearly,
 * up to the configured ceiling. That finds an unannounced limit without halving into the ground.
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

  /** How long a 429's `Retry-After` still pauses every write (0 when not paused). */
  get pausedForMs(): number {
    return Math.max(0, this.pausedUntil - Date.now());
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
    // Each second of clean answers adds 5% of the ceiling: back to full speed within ~20 s of a
    // cut, and a sawtooth of about 0.9x just under an unannounced limit.
    this.rate = Math.min(this.ceiling, this.rate + this.ceiling / (20 * this.rate));
  }

  onRateLimited(retryAfterMs: number | null): void {
    this.rateLimitedCount += 1;
    // Requests in flight when the limit hit all come back 429: that is one signal, not N, so the
    // rate is lowered once per pause.
    if (Date.now() >= this.pausedUntil) this.rate = Math.max(this.floor, this.rate * 0.85);
    this.tokens = 0;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + (retryAfterMs ?? 1000));
  }
}
