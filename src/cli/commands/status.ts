import { maskEmail } from '../../admin/auth.js';
import {
  createWorkosMigrate,
  type DeadLetterPage,
  type FormatEvidence,
  type MigrationStatusWithFlags,
} from '../../signin/engine.js';
import { type CliCommand, EXIT_FAILED, EXIT_OK, jsonLine, UsageError } from '../conventions.js';
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
  // An older app answering --app-url may not send formats.
  if (status.formats?.length) text += `\nHash formats (shadow checks)\n${formatsTable(status.formats)}`;
  return text;
}

/** One line per source hash format: users, shadow-checked, matched, mismatched, healed, verdict. */
export function formatsTable(formats: readonly FormatEvidence[]): string {
  const header = ['format', 'users', 'shadow-checked', 'matched', 'mismatched', 'healed', 'verdict'];
  const lines = formats.map((f) => [
    f.format,
    count(f.users),
    count(f.shadowChecked),
    count(f.matched),
    count(f.mismatched),
    count(f.healed),
    f.verdict,
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...lines.map((line) => line[i]?.length ?? 0)),
  );
  const render = (cells: string[]) =>
    `  ${cells
      .map((cell, i) =>
        i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd()}\n`;
  return [header, ...lines].map(render).join('');
}

export const statusCommand: CliCommand = {
  register(program, ctx) {
    addAppUrlOptions(
      addEngineCommand(
        program,
        'status',
        'users, synced, pending live/backfill, dead letters by reason, password states, lag, leader, hash formats with their shadow evidence',
      ),
      'read it',
    )
      .option('--dead', 'list dead-lettered users (id, reason, attempts, last seen, message, masked email)')
      .option('--reason <reason>', 'with --dead: only this reason')
      .option('--limit <n>', 'with --dead: at most this many (1-1000, default 50)')
      .option('--after <userId>', 'with --dead: the page after this user id (printed at the end of a page)')
      .action(
        ctx.action(async (flags: StatusFlags) => {
          if (flags.dead) return deadLetters(flags, ctx.io.stdout);
          if (flags.reason !== undefined || flags.limit !== undefined || flags.after !== undefined) {
            throw new UsageError('--reason, --limit and --after go with --dead (status --dead --reason R)');
          }
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

interface StatusFlags extends AppUrlFlags {
  dead?: boolean;
  reason?: string;
  limit?: string;
  after?: string;
}

function deadQuery(flags: StatusFlags): { reason?: string; limit: number; after?: string } {
  const limit = flags.limit === undefined ? 50 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UsageError(`--limit must be a whole number from 1 to 1000 (got ${flags.limit})`);
  }
  const reason = flags.reason?.trim() || undefined;
  return { limit, ...(reason ? { reason } : {}), ...(flags.after ? { after: flags.after } : {}) };
}

export function formatDeadLetters(page: DeadLetterPage): string {
  if (page.deadLetters.length === 0) return 'No dead letters.\n';
  const header = ['user', 'reason', 'attempts', 'last seen', 'email', 'message'];
  const rows = page.deadLetters.map((d) => [
    d.userId,
    d.reason,
    String(d.attempts),
    d.lastSeenAt,
    d.email ?? '-',
    d.message ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}\n`;
  let text = line(header) + rows.map(line).join('');
  if (page.next) text += `More: \`workos-migrate status --dead --after ${page.next}\`.\n`;
  return `${text}Fix the causes, then \`workos-migrate retry --user ID\` or \`retry --reason R\`.\n`;
}

/** `status --dead`: per user, from the database or a running app's `GET <prefix>/dead`; emails masked. */
async function deadLetters(flags: StatusFlags, stdout: (text: string) => void): Promise<number> {
  const options = deadQuery(flags);
  let page: DeadLetterPage;
  if (flags.appUrl) {
    const search = new URLSearchParams({
      limit: String(options.limit),
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.after ? { after: options.after } : {}),
    });
    page = (await adminRequest(flags, `/dead?${search}`)) as DeadLetterPage;
  } else {
    page = await withSetup(flags, async (setup) => {
      const { config } = await setup.engineConfig();
      await requireSchema(config.db);
      const migrate = createWorkosMigrate(config);
      const found = await migrate.deadLetters(options).finally(() => migrate.close());
      return {
        ...found,
        deadLetters: found.deadLetters.map((d) => ({ ...d, email: maskEmail(d.email) })),
      };
    });
  }
  stdout(flags.json ? jsonLine(page) : formatDeadLetters(page));
  return EXIT_OK;
}

interface RetryFlags extends EngineFlags {
  reason?: string;
  user?: string;
}

export const retryCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(program, 'retry', 'requeue dead-lettered users once their cause is fixed')
      .option('--reason <reason>', 'only those dead-lettered for this reason (see `workos-migrate status`)')
      .option('--user <id>', 'only this user (local id, see `workos-migrate status --dead`)')
      .action(
        ctx.action(async (flags: RetryFlags) =>
          withSetup(flags, async (setup) => {
            const { config } = await setup.engineConfig();
            await requireSchema(config.db);
            const migrate = createWorkosMigrate(config);
            const reason = flags.reason?.trim() || undefined;
            const user = flags.user?.trim() || undefined;
            if (flags.user !== undefined && !user) throw new UsageError('--user needs a local user id');
            const requeued = await migrate.retryDead({
              ...(reason ? { reason } : {}),
              ...(user ? { userId: user } : {}),
            });
            if (user) await migrate.close();
            // A named user that is not dead-lettered is a failed request, not a silent no-op.
            const code = user && requeued === 0 ? EXIT_FAILED : EXIT_OK;
            if (flags.json) {
              ctx.io.stdout(jsonLine({ requeued, reason: reason ?? null, ...(user ? { user } : {}) }));
              return code;
            }
            if (user) {
              ctx.io.stdout(
                requeued === 1
                  ? `Requeued user ${user}. A running worker (the app, \`workos-migrate worker\` or \`import\`) picks it up.\n`
                  : `User ${user} is not dead-lettered${reason ? ` for ${reason}` : ''}: nothing requeued (see \`workos-migrate status --dead\`).\n`,
              );
              return code;
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
