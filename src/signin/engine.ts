import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { resolveConfig, type WorkosMigrateConfig } from '../core/config.js';
import { query } from '../core/db.js';

import { quoteIdent } from '../core/mapping.js';
import { createFlags, type Flags, type FreezeState, type RolloutState } from '../flags/flags.js';
import { enqueueBackfill } from '../sync/backfill.js';
import type { MirrorLag } from '../sync/lag.js';
import { idColumnType, idEquals } from '../sync/local-user.js';
import { rolloutPreviewer } from '../sync/rollout-preview.js';
import { type DeadLetterPage, type MigrationStatus, readDeadLetters, readStatus } from '../sync/status.js';
import { callTimeoutMs, Worker, type WorkerCounters } from '../sync/worker.js';
import { createWorkosClient } from '../workos/client.js';
import {
  type CompleteSignInInput,
  type CompleteSignInResult,
  completeSignIn,
  type SignInInput,
  type SignInRoute,
  signIn,
} from './authkit.js';
import { type CutoverDecision, decideCutover } from './cutover.js';
import { type LoginInput, type LoginResult, login } from './login.js';
import { ShadowChecker, type ShadowCounters } from './shadow.js';

export type { DeadLetter, DeadLetterPage, FormatEvidence, MigrationStatus } from '../sync/status.js';
export type {
  CompleteSignInFailure,
  CompleteSignInInput,
  CompleteSignInReason,
  CompleteSignInResult,
  CompleteSignInSuccess,
  PendingSignIn,
  SignInInput,
  SignInRoute,
} from './authkit.js';
export type { CutoverDecision, LegacyReason } from './cutover.js';
export type { LegacyCredentials, LoginInput, LoginReason, LoginResult } from './login.js';

/** `status()` plus the flags as this process sees them. */
export interface MigrationStatusWithFlags extends MigrationStatus {
  freeze: FreezeState;
  rollout: RolloutState;
  /** This process's shadow checker (null when `shadow: false`): checks waiting, and what it did. */
  shadow: (ShadowCounters & { queued: number }) | null;
}

export interface SyncResult {
  userId: string;
  /** `synced`: WorkOS matches the row; `dead`: dead-lettered with `reason`; `timeout`: still pending. */
  status: 'synced' | 'dead' | 'timeout';
  reason: string | null;
}

export interface WorkosMigrate {
  worker: {
    start(): Promise<void>;
    stop(): Promise<void>;
    readonly running: boolean;
    readonly leader: boolean;
    /** What this process's worker did since it was created (429s included), for progress displays. */
    readonly counters: Readonly<WorkerCounters>;
    /** Writes per second the adaptive limiter allows now: 90% of `worker.ratePerSecond` at first, probed up to it, lowered on 429s. */
    readonly currentRate: number;
    /** Queue-to-confirmed lag of live changes synced by this process. */
    readonly mirrorLag: MirrorLag;
  };
  /** Sign-ins `login()` and `completeSignIn()` (side `workos`) answered in this process, by side, reason and outcome (for metrics). */
  signInCounts(): { side: 'workos' | 'legacy'; reason: string; ok: boolean; count: number }[];
  /** Enqueues the user at live priority and waits for a worker (this one or another instance). */
  syncNow(userId: string | number, options?: { timeoutMs?: number }): Promise<SyncResult>;
  /** Enqueues every user not yet synced, at backfill priority. Answers how many were added. */
  enqueueBackfill(options?: {
    batchSize?: number;
    onBatch?: (added: number) => void;
    /** Enqueue at most this many users. */
    limit?: number;
  }): Promise<number>;
  status(): Promise<MigrationStatusWithFlags>;
  /** Freeze and rollout: live values, setters, readiness. Started by `start()` (or on first use). */
  flags: Flags;
  /** Which side a sign-in for this user goes to now, and why. */
  cutover(user: { userId: string | number; email: string }): Promise<CutoverDecision>;
  /** Signs a user in on the side the cutover rule picks; see LoginResult. */
  login(input: LoginInput): Promise<LoginResult>;
  /**
   * Identifier-first routing: the legacy form, or the AuthKit URL to redirect to (same cutover rule as
   * `login()`). For `side: 'workos'`, store `pending` for this browser and hand it to `completeSignIn`.
   */
  signIn(input: SignInInput): Promise<SignInRoute>;
  /** The AuthKit callback: checks the state, exchanges the code, maps and re-checks the user; see CompleteSignInResult. */
  completeSignIn(input: CompleteSignInInput): Promise<CompleteSignInResult>;
  /** Starts the flags and, unless `worker: false`, the worker. */
  start(options?: { worker?: boolean }): Promise<void>;
  /** Stops the shadow checks (dropping waiting ones), the worker and the flags (Unleash client, refresh timer). */
  close(): Promise<void>;
  /** Requeues dead letters (optionally of one reason, or one user) after their cause is fixed. */
  retryDead(filter?: string | { reason?: string; userId?: string | number }): Promise<number>;
  /** How many local users a rollout of `percent` would move from one side to the other, before it is set. */
  rolloutPreview(percent: number): Promise<{ from: number; to: number; wouldMove: number }>;
  /** Dead letters per user, by user id, a page at a time (`after` = the previous page's `next`). */
  deadLetters(options?: { reason?: string; limit?: number; after?: string }): Promise<DeadLetterPage>;
  /** Releases deletes held by the mass-delete threshold. */
  confirmDeletes(): Promise<number>;
}

/**
 * The engine: capture is the database trigger; this object runs the worker that mirrors the outbox
 * into WorkOS, and answers sign-ins. It lives here, above sync/ and flags/, because it composes
 * them with login(), AuthKit and the shadow checks: sync/ never imports signin/.
 */
export function createWorkosMigrate(input: WorkosMigrateConfig): WorkosMigrate {
  const config = resolveConfig(input);
  const timeoutMs = callTimeoutMs(config.worker.leaseMs);
  const workos = createWorkosClient({
    apiKey: config.workos.apiKey,
    clientId: config.workos.clientId,
    ...(config.workos.apiUrl ? { apiUrl: config.workos.apiUrl } : {}),
    timeoutMs,
  });
  const worker = new Worker(config, workos);
  const shadow = config.shadow ? new ShadowChecker(config, workos, config.shadow) : null;
  const flags = createFlags(config);
  const { db, users } = config;
  const signIns = new Map<string, number>();
  const previewRollout = rolloutPreviewer(db, users, config.flags);
  const authkit = { config, flags, workos, appDb: input.db };
  const countSignIn = (side: 'workos' | 'legacy', reason: string, ok: boolean) => {
    const key = `${side}|${reason}|${ok ? 'ok' : 'refused'}`;
    signIns.set(key, (signIns.get(key) ?? 0) + 1);
  };

  return {
    worker: {
      start: () => worker.start(),
      stop: () => worker.stop(),
      get running() {
        return worker.isRunning;
      },
      get leader() {
        return worker.isLeader;
      },
      get counters() {
        return { ...worker.counters };
      },
      get currentRate() {
        return worker.limiter.currentRate;
      },
      mirrorLag: worker.mirrorLag,
    },
    signInCounts: () =>
      [...signIns].map(([key, count]) => {
        const [side, reason, ok] = key.split('|') as ['workos' | 'legacy', string, string];
        return { side, reason, ok: ok === 'ok', count };
      }),
    async syncNow(userId, options = {}) {
      const id = String(userId);
      const exists = await query<{ n: number }>(
        db,
        sql`SELECT count(*)::int AS n FROM ${sql.raw(users.users.qualified)}
            WHERE ${await idEquals(db, users, sql.raw(quoteIdent(users.columns.id)), id)}`,
      );
      await db.execute(sql`SELECT workos_migrate.enqueue(${id}, false, ${(exists[0]?.n ?? 0) === 0}, NULL)`);
      // An idle worker here polls slowly: this change is due now.
      worker.wake();
      const deadline = Date.now() + (options.timeoutMs ?? 30_000);
      while (Date.now() < deadline) {
        const rows = await query<{ dead: boolean; reason: string | null }>(
          db,
          sql`SELECT dead, dead_reason AS reason FROM workos_migrate.outbox WHERE user_id = ${id}`,
        );
        const row = rows[0];
        if (!row) return { userId: id, status: 'synced', reason: null };
        if (row.dead) return { userId: id, status: 'dead', reason: row.reason };
        if (worker.fatal) throw worker.fatal;
        await sleep(config.worker.pollMs);
      }
      return { userId: id, status: 'timeout', reason: null };
    },
    enqueueBackfill: (options) => enqueueBackfill(db, users, options),
    async status() {
      await flags.start();
      return {
        ...(await readStatus(db, config.cutover.requireProvenFormats)),
        freeze: flags.freeze(),
        rollout: flags.rollout(),
        shadow: shadow ? { queued: shadow.queued, ...shadow.counters } : null,
      };
    },
    flags,
    async cutover(user) {
      await flags.start();
      const { target, reason } = await decideCutover(config, flags, {
        userId: String(user.userId),
        email: user.email,
      });
      return { target, reason };
    },
    async login(input) {
      await flags.start();
      const result = await login(config, flags, workos, input, shadow);
      countSignIn(result.side, result.reason, result.ok);
      return result;
    },
    async signIn(input) {
      await flags.start();
      return signIn(authkit, input);
    },
    async completeSignIn(input) {
      await flags.start();
      const result = await completeSignIn(authkit, input);
      countSignIn('workos', result.reason, result.ok);
      return result;
    },
    async start(options = {}) {
      await flags.start();
      if (options.worker !== false) await worker.start();
    },
    async close() {
      await shadow?.close();
      await worker.stop();
      await flags.close();
    },
    async retryDead(filter) {
      const { reason, userId } = typeof filter === 'string' ? { reason: filter } : (filter ?? {});
      const rows = await query<{ user_id: string }>(
        db,
        sql`UPDATE workos_migrate.outbox SET dead = false, dead_reason = NULL, attempts = 0, next_attempt_at = now()
            WHERE dead
              ${reason === undefined ? sql`` : sql`AND dead_reason = ${reason}`}
              ${userId === undefined ? sql`` : sql`AND user_id = ${String(userId)}`}
            RETURNING user_id`,
      );
      return rows.length;
    },
    async rolloutPreview(percent) {
      await flags.start();
      const from = flags.rollout().percent;
      return { from, to: percent, wouldMove: await previewRollout(from, percent) };
    },
    async deadLetters(options = {}) {
      return readDeadLetters(db, users, await idColumnType(db, users), options);
    },
    async confirmDeletes() {
      const rows = await query<{ user_id: string }>(
        db,
        // Confirming also acknowledges the deletes already applied in the guard's window: otherwise
        // every later delete in that window would be held again, one by one.
        sql`WITH acknowledged AS (DELETE FROM workos_migrate.applied_deletes)
            UPDATE workos_migrate.outbox SET held = false, delete_confirmed = true, next_attempt_at = now()
            WHERE (deleted OR replaced) AND NOT dead AND (held OR NOT delete_confirmed) RETURNING user_id`,
      );
      return rows.length;
    },
  };
}
