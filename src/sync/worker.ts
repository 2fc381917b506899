import { createHash, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkOS } from '@workos-inc/node';
import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { query } from '../core/db.js';
import { WorkosMigrateError } from '../core/errors.js';
import { installedState } from '../drizzle/sql.js';
import { classifyWorkosError, type WorkosCallError } from '../workos/client.js';
import { LagRecorder } from './lag.js';
import { acquireLeadership, releaseLeadership } from './leader.js';
import {
  type ClaimedRow,
  claim,
  complete,
  deadLetter,
  holdDeletes,
  release,
  retryLater,
  scheduleVerification,
} from './outbox.js';
import { AdaptiveRateLimiter } from './rate-limiter.js';
import { CallRefused, Reconciler, saveAndComplete, saveSyncState } from './reconciler.js';

/** The WorkOS environment a config talks to: the client id, else a fingerprint of the key. */
export function environmentOf(config: ResolvedConfig): string {
  if (config.workos.clientId) return config.workos.clientId;
  return `key:${createHash('sha256').update(config.workos.apiKey).digest('hex').slice(0, 12)}`;
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
  private stopped: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  /** Failures of writes that had no answer: only those may still land in WorkOS later. */
  private readonly unansweredWrites = new WeakSet<WorkosCallError>();
  private loops: Promise<void>[] = [];
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
    this.stopped = new Promise((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
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
    while (this.running) {
      try {
        const until = await acquireLeadership(this.config.db, this.id, leaderLeaseMs);
        // A worker that cannot renew stops issuing calls at once (isLeader turns false).
        this.leaderUntil = until ?? 0;
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
    while (this.running) {
      let claimed = 0;
      if (this.isLeader && this.inFlight.size < concurrency) {
        try {
          const rows = await claim(this.config.db, concurrency - this.inFlight.size, leaseMs);
          claimed = rows.length;
          for (const row of rows) {
            const task = this.process(row).finally(() => this.inFlight.delete(task));
            this.inFlight.add(task);
          }
        } catch (error) {
          this.config.logger.warn(
            { err: errorSummary(error) },
            'workos-migrate: claiming outbox rows failed',
          );
        }
      }
      if (claimed === 0 || this.inFlight.size >= concurrency) {
        const wait = this.inFlight.size >= concurrency ? Promise.race([...this.inFlight]) : sleep(pollMs);
        await Promise.race([wait, this.stopped]);
      }
    }
  }

  /** Every WorkOS call: only while leading, through the rate limiter, counted. */
  private async call<T>(write: boolean, fn: () => Promise<T>): Promise<T> {
    if (!this.isLeader) throw new CallRefused('not the leader');
    if (write)
      await this.limiter.acquire(this.abort.signal).catch(() => {
        throw new CallRefused('worker stopping');
      });
    if (!this.isLeader) throw new CallRefused('lost the leader lease');
    try {
      const result = await fn();
      if (write) {
        this.limiter.onSuccess();
        this.counters.writes += 1;
      }
      return result;
    } catch (error) {
      const failure = classifyWorkosError(error);
      if (write && failure.kind === 'no_answer') this.unansweredWrites.add(failure);
      if (failure.kind === 'rate_limited') {
        this.counters.rateLimited += 1;
        this.limiter.onRateLimited(failure.retryAfterMs);
      }
      throw failure;
    }
  }

  private backoff(attempts: number): number {
    const base = this.config.worker.retryBaseMs * 2 ** Math.max(0, attempts - 1);
    return Math.min(this.config.worker.retryMaxMs, base) * (0.5 + Math.random());
  }

  private async process(row: ClaimedRow): Promise<void> {
    const { db, logger } = this.config;
    const reconciler = this.reconciler as Reconciler;
    let result: Awaited<ReturnType<Reconciler['run']>>;
    try {
      result = await reconciler.run(row);
    } catch (error) {
      // Lost leadership or stopping mid-call: give the row back untouched.
      if (error instanceof CallRefused) {
        await release(db, row).catch(() => undefined);
        return;
      }
      logger.error(
        { userId: row.userId, err: errorSummary(error) },
        'workos-migrate: sync failed unexpectedly',
      );
      await retryLater(db, row, this.backoff(row.attempts), errorSummary(error), false).catch(
        () => undefined,
      );
      return;
    }
    const { outcome } = result;
    this.counters.processed += 1;
    try {
      switch (outcome.kind) {
        case 'done':
          if (row.uncertain) {
            // An earlier attempt may still land in WorkOS: record what we know and look again once it
            // no longer can. Also after a verification pass whose own write had no answer: that write
            // can land late too (test/engine-guards: "the verification pass that stalls too").
            await db.transaction(async (tx) => {
              if (result.next) await saveSyncState(tx, this.config, result.next, this.environment);
              await scheduleVerification(tx, row, this.config.worker.leaseMs * 2);
            });
          } else if (result.next) {
            // One statement: state, link and outbox row together (a newer version is released, bit kept).
            await saveAndComplete(db, this.config, result.next, this.environment, row);
          } else {
            await complete(db, row, outcome.passwordSent);
          }
          if (row.priority === 0) this.mirrorLag.record((Date.now() - Date.parse(row.enqueuedAt)) / 1000);
          return;
        case 'hold_deletes': {
          const held = await holdDeletes(db);
          logger.warn(
            { held },
            'workos-migrate: mass delete held; run `workos-migrate confirm-deletes` to release it',
          );
          return;
        }
        case 'dead':
          this.counters.deadLettered += 1;
          logger.warn({ userId: row.userId, reason: outcome.reason }, 'workos-migrate: user dead-lettered');
          await deadLetter(db, row, outcome.reason, outcome.detail);
          return;
        case 'retry':
          await this.retry(row, outcome.reason, outcome.detail, outcome.error);
          return;
      }
    } catch (error) {
      logger.error(
        { userId: row.userId, err: errorSummary(error) },
        'workos-migrate: recording a sync result failed',
      );
      await release(db, row).catch(() => undefined);
    }
  }

  private async retry(
    row: ClaimedRow,
    reason: string,
    detail: string,
    error?: WorkosCallError,
  ): Promise<void> {
    const { db, logger, worker } = this.config;
    if (error?.kind === 'auth') {
      this.fatal = new WorkosMigrateError(
        'workos_auth',
        `workos-migrate: WorkOS refused the API key (${error.status}); the worker stopped. Check WORKOS_API_KEY and its environment`,
      );
      logger.error({ status: error.status }, this.fatal.message);
      await release(db, row);
      void this.stop();
      return;
    }
    if (error?.kind === 'rate_limited') {
      // Not the user's fault: the attempt does not count.
      await release(db, row);
      return;
    }
    // An outage is not the user's fault: only failures of the user's own (a conflict that does not
    // pass) count towards dead-lettering.
    if (!error?.transient && row.attempts >= worker.maxAttempts) {
      this.counters.deadLettered += 1;
      await deadLetter(db, row, 'too_many_attempts', `${reason}: ${detail}`);
      return;
    }
    this.counters.retried += 1;
    logger.debug(
      { userId: row.userId, reason, attempts: row.attempts },
      'workos-migrate: sync will be retried',
    );
    await retryLater(
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

/** A log-safe summary of an error: its kind and message, never request bodies. */
function errorSummary(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
