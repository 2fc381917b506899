import { sql } from 'drizzle-orm';
import { query } from '../../core/db.js';
import { install, installedState, installSql, splitStatements, uninstallSql } from '../../drizzle/sql.js';
import { type CliCommand, EXIT_OK, jsonLine, UsageError } from '../conventions.js';
import { addEngineCommand, type EngineFlags, schemaInstalled, withSetup } from '../engine.js';
import { byReason, count } from '../format.js';

interface InstallFlags extends EngineFlags {
  print?: boolean;
}

interface UninstallFlags extends InstallFlags {
  force?: boolean;
}

export const installCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(
      program,
      'install',
      'add workos_user_id (unique index built concurrently), the workos_migrate schema and the capture trigger',
    )
      .option('--print', 'print the SQL for a drizzle-kit custom migration instead of applying it')
      .action(
        ctx.action(async (flags: InstallFlags) =>
          withSetup(flags, async (setup) => {
            const { mapping } = setup;
            if (flags.print) {
              const script = installSql(mapping);
              ctx.io.stdout(flags.json ? jsonLine({ sql: script }) : script);
              return EXIT_OK;
            }
            const { db, description } = await setup.database();
            await install(db, mapping);
            const state = await installedState(db, mapping);
            const table = `${mapping.users.schema}.${mapping.users.name}`;
            if (flags.json) {
              ctx.io.stdout(
                jsonLine({
                  installed: state.state === 'current',
                  state: state.state,
                  detail: state.detail,
                  table,
                }),
              );
            } else {
              ctx.io.stdout(
                `Installed in ${description}: ${table}.workos_user_id (unique), schema workos_migrate, capture trigger (${state.detail}).\n` +
                  'Next: `workos-migrate import --dry-run`, then `workos-migrate import`.\n',
              );
            }
            return EXIT_OK;
          }),
        ),
      );
  },
};

export const uninstallCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(
      program,
      'uninstall',
      'drop the capture trigger and the workos_migrate schema; keeps workos_user_id and your data',
    )
      .option('--print', 'print the SQL instead of running it')
      .option('--force', 'uninstall even while users are pending, dead-lettered or a worker is running')
      .action(
        ctx.action(async (flags: UninstallFlags) =>
          withSetup(flags, async (setup) => {
            const { mapping } = setup;
            const script = uninstallSql(mapping);
            if (flags.print) {
              ctx.io.stdout(flags.json ? jsonLine({ sql: script }) : script);
              return EXIT_OK;
            }
            const { db, description } = await setup.database();
            const installed = await schemaInstalled(db);
            if (installed && !flags.force) {
              const [rows] = await query<{ pending: number; held: number; dead: number }>(
                db,
                sql`SELECT count(*) FILTER (WHERE NOT dead AND NOT held)::int AS pending,
                           count(*) FILTER (WHERE held AND NOT dead)::int AS held,
                           count(*) FILTER (WHERE dead)::int AS dead
                    FROM workos_migrate.outbox`,
              );
              const waiting = (rows?.pending ?? 0) + (rows?.held ?? 0) + (rows?.dead ?? 0);
              if (waiting > 0) {
                const dead = await query<{ reason: string; n: number }>(
                  db,
                  sql`SELECT coalesce(dead_reason, 'unknown') AS reason, count(*)::int AS n
                      FROM workos_migrate.outbox WHERE dead GROUP BY 1`,
                );
                const parts = [
                  `${count(rows?.pending ?? 0)} pending`,
                  ...(rows?.held ? [`${count(rows.held)} deletes awaiting confirmation`] : []),
                  ...(rows?.dead
                    ? [
                        `${count(rows.dead)} dead-lettered (${byReason(Object.fromEntries(dead.map((d) => [d.reason, d.n])))})`,
                      ]
                    : []),
                ];
                throw new UsageError(
                  `uninstall refused: ${count(waiting)} user${waiting === 1 ? '' : 's'} not mirrored yet (${parts.join(', ')}) would be lost; finish them with \`workos-migrate import\` or \`workos-migrate retry\`, or pass --force`,
                );
              }
              const leaders = await query<{ holder: string }>(
                db,
                sql`SELECT holder FROM workos_migrate.leader WHERE expires_at > now()`,
              );
              if (leaders[0]) {
                throw new UsageError(
                  `uninstall refused: a worker is running (leader ${leaders[0].holder}); stop it (and the app's worker) first, or pass --force`,
                );
              }
            }
            await db.transaction(async (tx) => {
              await tx.execute(sql.raw(`SET LOCAL lock_timeout = '5s'`));
              await tx.execute(sql.raw(`SELECT pg_advisory_xact_lock(hashtext('workos_migrate.install'))`));
              for (const statement of splitStatements(script)) await tx.execute(sql.raw(statement));
            });
            const table = `${mapping.users.schema}.${mapping.users.name}`;
            if (flags.json) {
              ctx.io.stdout(
                jsonLine({ uninstalled: true, kept: `${table}.${mapping.columns.workosUserId}` }),
              );
            } else {
              ctx.io.stdout(
                `Uninstalled from ${description}: capture trigger and schema workos_migrate dropped; ` +
                  `${table}.${mapping.columns.workosUserId} and your data are kept.\n`,
              );
            }
            return EXIT_OK;
          }),
        ),
      );
  },
};
