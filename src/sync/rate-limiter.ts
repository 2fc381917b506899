import { setTimeout as sleep } from 'node:timers/promises';

/** The window WorkOS documents its write limit over (500 per 10 s): no such window holds more than 10 s of the ceiling. */
const WINDOW_MS = 10_000;
/** Where the rate starts, as a share of the ceiling: safe under the limit while nothing is known yet. */
const START_SHARE = 0.9;

/**
 * One token bucket for every WorkOS write the leader makes, with AIMD control: it starts at 90% of
 * the ceiling and probes upward on clean answers (5% of the ceiling per second of them) to the
 * ceiling; a 429 pauses everyone until `Retry-After` and multiplies the rate by 0.85. That reaches a
 * documented limit within seconds, finds an unannounced one without halving into the ground, and no
 * 10-second window ever holds more than ten seconds of the ceiling (bursts included). Writes for
 * live changes (priority 0) take tokens before waiting backfill writes.
 */
export class AdaptiveRateLimiter {
  private rate: number;
  private tokens = 1;
  private updatedAt = Date.now();
  private pausedUntil = 0;
  /** When each of the last `sent.length` writes went out (a ring): the oldest bounds the 10 s window. */
  private readonly sent: number[];
  private sentAt = 0;
  private liveWaiting = 0;
  rateLimitedCount = 0;

  constructor(
    private readonly ceiling: number,
    private readonly floor = 1,
  ) {
    this.rate = Math.max(floor, ceiling * START_SHARE);
    // Above 10,000/s (benchmarks, no documented limit) the ring would cost more than it bounds.
    const windowWrites = Math.floor((ceiling * WINDOW_MS) / 1000);
    this.sent = windowWrites <= 100_000 ? new Array<number>(Math.max(1, windowWrites)).fill(0) : [];
  }

  get currentRate(): number {
    return this.rate;
  }

  /** How long a 429's `Retry-After` still pauses every write (0 when not paused). */
  get pausedForMs(): number {
    return Math.max(0, this.pausedUntil - Date.now());
  }

  /**
   * Waits for a token (or until `signal` aborts: then it rejects). `priority` is the outbox row's:
   * while a live write (0) waits, backfill writes (> 0) leave the tokens to it.
   */
  async acquire(signal?: AbortSignal, priority = 0): Promise<void> {
    const live = priority === 0;
    if (live) this.liveWaiting += 1;
    try {
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
        const windowFreeAt = (this.sent[this.sentAt] ?? 0) + WINDOW_MS;
        const yieldToLive = !live && this.liveWaiting > 0;
        if (this.tokens >= 1 && windowFreeAt <= now && !yieldToLive) {
          this.tokens -= 1;
          if (this.sent.length > 0) {
            this.sent[this.sentAt] = now;
            this.sentAt = (this.sentAt + 1) % this.sent.length;
          }
          return;
        }
        const tokenIn = Math.ceil(((yieldToLive ? 1 : Math.max(0, 1 - this.tokens)) * 1000) / this.rate);
        await sleep(Math.max(1, tokenIn, windowFreeAt - now), undefined, { signal });
      }
    } finally {
      if (live) this.liveWaiting -= 1;
    }
  }

  onSuccess(): void {
    // Each second of clean answers adds 5% of the ceiling: from the start to full speed in ~2 s, back
    // within ~20 s of a cut, and a sawtooth of about 0.9x just under an unannounced limit.
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
