import { createWorkosMigrate, type MigrationStatusWithFlags } from '../../sync/index.js';
import { type CliCommand, EXIT_OK, jsonLine } from '../conventions.js';
import { addEngineCommand, type EngineFlags, requireSchema, withSetup } from '../engine.js';
import { byReason, count, duration, percent, sum, table } from '../format.js';
import {
  type AppUrlFlags,
  addAppUrlOptions,
  adminRequest,
  describeFreeze,
  describeRollout,
} from './flags.js';

export function formatStatus(status: MigrationStatusWithFlags): string {
  const dead = sum(status.dead);
  const rows: [string, string][] = [
    ['users', count(status.users)],
    ['synced', `${count(status.synced)} (${percent(status.synced, status.users)})`],
    [
      'pending',
      `${count(status.pending.live + status.pending.backfill)} (live ${count(status.pending.live)}, backfill ${count(status.pending.backfill)})`,
    ],
    [
      'lag',
      status.oldestPendingSeconds === null
        ? 'none'
        : `oldest pending change ${duration(status.oldestPendingSeconds)} old`,
    ],
    ['dead letters', dead === 0 ? 'none' : `${count(dead)}: ${byReason(status.dead)}`],
    ['password states', byReason(status.passwordStates)],
    [
      'leader',
      status.leader ? `${status.leader.holder} (lease until ${status.leader.expiresAt})` : 'none running',
    ],
    [
      'deletes held',
      status.deletesAwaitingConfirmation === 0
        ? 'none'
        : `${count(status.deletesAwaitingConfirmation)}: run \`workos-migrate confirm-deletes\` to release them`,
    ],
    ['last TRUNCATE', status.lastTruncateAt ?? 'never'],
    ['signups freeze', describeFreeze(status.freeze)],
    ['rollout', describeRollout(status.rollout)],
  ];
  let text = table(rows);
  if (dead > 0) text += 'Fix the causes, then `workos-migrate retry [--reason R]`.\n';
  return text;
}

export const statusCommand: CliCommand = {
  register(program, ctx) {
    addAppUrlOptions(
      addEngineCommand(
        program,
        'status',
        'users, synced, pending live/backfill, dead letters by reason, password states, lag, leader',
      ),
      'read it',
    ).action(
      ctx.action(async (flags: AppUrlFlags) => {
        if (flags.appUrl) {
          // A running app answers its own status (what an embedded database, held by the app, needs).
          const status = (await adminRequest(flags, '/status')) as MigrationStatusWithFlags;
          ctx.io.stdout(flags.json ? jsonLine(status) : formatStatus(status));
          return EXIT_OK;
        }
        return withSetup(flags, async (setup) => {
          const { config } = await setup.engineConfig();
          await requireSchema(config.db);
          const migrate = createWorkosMigrate(config);
          const status = await migrate.status().finally(() => migrate.close());
          ctx.io.stdout(flags.json ? jsonLine(status) : formatStatus(status));
          return EXIT_OK;
        });
      }),
    );
  },
};

interface RetryFlags extends EngineFlags {
  reason?: string;
}

export const retryCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(program, 'retry', 'requeue dead-lettered users once their cause is fixed')
      .option('--reason <reason>', 'only those dead-lettered for this reason (see `workos-migrate status`)')
      .action(
        ctx.action(async (flags: RetryFlags) =>
          withSetup(flags, async (setup) => {
            const { config } = await setup.engineConfig();
            await requireSchema(config.db);
            const migrate = createWorkosMigrate(config);
            const reason = flags.reason?.trim() || undefined;
            const requeued = await migrate.retryDead(reason);
            if (flags.json) {
              ctx.io.stdout(jsonLine({ requeued, reason: reason ?? null }));
              return EXIT_OK;
            }
            let text = `Requeued ${count(requeued)} dead-lettered user${requeued === 1 ? '' : 's'}${reason ? ` (reason ${reason})` : ''}.`;
            if (requeued > 0) {
              text += ' A running worker (the app, `workos-migrate worker` or `import`) picks them up.';
            } else if (reason) {
              const status = await migrate.status().finally(() => migrate.close());
              text += ` Dead letters now: ${byReason(status.dead)}.`;
            }
            ctx.io.stdout(`${text}\n`);
            return EXIT_OK;
          }),
        ),
      );
  },
};

export const confirmDeletesCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(
      program,
      'confirm-deletes',
      'release the deletes held by the mass-delete threshold (deleteThreshold)',
    ).action(
      ctx.action(async (flags: EngineFlags) =>
        withSetup(flags, async (setup) => {
          const { config } = await setup.engineConfig();
          await requireSchema(config.db);
          const released = await createWorkosMigrate(config).confirmDeletes();
          ctx.io.stdout(
            flags.json
              ? jsonLine({ released })
              : `Released ${count(released)} held delete${released === 1 ? '' : 's'}; a running worker now deletes those users in WorkOS.\n`,
          );
          return EXIT_OK;
        }),
      ),
    );
  },
};
