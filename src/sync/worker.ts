import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkOS } from '@workos-inc/node';
import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { query } from '../core/db.js';
import { databaseError, WorkosMigrateError } from '../core/errors.js';
import { installedState } from '../drizzle/sql.js';
import { classifyWorkosError, type WorkosCallError } from '../workos/client.js';
import { LagRecorder } from './lag.js';
import { acquireLeadership, foldCounts, releaseLeadership } from './leader.js';
import {
  type ClaimedRow,
  claim,
  complete,
  deadLetter,
  extendLease,
  finishRowSql,
  hasDueRows,
  holdDeletes,
  release,
  requeueForVerification,
  retryLater,
  verifyRowSql,
} from './outbox.js';
import { AdaptiveRateLimiter } from './rate-limiter.js';
import { CallRefused, type Preloaded, Reconciler, saveAndComplete } from './reconciler.js';

/** The WorkOS environment a config talks to: the client id, else a fingerprint of the key. */
export function environmentOf(config: ResolvedConfig): string {
  if (config.workos.clientId) return config.workos.clientId;
  return `key:${createHash('sha256').update(config.workos.apiKey).digest('hex').slice(0, 12)}`;
}

/** The client timeout of every WorkOS call: a third of the row lease, so a call ends inside it. */
export function callTimeoutMs(leaseMs: number): number {
  return Math.floor(leaseMs / 3);
}

/** Empty polls at `pollMs` before an idle worker starts backing off (1 s at the default 200 ms). */
const IDLE_POLLS_BEFORE_BACKOFF = 5;
/** An idle worker polls at most every this many `pollMs` (1 s at the default 200 ms). */
const IDLE_BACKOFF_FACTOR = 5;

/** How often the leader compacts status()'s kept counts. */
const FOLD_COUNTS_EVERY_MS = 5_000;

/** The row's lease ran out (or another worker took it): the sync sends nothing more. */
class LeaseLost extends CallRefused {}

/** One sync in flight: its row and what it sent, for the calls it makes (found through AsyncLocalStorage). */
interface Task {
  row: ClaimedRow;
  /** A write was sent (answered or not): if the lease turns out lost, the user is verified again. */
  writesSent: boolean;
  /** A write had no answer: it may still land. */
  unanswered: boolean;
}

export interface WorkerCounters {
  processed: number;
  writes: number;
  rateLimited: number;
  deadLettered: number;
  retried: number;
}

export class Worker {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly limiter: AdaptiveRateLimiter;
  /** Live changes' queue-to-confirmed lag (metrics, dashboard). */
  readonly mirrorLag = new LagRecorder();
  readonly counters: WorkerCounters = {
    processed: 0,
    writes: 0,
    rateLimited: 0,
    deadLettered: 0,
    retried: 0,
  };
  private running = false;
  private leaderUntil = 0;
  private abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** User ids with a sync in flight here: never claimed again until it ends, even past its lease. */
  private readonly inFlightIds = new Set<string>();
  private readonly tasks = new AsyncLocalStorage<Task>();
  /** Failures of writes that had no answer: only those may still land in WorkOS later. */
  private readonly unansweredWrites = new WeakSet<WorkosCallError>();
  private loops: Promise<void>[] = [];
  /** Consecutive polls that found nothing to claim (the idle backoff). */
  private idlePolls = 0;
  /** Ends the claim loop's current sleep, if it sleeps. */
  private wakeSleeper: (() => void) | null = null;
  private reconciler: Reconciler | null = null;
  private environment: string;
  /** Set when WorkOS refused the API key: the worker stops and says why. */
  fatal: Error | null = null;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly workos: WorkOS,
  ) {
    this.limiter = new AdaptiveRateLimiter(config.worker.ratePerSecond);
    this.environment = environmentOf(config);
  }

  get isRunning(): boolean {
    return this.running;
  }

  get isLeader(): boolean {
    return this.running && Date.now() < this.leaderUntil;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { db, users } = this.config;
    const installed = await installedState(db, users);
    if (installed.state !== 'current') {
      throw new WorkosMigrateError(
        'not_installed',
        `workos-migrate: ${installed.detail}; run \`workos-migrate install\` (or apply installSql() in a migration) before starting the worker`,
      );
    }
    await this.pinEnvironment();
    this.reconciler = new Reconciler({
      config: this.config,
      workos: this.workos,
      environment: this.environment,
      call: (write, fn) => this.call(write, fn),
    });
    this.running = true;
    this.fatal = null;
    this.abort = new AbortController();
    // One listener per start: a listener per idle pass would pile up for the life of the worker.
    const signal = this.abort.signal;
    // Every in-flight row may wait on the rate limiter with this signal at once: not a leak.
    setMaxListeners(this.config.worker.concurrency * 2 + 10, signal);
    // Take the lease before the claim loop's first pass: otherwise that pass found no leader and
    // slept a poll interval, delaying the first write of every start by pollMs or more.
    this.leaderUntil =
      (await acquireLeadership(this.config.db, this.id, this.config.worker.leaderLeaseMs).catch(
        () => null,
      )) ?? 0;
    this.loops = [this.leadershipLoop(), this.claimLoop()];
    this.config.logger.info(
      { worker: this.id, environment: this.environment },
      'workos-migrate worker started',
    );
  }

  /** Finishes in-flight work, releases leases and the leader row. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.wakeSleeper?.();
    await Promise.allSettled(this.loops);
    await Promise.allSettled([...this.inFlight]);
    this.leaderUntil = 0;
    await releaseLeadership(this.config.db, this.id).catch(() => undefined);
    this.config.logger.info({ worker: this.id, ...this.counters }, 'workos-migrate worker stopped');
  }

  /** Refuses to run against a WorkOS environment other than the one first synced to. */
  private async pinEnvironment(): Promise<void> {
    const { db } = this.config;
    await db.execute(
      sql`INSERT INTO workos_migrate.settings (key, value) VALUES ('workos_environment', ${JSON.stringify(this.environment)}::jsonb)
          ON CONFLICT (key) DO NOTHING`,
    );
    const rows = await query<{ value: string }>(
      db,
      sql`SELECT value #>> '{}' AS value FROM workos_migrate.settings WHERE key = 'workos_environment'`,
    );
    const pinned = rows[0]?.value;
    if (pinned !== this.environment) {
      throw new WorkosMigrateError(
        'environment_mismatch',
        `workos-migrate: this database was synced to WorkOS environment ${pinned}, but the worker is configured for ${this.environment}; refusing to mix environments`,
      );
    }
  }

  private async leadershipLoop(): Promise<void> {
    const { leaderLeaseMs } = this.config.worker;
    let foldedAt = 0;
    while (this.running) {
      try {
        const until = await acquireLeadership(this.config.db, this.id, leaderLeaseMs);
        // A worker that cannot renew stops issuing calls at once (isLeader turns false).
        this.leaderUntil = until ?? 0;
        // The leader keeps status()'s counts compact (one fold at a time across instances anyway).
        if (until !== null && Date.now() - foldedAt >= FOLD_COUNTS_EVERY_MS) {
          foldedAt = Date.now();
          await foldCounts(this.config.db).catch((error: unknown) =>
            this.config.logger.warn(
              { err: errorSummary(error) },
              'workos-migrate: folding the counts failed',
            ),
          );
        }
      } catch (error) {
        this.leaderUntil = 0;
        this.config.logger.warn({ err: errorSummary(error) }, 'workos-migrate: leader lease renewal failed');
      }
      await sleep(Math.max(50, leaderLeaseMs / 3), undefined, { signal: this.abort.signal }).catch(
        () => undefined,
      );
    }
  }

  private async claimLoop(): Promise<void> {
    const { concurrency, leaseMs, pollMs } = this.config.worker;
    // With a backlog (the last claim got all it asked for), claim again once half the slots are free,
    // not at each free slot: a claim per user (then a read per user, as a claim of one cannot share
    // its reads) cost the worker a third of its CPU. Without one, any free slot claims at once, so a
    // change never waits behind slow syncs while slots are free.
    const refillAt = Math.floor(concurrency / 2);
    let backlog = false;
    const full = () => this.inFlight.size >= concurrency || (backlog && this.inFlight.size > refillAt);
    while (this.running) {
      let claimed = 0;
      // While a 429 pauses every write, a claimed row would only wait out its lease in the limiter.
      const paused = this.limiter.pausedForMs > 0;
      if (this.isLeader && !full() && !paused) {
        try {
          // Idle (the last claim found nothing): a read on the claim index first; the claim (an UPDATE,
          // with its row locks and count trigger) runs only when something is due.
          if (this.idlePolls > 0 && !(await hasDueRows(this.config.db))) {
            this.idlePolls += 1;
            await this.idleSleep(pollMs);
            continue;
          }
          const wanted = concurrency - this.inFlight.size;
          const rows = await claim(this.config.db, wanted, leaseMs, this.inFlightIds);
          claimed = rows.length;
          backlog = claimed === wanted;
          const preloaded = this.preload(rows);
          for (const row of rows) {
            this.inFlightIds.add(row.userId);
            const task = this.process(row, preloaded).finally(() => {
              this.inFlight.delete(task);
              this.inFlightIds.delete(row.userId);
            });
            this.inFlight.add(task);
          }
        } catch (error) {
          this.config.logger.warn(
            { err: errorSummary(error) },
            'workos-migrate: claiming outbox rows failed',
          );
        }
      }
      this.idlePolls = claimed > 0 || paused || !this.isLeader ? 0 : this.idlePolls + 1;
      // In-flight syncs all end (stop() waits for them), so racing them alone never hangs a stop.
      if (full()) await Promise.race([...this.inFlight]);
      else if (claimed === 0)
        await this.idleSleep(paused ? Math.min(this.limiter.pausedForMs, pollMs * 5) : pollMs);
    }
  }

  /**
   * The claim loop's wait: `pollMs` while there is work, then, after IDLE_POLLS_BEFORE_BACKOFF empty
   * polls, doubling up to IDLE_BACKOFF_FACTOR x `pollMs` (1 s by default). A change enqueued by this
   * process (`wake()`), new work found, or stop() ends it at once. One timer, no listener left behind
   * (racing a long-lived promise added a reaction to it at every poll, kept until the worker stopped).
   */
  private idleSleep(baseMs: number): Promise<void> {
    const backoff = Math.max(0, this.idlePolls - IDLE_POLLS_BEFORE_BACKOFF);
    const ms = Math.min(baseMs * 2 ** Math.min(backoff, 10), baseMs * IDLE_BACKOFF_FACTOR);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.wakeSleeper = null;
          resolve();
        },
        Math.max(ms, baseMs),
      );
      this.wakeSleeper = () => {
        clearTimeout(timer);
        this.wakeSleeper = null;
        resolve();
      };
    });
  }

  /** Something was enqueued here (e.g. `syncNow`): poll now, at the busy interval. */
  wake(): void {
    this.idlePolls = 0;
    this.wakeSleeper?.();
  }

  /**
   * Every WorkOS call: only while leading, through the rate limiter, counted, and only while the
   * row's lease lasts longer than the call can take (checked after the wait for a rate token).
   */
  private async call<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
    const task = this.tasks.getStore();
    if (!this.isLeader) throw new CallRefused('not the leader');
    if (write)
      await this.limiter.acquire(this.abort.signal, task?.row.priority ?? 0).catch(() => {
        throw new CallRefused('worker stopping');
      });
    if (!this.isLeader) throw new CallRefused('lost the leader lease');
    if (task) {
      await this.holdLease(task.row);
      if (write) task.writesSent = true;
    }
    try {
      const result = await fn();
      if (write) {
        this.limiter.onSuccess();
        this.counters.writes += 1;
      }
      return result;
    } catch (error) {
      const failure = classifyWorkosError(error);
      if (write && failure.kind === 'no_answer') {
        this.unansweredWrites.add(failure);
        if (task) task.unanswered = true;
      }
      if (failure.kind === 'rate_limited') {
        this.counters.rateLimited += 1;
        this.limiter.onRateLimited(failure.retryAfterMs);
      }
      throw failure;
    }
  }

  /**
   * A call may take up to its client timeout, so it may start only while more than that is left of
   * the lease: extended (by token) once less than two timeouts remain, refused once it has run out.
   */
  private async holdLease(row: ClaimedRow): Promise<void> {
    const { leaseMs } = this.config.worker;
    const timeout = callTimeoutMs(leaseMs);
    if (row.leaseDeadline <= Date.now()) throw new LeaseLost('the row lease expired');
    if (row.leaseDeadline - Date.now() < 2 * timeout) {
      if (!(await extendLease(this.config.db, row, leaseMs))) throw new LeaseLost('the row lease was lost');
    }
    if (row.leaseDeadline - Date.now() <= timeout) throw new LeaseLost('the row lease is about to expire');
  }

  private backoff(attempts: number): number {
    const base = this.config.worker.retryBaseMs * 2 ** Math.max(0, attempts - 1);
    return Math.min(this.config.worker.retryMaxMs, base) * (0.5 + Math.random());
  }

  /**
   * The starting reads of a claimed batch in two statements. If they fail (say, one row's id the SQL
   * cannot take), every sync reads for itself, so one poison row never stops the others.
   */
  private preload(rows: ClaimedRow[]): Promise<Map<string, Preloaded> | null> {
    if (rows.length < 2) return Promise.resolve(null);
    return (this.reconciler as Reconciler).preload(rows).catch((error: unknown) => {
      this.config.logger.debug(
        { err: errorSummary(error) },
        'workos-migrate: batch read failed; each row reads for itself',
      );
      return null;
    });
  }

  private async process(row: ClaimedRow, batch: Promise<Map<string, Preloaded> | null>): Promise<void> {
    const task: Task = { row, writesSent: false, unanswered: false };
    const preloaded = (await batch)?.get(row.userId);
    const held = await this.tasks.run(task, () => this.sync(row, preloaded));
    // Our write went out but the row is no longer ours: its holder synced from what it read, which
    // our write may have overwritten. Queue the user for a pass that re-reads WorkOS.
    if (!held && task.writesSent) {
      await requeueForVerification(this.config.db, row.userId, task.unanswered).catch((error) =>
        this.config.logger.error(
          { userId: row.userId, err: errorSummary(error) },
          'workos-migrate: queueing a verification after a lost lease failed',
        ),
      );
    }
  }

  /** A live change confirmed under our lease: its queue-to-confirmed lag, for metrics and the dashboard. */
  private recordLag(row: ClaimedRow): void {
    if (row.priority === 0 && !row.uncertain) this.mirrorLag.record((Date.now() - row.enqueuedAtMs) / 1000);
  }

  /** Runs one sync and records its end; answers whether the lease was still held when it did. */
  private async sync(row: ClaimedRow, preloaded: Preloaded | undefined): Promise<boolean> {
    const { db, logger } = this.config;
    const reconciler = this.reconciler as Reconciler;
    let result: Awaited<ReturnType<Reconciler['run']>>;
    try {
      result = await reconciler.run(row, preloaded);
    } catch (error) {
      // Lost leadership or the row lease, or stopping mid-call: give the row back untouched.
      if (error instanceof CallRefused) return release(db, row).catch(() => false);
      return this.failUnexpectedly(row, error, 'sync failed unexpectedly');
    }
    const { outcome } = result;
    this.counters.processed += 1;
    try {
      switch (outcome.kind) {
        case 'done': {
          // After an attempt that had no answer (also a verification pass whose own write had none:
          // test/engine-guards "the verification pass that stalls too"), that write can still land.
          const recheck = row.uncertain ? this.recheckAfterUnanswered(row) : undefined;
          if (result.next) {
            // One statement: state, link and outbox row together, only under our lease.
            const { held } = await saveAndComplete(
              db,
              this.config,
              result.next,
              this.environment,
              row,
              recheck,
            );
            if (held) this.recordLag(row);
            return held;
          }
          const held = await complete(
            db,
            recheck === undefined
              ? finishRowSql(row, outcome.passwordSent)
              : verifyRowSql(row, recheck.afterMs, recheck.strayMs),
          );
          if (held) this.recordLag(row);
          return held;
        }
        case 'hold_deletes': {
          const held = await holdDeletes(db);
          logger.warn(
            { held },
            'workos-migrate: mass delete held; run `workos-migrate confirm-deletes` to release it',
          );
          return true;
        }
        case 'dead':
          this.counters.deadLettered += 1;
          logger.warn({ userId: row.userId, reason: outcome.reason }, 'workos-migrate: user dead-lettered');
          return deadLetter(db, row, outcome.reason, outcome.detail);
        case 'retry':
          return this.retry(row, outcome.reason, outcome.detail, outcome.error);
      }
    } catch (error) {
      return this.failUnexpectedly(row, error, 'recording a sync result failed');
    }
  }

  /**
   * When to re-read WorkOS after a success that followed a write without an answer. Its client gave up
   * after `callTimeoutMs`, so a stray request normally lands within that: the first re-check comes one
   * timeout after this success (at least a timeout plus the retry's wait after the stray was sent), and
   * counts as pending work. A server may still apply it later, so the row stays for a last re-check at
   * 2 x lease (`strayMs`), background work an import does not wait for. When every write without an
   * answer was sent for this same row version, it carried what this pass just confirmed: its landing
   * changes nothing, and only the last re-check stays (for a newer change a stray could still undo).
   */
  private recheckAfterUnanswered(row: ClaimedRow): { afterMs: number; strayMs: number } {
    const { leaseMs } = this.config.worker;
    const strayMs = leaseMs * 2;
    return { afterMs: row.strayVersion === row.version ? strayMs : callTimeoutMs(leaseMs), strayMs };
  }

  /**
   * Anything but a WorkOS answer (a bug, a database error, a row the SQL cannot take) is an attempt
   * like any other: retried with backoff, dead-lettered `internal_error` after `maxAttempts`, so one
   * poison row never loops forever. What is stored and logged is the database's own message.
   */
  private async failUnexpectedly(row: ClaimedRow, error: unknown, what: string): Promise<boolean> {
    const { db, logger, worker } = this.config;
    const message = errorSummary(error);
    logger.error({ userId: row.userId, attempts: row.attempts, err: message }, `workos-migrate: ${what}`);
    const exhausted = row.attempts >= worker.maxAttempts;
    if (exhausted) this.counters.deadLettered += 1;
    const recorded = exhausted
      ? deadLetter(db, row, 'internal_error', `${what}: ${message}`)
      : retryLater(db, row, this.backoff(row.attempts), `${what}: ${message}`, false);
    return recorded.catch(() => false);
  }

  private async retry(
    row: ClaimedRow,
    reason: string,
    detail: string,
    error?: WorkosCallError,
  ): Promise<boolean> {
    const { db, logger, worker } = this.config;
    if (error?.kind === 'auth') {
      this.fatal = new WorkosMigrateError(
        'workos_auth',
        `workos-migrate: WorkOS refused the API key (${error.status}); the worker stopped. Check WORKOS_API_KEY and its environment`,
      );
      logger.error({ status: error.status }, this.fatal.message);
      const held = await release(db, row);
      void this.stop();
      return held;
    }
    if (error?.kind === 'rate_limited') {
      // Not the user's fault: the attempt does not count.
      return release(db, row);
    }
    // An outage is not the user's fault: only failures of the user's own (a conflict that does not
    // pass) count towards dead-lettering.
    if (!error?.transient && row.attempts >= worker.maxAttempts) {
      this.counters.deadLettered += 1;
      return deadLetter(db, row, 'too_many_attempts', `${reason}: ${detail}`);
    }
    this.counters.retried += 1;
    logger.debug(
      { userId: row.userId, reason, attempts: row.attempts },
      'workos-migrate: sync will be retried',
    );
    return retryLater(
      db,
      row,
      this.backoff(row.attempts),
      `${reason}: ${detail}`,
      // Only a write without an answer makes the row uncertain (re-read WorkOS, verify later); a read
      // without one changed nothing, and since a verification pass now re-verifies after an uncertain
      // attempt, counting dropped reads chained needless 2 x lease verification delays.
      error !== undefined && this.unansweredWrites.has(error),
    );
  }
}

/**
 * A log-safe summary of an error: its kind and message, never request bodies, SQL text or parameter
 * values: database failures go through core's one translation (`databaseError`).
 */
function errorSummary(error: unknown): string {
  // The engine's db already translates its failures (withDatabaseErrors); this covers any other path.
  const translated = databaseError(error);
  return translated instanceof Error ? `${translated.name}: ${translated.message}` : String(translated);
}
