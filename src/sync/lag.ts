/** What the engine exposes of its lag recorder. */
export interface MirrorLag {
  /** Samples recorded since the last drain (a Prometheus histogram observes them at scrape time). */
  drain(): number[];
  /** p50 and p99 in seconds of the recent samples (null before the first one). */
  percentiles(): { p50: number | null; p99: number | null; samples: number };
}

/**
 * Mirror lag of live changes synced by this process: seconds from when the user was queued to when
 * WorkOS confirmed the write. Recent samples give p50/p99; undrained ones feed a Prometheus histogram.
 */
export class LagRecorder implements MirrorLag {
  private readonly recent: number[] = [];
  private pending: number[] = [];

  constructor(
    private readonly keepRecent = 1000,
    private readonly keepPending = 100_000,
  ) {}

  record(seconds: number): void {
    const value = Math.max(0, seconds);
    this.recent.push(value);
    if (this.recent.length > this.keepRecent) this.recent.shift();
    // Bounded: a process that nobody scrapes keeps only the newest samples.
    if (this.pending.length >= this.keepPending) this.pending.shift();
    this.pending.push(value);
  }

  /** Samples recorded since the last drain (for a histogram's observe()). */
  drain(): number[] {
    const drained = this.pending;
    this.pending = [];
    return drained;
  }

  /** p50 and p99 of the recent samples, null before the first one. */
  percentiles(): { p50: number | null; p99: number | null; samples: number } {
    if (this.recent.length === 0) return { p50: null, p99: null, samples: 0 };
    const sorted = [...this.recent].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? null;
    return { p50: at(0.5), p99: at(0.99), samples: sorted.length };
  }
}
