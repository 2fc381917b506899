import type { WorkOS } from '@workos-inc/node';
import { sql } from 'drizzle-orm';
import type { ResolvedConfig, ShadowOptions } from '../core/config.js';
import { type DrizzleDatabase, query } from '../core/db.js';
import type { Logger } from '../core/logger.js';
import { classifyWorkosError } from '../workos/client.js';

/** What one check of an imported hash at WorkOS showed (a shadow check or a healed sign-in). */
export type FormatOutcome = 'match' | 'mismatch' | 'other';

/**
 * Counts one outcome for a source hash format (a `workos-migrate/hashes` format id), with first and
 * last seen. Counts only: no user id, email or hash.
 */
export async function recordFormatOutcome(
  db: DrizzleDatabase,
  format: string,
  outcome: FormatOutcome,
  options: { healed?: boolean } = {},
): Promise<void> {
  const matched = outcome === 'match' ? 1 : 0;
  const mismatched = outcome === 'mismatch' ? 1 : 0;
  const other = outcome === 'other' ? 1 : 0;
  const healed = options.healed ? 1 : 0;
  await db.execute(
    sql`INSERT INTO workos_migrate.format_checks AS f (format, matched, mismatched, other, healed)
        VALUES (${format}, ${matched}, ${mismatched}, ${other}, ${healed})
        ON CONFLICT (format) DO UPDATE SET matched = f.matched + EXCLUDED.matched,
          mismatched = f.mismatched + EXCLUDED.mismatched, other = f.other + EXCLUDED.other,
          healed = f.healed + EXCLUDED.healed, last_seen_at = now()`,
  );
}

/** What a shadow check needs; the plaintext lives only here, in memory, until the check ends. */
interface ShadowTask {
  localUserId: string;
  email: string;
  password: string;
}

/** What this process's shadow checker did since it started (for status and benchmarks). */
export interface ShadowCounters {
  offered: number;
  /** Not checked: the queue was full, the percent left it out, or the checker was closed. */
  dropped: number;
  checked: number;
  /** Skipped in the background: no imported hash in WorkOS for that user. */
  skipped: number;
  failed: number;
}

/**
 * Shadow checks (Scientist style): the legacy check has decided; the same password is tried at
 * WorkOS in the background and the outcome counted per source hash format. Never delays or changes
 * the user's answer: `offer()` is synchronous and drops rather than queues beyond `queueSize`; checks
 * start at most `ratePerSecond`. A shadow sign-in never counts as the user signing in through WorkOS,
 * and the session WorkOS creates for it is revoked at once.
 */
export class ShadowChecker {
  private readonly queue: ShadowTask[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  private nextStartAt = 0;
  private wake: (() => void) | null = null;
  readonly counters: ShadowCounters = { offered: 0, dropped: 0, checked: 0, skipped: 0, failed: 0 };

  constructor(
    private readonly config: ResolvedConfig,
    private readonly workos: WorkOS,
    private readonly options: Required<ShadowOptions>,
  ) {}

  /** How many checks wait now (bounded by `queueSize`). */
  get queued(): number {
    return this.queue.length;
  }

  /** Offers a check after a legacy sign-in that passed; returns at once. */
  offer(task: ShadowTask): void {
    this.counters.offered += 1;
    if (
      this.closed ||
      this.queue.length >= this.options.queueSize ||
      Math.random() * 100 >= this.options.percent
    ) {
      this.counters.dropped += 1;
      return;
    }
    this.queue.push(task);
    this.running ??= this.drain();
  }

  /** Stops taking checks, drops the waiting ones (and their plaintexts), waits for the one running. */
  async close(): Promise<void> {
    this.closed = true;
    this.counters.dropped += this.queue.length;
    this.queue.length = 0;
    this.wake?.();
    await this.running;
  }

  /** Runs the queue until it is empty; `running` is cleared in the same step that finds it empty. */
  private async drain(): Promise<void> {
    try {
      await this.runQueue();
    } finally {
      this.running = null;
    }
  }

  private async runQueue(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      // The next task stays in the queue (and counts against queueSize) until its turn.
      const wait = this.nextStartAt - Date.now();
      if (wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          timer.unref?.();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
        continue;
      }
      const task = this.queue.shift() as ShadowTask;
      this.nextStartAt = Date.now() + 1000 / this.options.ratePerSecond;
      try {
        await this.check(task);
      } catch (error) {
        this.counters.failed += 1;
        this.config.logger.warn(
          { userId: task.localUserId, error: error instanceof Error ? error.name : 'unknown' },
          'workos-migrate: a shadow check failed; nothing was counted',
        );
      }
    }
  }

  private async check(task: ShadowTask): Promise<void> {
    const { db } = this.config;
    const [state] = await query<{
      workos_user_id: string;
      password_state: string;
      hash_format: string | null;
      workos_updated_at: string | null;
    }>(
      db,
      sql`SELECT workos_user_id, password_state, hash_format, workos_updated_at
          FROM workos_migrate.sync_state s WHERE user_id = ${task.localUserId}
            AND NOT EXISTS (SELECT 1 FROM workos_migrate.outbox o WHERE o.user_id = s.user_id)`,
    );
    // Only an imported hash is evidence about how WorkOS reads its format, and only while nothing is
    // queued for the user: a password changed locally and not yet mirrored would read as a mismatch.
    if (state?.password_state !== 'synced' || !state.hash_format || !state.workos_updated_at) {
      this.counters.skipped += 1;
      return;
    }
    const format = state.hash_format;
    let outcome = await this.tryAtWorkos(task, state.workos_user_id, state.workos_updated_at);
    // Evidence only about the import it was checked on: a write or a healing sign-in meanwhile (which
    // sets the password from plaintext) makes the answer say nothing about the format.
    const still = await query<{ user_id: string }>(
      db,
      outcome === 'match'
        ? sql`UPDATE workos_migrate.sync_state SET password_verified_at = now()
              WHERE user_id = ${task.localUserId} AND hash_format = ${format}
                AND workos_updated_at = ${state.workos_updated_at} RETURNING user_id`
        : sql`SELECT user_id FROM workos_migrate.sync_state
              WHERE user_id = ${task.localUserId} AND hash_format = ${format}
                AND workos_updated_at = ${state.workos_updated_at}`,
    );
    if (still.length === 0) outcome = 'other';
    this.counters.checked += 1;
    await recordFormatOutcome(db, format, outcome);
  }

  private async tryAtWorkos(
    task: ShadowTask,
    workosUserId: string,
    updatedAt: string,
  ): Promise<FormatOutcome> {
    let answer: Awaited<ReturnType<WorkOS['userManagement']['authenticateWithPassword']>>;
    try {
      answer = await this.workos.userManagement.authenticateWithPassword({
        clientId: this.config.workos.clientId,
        email: task.email,
        password: task.password,
      });
    } catch (error) {
      const failure = classifyWorkosError(error);
      if (failure.kind !== 'invalid_credentials') return 'other';
      // A mismatch is evidence about the format only while the WorkOS user is our import, unchanged.
      const linked = await this.workos.userManagement.getUser(workosUserId).catch(() => null);
      return linked?.updatedAt === updatedAt ? 'mismatch' : 'other';
    }
    await this.revoke(answer.accessToken);
    // WorkOS signed in whoever holds the email there: only the linked user is evidence.
    return answer.user.id === workosUserId ? 'match' : 'other';
  }

  /** Ends the session WorkOS opened for the check (`sid` of the access token). */
  private revoke(accessToken: string): Promise<void> {
    return endSession(this.workos, this.config.logger, accessToken, 'a shadow check');
  }
}

/** Ends the WorkOS session an access token belongs to (its `sid`); a failure is logged, not thrown. */
export async function endSession(
  workos: WorkOS,
  logger: Logger,
  accessToken: string,
  what: string,
): Promise<void> {
  const sessionId = sessionIdOf(accessToken);
  if (!sessionId) return;
  try {
    await workos.userManagement.revokeSession({ sessionId });
  } catch (error) {
    const failure = classifyWorkosError(error);
    logger.warn(
      { kind: failure.kind, code: failure.code },
      `workos-migrate: revoking the session of ${what} failed`,
    );
  }
}

/** The `sid` claim of a JWT access token, read without verifying it (we only revoke it). */
function sessionIdOf(accessToken: string): string | null {
  try {
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload?.sid === 'string' ? payload.sid : null;
  } catch {
    return null;
  }
}
