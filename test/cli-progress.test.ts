// The import's progress display, as pure rendering (the subprocess tests cover the piped mode).
import { describe, expect, it } from 'vitest';
import { about, duration, maskKey, maskUrl } from '../src/cli/format.js';
import { createProgressDisplay, RateEstimator, renderBar, renderLine } from '../src/cli/progress.js';

const sample = { done: 1234, total: 5000, rateLimited: 3, failed: { invalid_email: 2, missing_email: 1 } };

describe('progress rendering', () => {
  it('a terminal bar with done/total, rate, ETA, 429s and failures by reason', () => {
    const line = renderBar(sample, 44.8, 84, 200);
    expect(line).toMatch(/^\[█{6}░{18}\] 1,234\/5,000 24\.7% \| 44\.8\/s \| ETA 1m 24s \| 429s 3 \| /);
    expect(line).toContain('failed 3 (invalid_email 2, missing_email 1)');
  });

  it('never wraps: cut to the terminal width', () => {
    expect(renderBar(sample, 44.8, 84, 60).length).toBeLessThan(60);
  });

  it('a plain line for logs', () => {
    expect(renderLine({ ...sample, failed: {} }, null, null)).toBe(
      'import: 1,234/5,000 (24.7%), -/s, ETA ?, 429s 3, failed 0',
    );
  });

  it('says what the end of an import waits for: re-checks after unanswered calls', () => {
    const waiting = { ...sample, failed: {}, recheck: { users: 9, seconds: 54 } };
    expect(renderLine(waiting, null, null)).toBe(
      'import: 1,234/5,000 (24.7%), -/s, ETA ?, 429s 3, failed 0, waiting 54s to re-check 9 after unanswered calls',
    );
    expect(renderBar(waiting, null, null, 200)).toContain(
      '| waiting 54s to re-check 9 after unanswered calls',
    );
  });

  it('rate over a sliding window, and the ETA it gives', () => {
    const estimator = new RateEstimator(10_000);
    estimator.add(0, 0);
    expect(estimator.rate).toBeNull();
    estimator.add(100, 2_000);
    expect(estimator.rate).toBe(50);
    expect(estimator.eta(500)).toBe(10);
    // Older samples leave the window: the rate follows a slowdown.
    estimator.add(110, 20_000);
    estimator.add(120, 21_000);
    expect(estimator.rate).toBeCloseTo(10);
    expect(estimator.eta(0)).toBe(0);
  });

  it('piped: a line per interval and a last one; a terminal: redrawn in place', () => {
    const piped: string[] = [];
    const display = createProgressDisplay({
      write: (t) => piped.push(t),
      tty: false,
      lineIntervalMs: 60_000,
    });
    display.update(sample);
    display.finish(sample);
    expect(piped).toHaveLength(1);
    expect(piped[0]).toMatch(/^import: .*\n$/);

    const tty: string[] = [];
    const bar = createProgressDisplay({ write: (t) => tty.push(t), tty: true, columns: 120 });
    bar.update(sample);
    bar.finish(sample);
    expect(tty).toHaveLength(2);
    for (const text of tty) expect(text.startsWith('\r\x1b[2K[')).toBe(true);
    expect(tty[1]?.endsWith('\n')).toBe(true);
  });

  it('never shows a whole key or a database password', () => {
    expect(maskKey('sk_test_a1b2c3d4e5f6g7h8')).toBe('sk_...g7h8');
    expect(maskKey('sk_short')).toBe('sk_...');
    expect(maskUrl('postgres://app:hunter2@db:5432/app')).toBe('postgres://app:***@db:5432/app');
  });

  it('durations', () => {
    expect(duration(0.2)).toBe('<1s');
    expect(duration(45)).toBe('45s');
    expect(duration(200)).toBe('3m 20s');
    expect(duration(7500)).toBe('2h 05m');
    expect(about(0.5)).toBe('under a second');
    expect(about(20_000)).toBe('about 5h 33m');
  });
});
