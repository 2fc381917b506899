import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type { WorkerOptions } from '../../core/config.js';
import { type DrizzleDatabase, query } from '../../core/db.js';
import type { Logger } from '../../core/logger.js';
import { installedState } from '../../drizzle/sql.js';
import { createWorkosMigrate } from '../../signin/engine.js';
import { lastRecheckOnlySql } from '../../sync/outbox.js';
import { createWorkosClient } from '../../workos/client.js';
import { withoutPrefix } from '../config.js';
import {
  type CliCommand,
  EXIT_FAILED,
  EXIT_OK,
  jsonLine,
  stderrTerminal,
  UsageError,
} from '../conventions.js';
import { dryRun, formatDryRun } from '../dry-run.js';
import { addEngineCommand, type EngineFlags, withSetup } from '../engine.js';
import { about, byReason, count, duration, sum } from '../format.js';
import { parseCount } from '../parse.js';
import { createProgressDisplay, type ProgressSample } from '../progress.js';

interface ImportFlags extends EngineFlags {
  dryRun?: boolean;
  rate?: string;
  concurrency?: string;
  limit?: string;
  checkWorkos?: string;
}

/** How often the outbox is counted while importing (one grouped scan of the outbox each time). */
const POLL_MS = 1_000;

interface OutboxCounts {
  pending: number;
  held: number;
  dead: Record<string, number>;
  /** Rows waiting (not yet due) for a re-check after an unanswered call, and when the last is due. */
  recheck: { users: number; seconds: number } | null;
  /**
   * Rows kept only for the last re-check after an unanswered call (in case the stray request lands
   * very late): not pending, any running worker does them later.
   */
  lastRechecks: number;
}

async function outboxCounts(db: DrizzleDatabase): Promise<OutboxCounts> {
  const rows = await query<{ dead: boolean; held: boolean; last: boolean; reason: string | null; n: number }>(
    db,
    sql`SELECT dead, held, ${lastRecheckOnlySql} AS last, CASE WHEN dead THEN coalesce(dead_reason, 'unknown') END AS reason,
          count(*)::int AS n
        FROM workos_migrate.outbox GROUP BY 1, 2, 3, 4`,
  );
  const [recheck] = await query<{ users: number; seconds: number | null }>(
    db,
    sql`SELECT count(*)::int AS users, extract(epoch FROM max(next_attempt_at) - now())::float8 AS seconds
        FROM workos_migrate.outbox
        WHERE NOT dead AND NOT held AND (verifying OR uncertain) AND next_attempt_at > now() AND NOT ${lastRecheckOnlySql}`,
  );
  const counts: OutboxCounts = {
    pending: 0,
    held: 0,
    dead: {},
    recheck: recheck && recheck.users > 0 ? { users: recheck.users, seconds: recheck.seconds ?? 0 } : null,
    lastRechecks: 0,
  };
  for (const row of rows) {
    if (row.dead) counts.dead[row.reason ?? 'unknown'] = (counts.dead[row.reason ?? 'unknown'] ?? 0) + row.n;
    else if (row.held) counts.held += row.n;
    else if (row.last) counts.lastRechecks += row.n;
    else counts.pending += row.n;
  }
  return counts;
}

/** Error-level engine logs are kept (the last one explains a worker that stopped itself). */
function recordingLogger(inner: Logger | undefined): { logger: Logger; lastError: () => string | null } {
  let last: string | null = null;
  return {
    logger: {
      debug: (obj, msg) => inner?.debug(obj, msg),
      info: (obj, msg) => inner?.info(obj, msg),
      warn: (obj, msg) => inner?.warn(obj, msg),
      error: (obj, msg) => {
        last = msg ?? last;
        inner?.error(obj, msg);
      },
    },
    lastError: () => last,
  };
}

class EnqueueInterrupted extends Error {}

export const WEBHOOK_REMINDER =
  'reminder: pause your WorkOS webhook endpoints (dashboard > Webhooks) during a bulk import, or they receive one user.created event per imported user\n';

export const importCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(
      program,
      'import',
      'backfill every user into WorkOS: enqueue them, then run the worker in the foreground until done',
    )
      .option('--dry-run', 'write nothing to WorkOS: report bad emails, duplicates, hash formats, duration')
      .option('--rate <n>', 'WorkOS write rate ceiling per second (default: worker.ratePerSecond, 50)')
      .option('--concurrency <n>', 'syncs in flight at most (default: worker.concurrency, 32)')
      .option('--limit <n>', 'enqueue at most N users (a rerun continues with the next ones)')
      .option('--check-workos <n>', 'with --dry-run: look N sample users up in WorkOS (reads only)')
      .action(
        ctx.action(async (flags: ImportFlags) => {
          const worker: WorkerOptions = {};
          if (flags.rate !== undefined) worker.ratePerSecond = parseCount('--rate', flags.rate);
          if (flags.concurrency !== undefined)
            worker.concurrency = parseCount('--concurrency', flags.concurrency);
          const limit = flags.limit === undefined ? undefined : parseCount('--limit', flags.limit);
          const checkWorkos =
            flags.checkWorkos === undefined ? undefined : parseCount('--check-workos', flags.checkWorkos);
          if (checkWorkos !== undefined && !flags.dryRun) {
            throw new UsageError('--check-workos only goes with --dry-run; add --dry-run');
          }
          if (flags.dryRun) {
            if (limit !== undefined)
              throw new UsageError('--limit has no effect with --dry-run; drop one of them');
            return withSetup(flags, async (setup) => {
              const { config, resolved } = await setup.engineConfig({
                needsWorkos: checkWorkos !== undefined,
                worker,
              });
              const report = await dryRun(config.db, resolved, {
                ...(checkWorkos !== undefined ? { checkWorkos } : {}),
                workos: () =>
                  createWorkosClient({
                    apiKey: resolved.workos.apiKey,
                    clientId: resolved.workos.clientId,
                    ...(resolved.workos.apiUrl ? { apiUrl: resolved.workos.apiUrl } : {}),
                    timeoutMs: 10_000,
                  }),
              });
              ctx.io.stdout(flags.json ? jsonLine(report) : formatDryRun(report));
              return report.wouldFail > 0 ? EXIT_FAILED : EXIT_OK;
            });
          }

          // Listen before starting anything, so an early Ctrl-C still stops cleanly.
          const stopped = ctx.shutdownSignal();
          return withSetup(flags, async (setup) => {
            const recorder = recordingLogger(setup.config.logger);
            const { config, resolved } = await setup.engineConfig({
              needsWorkos: true,
              worker,
              logger: recorder.logger,
            });
            const { db } = config;
            const installed = await installedState(db, resolved.users);
            if (installed.state !== 'current') {
              throw new UsageError(`${installed.detail}: run \`workos-migrate install\` first`);
            }
            const migrate = createWorkosMigrate({ ...config, logger: recorder.logger });
            const terminal = stderrTerminal(ctx.io);
            ctx.io.stderr(WEBHOOK_REMINDER);

            const startedAt = Date.now();
            const state: { interrupted: NodeJS.Signals | null } = { interrupted: null };
            void stopped.then((signal) => {
              state.interrupted = signal;
            });
            // Enqueueing a large table takes a while: show it, and let Ctrl-C stop between batches
            // (each batch is committed on its own, so a rerun simply goes on).
            let enqueued = 0;
            try {
              await migrate.enqueueBackfill({
                ...(limit !== undefined ? { limit } : {}),
                onBatch: (added) => {
                  enqueued += added;
                  if (terminal.tty) ctx.io.stderr(`\r\x1b[2Kimport: enqueuing... ${count(enqueued)}`);
                  if (state.interrupted) throw new EnqueueInterrupted();
                },
              });
            } catch (error) {
              if (!(error instanceof EnqueueInterrupted)) throw error;
              if (terminal.tty) ctx.io.stderr('\n');
              if (flags.json) ctx.io.stdout(jsonLine({ enqueued, interrupted: true }));
              else
                ctx.io.stdout(
                  `Interrupted (${state.interrupted}) while enqueuing: ${count(enqueued)} enqueued, nothing lost; run \`workos-migrate import\` again to continue.\n`,
                );
              return EXIT_FAILED;
            }
            if (terminal.tty && enqueued > 0) ctx.io.stderr('\r\x1b[2K');
            const initial = await outboxCounts(db);
            let total = initial.pending;
            let done = 0;
            const sample = (counts: OutboxCounts): ProgressSample => {
              done = Math.max(done, total - counts.pending);
              total = Math.max(total, done + counts.pending);
              return {
                done,
                total,
                rateLimited: migrate.worker.counters.rateLimited,
                failed: counts.dead,
                recheck: counts.recheck,
              };
            };
            if (!flags.json) {
              ctx.io.stderr(
                `import: ${count(enqueued)} users enqueued, ${count(initial.pending)} to sync at up to ${resolved.worker.ratePerSecond} writes/s` +
                  ` (${about(initial.pending / resolved.worker.ratePerSecond)}); Ctrl-C stops, a rerun continues\n`,
              );
            }
            const display = createProgressDisplay({
              write: (text) => ctx.io.stderr(text),
              tty: terminal.tty,
              columns: terminal.columns,
            });

            await migrate.worker.start();
            let counts = initial;
            display.update(sample(counts));
            let workerDied = false;
            try {
              while (counts.pending > 0 && state.interrupted === null) {
                await Promise.race([sleep(POLL_MS), stopped]);
                counts = await outboxCounts(db);
                display.update(sample(counts));
                if (!migrate.worker.running) {
                  workerDied = true;
                  break;
                }
              }
            } finally {
              await migrate.worker.stop();
            }
            counts = await outboxCounts(db);
            display.finish(sample(counts));
            if (workerDied && counts.pending > 0) {
              const why = recorder.lastError();
              throw new UsageError(
                why
                  ? withoutPrefix(why)
                  : 'the worker stopped unexpectedly; see the logs and rerun `workos-migrate import`',
              );
            }

            const dead = sum(counts.dead);
            const summary = {
              enqueued,
              total,
              done,
              pending: counts.pending,
              dead: counts.dead,
              deletesAwaitingConfirmation: counts.held,
              lastRechecks: counts.lastRechecks,
              rateLimited: migrate.worker.counters.rateLimited,
              writes: migrate.worker.counters.writes,
              seconds: Math.round((Date.now() - startedAt) / 100) / 10,
              interrupted: state.interrupted !== null && counts.pending > 0,
              // Which numbers describe this run and which the whole outbox (earlier runs included).
              countedOver: {
                thisRun: ['enqueued', 'total', 'done', 'rateLimited', 'writes', 'seconds'],
                wholeOutbox: ['pending', 'dead', 'deletesAwaitingConfirmation', 'lastRechecks'],
              },
            };
            if (flags.json) {
              ctx.io.stdout(jsonLine(summary));
            } else {
              const lines: string[] = [];
              if (summary.interrupted) {
                lines.push(
                  `Interrupted (${state.interrupted}): ${count(done)} of ${count(total)} done, ${count(counts.pending)} still queued; run \`workos-migrate import\` again to continue.`,
                );
              } else {
                lines.push(
                  `Import finished: ${count(done)} users processed in ${duration(summary.seconds)}.`,
                );
              }
              if (dead > 0) {
                lines.push(
                  `${count(dead)} dead-lettered: ${byReason(counts.dead)}. Fix the causes, then \`workos-migrate retry [--reason R]\`.`,
                );
              }
              if (counts.held > 0) {
                lines.push(
                  `${count(counts.held)} deletes held by the mass-delete threshold: \`workos-migrate confirm-deletes\` releases them.`,
                );
              }
              if (counts.lastRechecks > 0) {
                lines.push(
                  `${count(counts.lastRechecks)} users had a call without an answer: a last re-check of WorkOS is due within ${duration((2 * resolved.worker.leaseMs) / 1000)} (in case that request lands late); the app's worker or \`workos-migrate worker\` does it.`,
                );
              }
              lines.push('Next: `workos-migrate verify`. Resume your WorkOS webhook endpoints.');
              ctx.io.stdout(`${lines.join('\n')}\n`);
            }
            return dead > 0 || summary.interrupted ? EXIT_FAILED : EXIT_OK;
          });
        }),
      );
  },
};
