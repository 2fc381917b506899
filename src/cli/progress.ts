// The import's progress display: a bar redrawn in place when stderr is a terminal, periodic plain
// lines when it is piped or logged. Pure rendering plus a small rate estimator; no I/O of its own.
import { byReason, count, duration, percent, sum } from './format.js';

export interface ProgressSample {
  done: number;
  total: number;
  /** 429 answers WorkOS gave this process's worker. */
  rateLimited: number;
  /** Dead letters by reason (the whole outbox). */
  failed: Record<string, number>;
  /**
   * Users synced but held for a re-check after a call that got no answer (it may still land), and the
   * seconds until the last of those re-checks is due: what the end of an import waits for.
   */
  recheck?: { users: number; seconds: number } | null;
}

/** Users per second over a sliding window of samples, and the ETA it gives. */
export class RateEstimator {
  private readonly samples: { at: number; done: number }[] = [];

  constructor(private readonly windowMs = 15_000) {}

  add(done: number, at = Date.now()): void {
    this.samples.push({ at, done });
    while (this.samples.length > 2 && (this.samples[0]?.at ?? at) < at - this.windowMs) this.samples.shift();
  }

  /** Users per second, or null before two samples a moment apart. */
  get rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 500) return null;
    return ((last.done - first.done) * 1000) / (last.at - first.at);
  }

  eta(remaining: number): number | null {
    const rate = this.rate;
    if (remaining <= 0) return 0;
    if (rate === null || rate <= 0) return null;
    return remaining / rate;
  }
}

function details(sample: ProgressSample, rate: number | null, eta: number | null): string[] {
  const failed = sum(sample.failed);
  return [
    rate === null ? '-/s' : `${rate.toFixed(1)}/s`,
    `ETA ${eta === null ? '?' : duration(eta)}`,
    `429s ${count(sample.rateLimited)}`,
    failed === 0 ? 'failed 0' : `failed ${count(failed)} (${byReason(sample.failed)})`,
    ...(sample.recheck && sample.recheck.users > 0
      ? [
          `waiting ${duration(sample.recheck.seconds)} to re-check ${count(sample.recheck.users)} after unanswered calls`,
        ]
      : []),
  ];
}

/** One terminal line: `[#####-----] 1,234/5,000 24.7% | 44.8/s | ETA 1m 24s | 429s 3 | failed 0`. */
export function renderBar(
  sample: ProgressSample,
  rate: number | null,
  eta: number | null,
  columns = 80,
): string {
  const width = 24;
  const ratio = sample.total > 0 ? Math.min(1, sample.done / sample.total) : 1;
  const filled = Math.round(ratio * width);
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
  const line = [
    `${bar} ${count(sample.done)}/${count(sample.total)} ${percent(sample.done, sample.total)}`,
    ...details(sample, rate, eta),
  ].join(' | ');
  // Never wrap: a wrapped line cannot be redrawn in place.
  return line.length >= columns ? `${line.slice(0, Math.max(10, columns - 2))}…` : line;
}

/** One log line: `import: 1,234/5,000 (24.7%), 44.8/s, ETA 1m 24s, 429s 3, failed 0`. */
export function renderLine(sample: ProgressSample, rate: number | null, eta: number | null): string {
  return `import: ${count(sample.done)}/${count(sample.total)} (${percent(sample.done, sample.total)}), ${details(sample, rate, eta).join(', ')}`;
}

export interface ProgressDisplay {
  update(sample: ProgressSample): void;
  /** Prints the last state for good (newline after the bar). */
  finish(sample: ProgressSample): void;
}

export function createProgressDisplay(options: {
  write: (text: string) => void;
  tty: boolean;
  columns?: number | undefined;
  /** Plain-line interval when not a TTY. */
  lineIntervalMs?: number;
}): ProgressDisplay {
  const estimator = new RateEstimator();
  // The rate counts from now, not from the first poll: a short import still gets a figure.
  estimator.add(0);
  let lastLineAt = Date.now();
  const interval = options.lineIntervalMs ?? 10_000;
  const figures = (sample: ProgressSample) => {
    estimator.add(sample.done);
    return [estimator.rate, estimator.eta(sample.total - sample.done)] as const;
  };
  return {
    update(sample) {
      const [rate, eta] = figures(sample);
      if (options.tty) {
        options.write(`\r\x1b[2K${renderBar(sample, rate, eta, options.columns ?? 80)}`);
      } else if (Date.now() - lastLineAt >= interval) {
        lastLineAt = Date.now();
        options.write(`${renderLine(sample, rate, eta)}\n`);
      }
    },
    finish(sample) {
      const [rate, eta] = figures(sample);
      if (options.tty) options.write(`\r\x1b[2K${renderBar(sample, rate, eta, options.columns ?? 80)}\n`);
      else options.write(`${renderLine(sample, rate, eta)}\n`);
    },
  };
}
