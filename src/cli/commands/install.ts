import { sql } from 'drizzle-orm';
import { query } from '../../core/db.js';
import { checkRole, type RoleReport, workerGrantsSql } from '../../drizzle/roles.js';
import { install, installedState, installSql, splitStatements, uninstallSql } from '../../drizzle/sql.js';
import { type CliCommand, EXIT_OK, jsonLine, UsageError } from '../conventions.js';
import { addEngineCommand, type EngineFlags, schemaInstalled, withSetup } from '../engine.js';
import { byReason, count } from '../format.js';

interface InstallFlags extends EngineFlags {
  print?: boolean;
  appRole?: string;
  workerRole?: string;
}

/** One line per role: what its writes do and what it still lacks to run the worker. */
function describeRole(report: RoleReport, kind: 'app' | 'worker'): string {
  const writes =
    report.writesUsers.length > 0
      ? `its ${report.writesUsers.join('/')} on the users table are captured (no grant on workos_migrate needed)`
      : 'it cannot write the users table';
  const worker =
    report.workerMissing.length === 0
      ? 'it can run the worker'
      : kind === 'worker'
        ? `it cannot run the worker yet; missing: ${report.workerMissing.join(' ')}`
        : 'it does not run the worker (pass --worker-role for the role that does)';
  return `Role ${report.role}: ${writes}; ${worker}.\n`;
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
      .option('--app-role <role>', "report what the app's database role can do once installed")
      .option(
        '--worker-role <role>',
        "grant the worker's role what it needs (with --print: print the GRANTs), and report it",
      )
      .action(
        ctx.action(async (flags: InstallFlags) =>
          withSetup(flags, async (setup) => {
            const { mapping } = setup;
            if (flags.print) {
              const grants = flags.workerRole
                ? `-- the worker's role\n${workerGrantsSql(mapping, flags.workerRole)}`
                : '';
              const script = installSql(mapping) + grants;
              ctx.io.stdout(flags.json ? jsonLine({ sql: script }) : script);
              return EXIT_OK;
            }
            const { db, description } = await setup.database();
            await install(db, mapping);
            if (flags.workerRole) {
              await checkRole(db, mapping, flags.workerRole);
              for (const statement of splitStatements(workerGrantsSql(mapping, flags.workerRole))) {
                await db.execute(sql.raw(statement));
              }
            }
            const roles: { report: RoleReport; kind: 'app' | 'worker' }[] = [];
            if (flags.appRole)
              roles.push({ report: await checkRole(db, mapping, flags.appRole), kind: 'app' });
            if (flags.workerRole) {
              roles.push({ report: await checkRole(db, mapping, flags.workerRole), kind: 'worker' });
            }
            const state = await installedState(db, mapping);
            const table = `${mapping.users.schema}.${mapping.users.name}`;
            if (flags.json) {
              ctx.io.stdout(
                jsonLine({
                  installed: state.state === 'current',
                  state: state.state,
                  detail: state.detail,
                  table,
                  roles: roles.map((role) => ({ kind: role.kind, ...role.report })),
                }),
              );
            } else {
              ctx.io.stdout(
                `Installed in ${description}: ${table}.workos_user_id (unique), schema workos_migrate, capture trigger (${state.detail}).\n` +
                  roles.map((role) => describeRole(role.report, role.kind)).join('') +
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
