// `freeze` and `rollout`: the same setters as the admin routes. With --app-url they go through a
// running app's admin routes instead (an app on embedded PGlite holds its database alone).
import type { FlagSource, FreezeState, RolloutState } from '../../flags/flags.js';
import { createWorkosMigrate } from '../../signin/engine.js';
import { type CliCommand, type CliIo, EXIT_OK, jsonLine, UsageError } from '../conventions.js';
import { addEngineCommand, type EngineFlags, requireSchema, withSetup } from '../engine.js';

/** How to reach a running app's admin routes instead of the database (`--app-url`). */
export interface AppUrlFlags extends EngineFlags {
  appUrl?: string;
  adminPrefix?: string;
  token?: string;
}

interface FlagFlags extends AppUrlFlags {
  source?: string;
}

function parseSource(value: string | undefined): { source?: FlagSource } {
  if (value === undefined) return {};
  if (value === 'env' || value === 'unleash' || value === 'stored') return { source: value };
  throw new UsageError(`--source must be env, unleash or stored (got ${value})`);
}

/**
 * Calls a running app's admin route (POST with `body`, GET without); its error body becomes a one-line
 * CLI error.
 */
export async function adminRequest(flags: AppUrlFlags, path: string, body?: unknown): Promise<unknown> {
  const token = flags.token ?? process.env.WORKOS_MIGRATE_ADMIN_TOKEN;
  if (!token) throw new UsageError('--token (or WORKOS_MIGRATE_ADMIN_TOKEN) is required with --app-url');
  let base: URL;
  try {
    base = new URL(String(flags.appUrl));
  } catch {
    throw new UsageError(
      `--app-url must be the app's URL such as http://127.0.0.1:3000 (got ${flags.appUrl})`,
    );
  }
  const prefix = (flags.adminPrefix ?? '/workos-migrate').replace(/\/+$/, '');
  const url = `${base.origin}${prefix}${path}`;
  let response: Response;
  try {
    response = await fetch(
      url,
      body === undefined
        ? { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) }
        : {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(15_000),
          },
    );
  } catch (error) {
    throw new Error(`could not reach ${url} (${(error as Error).message}); is the app running?`);
  }
  const answer = (await response.json().catch(() => ({}))) as { message?: string };
  if (response.status === 401) throw new UsageError(`${url} refused --token (401)`);
  if (response.status === 404)
    throw new UsageError(
      `${url} is not an admin route: check --app-url, --admin-prefix and that the app sets admin.token`,
    );
  if (response.status === 409 || response.status === 400)
    throw new UsageError(answer.message ?? `${url} answered ${response.status}`);
  if (!response.ok) throw new Error(answer.message ?? `${url} answered ${response.status}`);
  return answer;
}

/** `--app-url`, `--admin-prefix`, `--token` on a command. */
export function addAppUrlOptions<T extends ReturnType<typeof addEngineCommand>>(command: T, what: string): T {
  return command
    .option('--app-url <url>', `${what} through a running app's admin routes, e.g. http://127.0.0.1:3000`)
    .option('--admin-prefix <path>', 'where the app mounts its admin routes (default /workos-migrate)')
    .option('--token <token>', 'bearer token of the admin routes (default: WORKOS_MIGRATE_ADMIN_TOKEN)') as T;
}

function addFlagCommand(program: Parameters<CliCommand['register']>[0], name: string, description: string) {
  return addAppUrlOptions(
    addEngineCommand(program, name, description).option(
      '--source <source>',
      'refuse unless this is the source in effect (env, unleash, stored)',
    ),
    'change it',
  );
}

/** Runs a setter locally (opening the database) or through --app-url. */
async function runSetter<T>(
  flags: FlagFlags,
  path: string,
  body: unknown,
  local: (migrate: ReturnType<typeof createWorkosMigrate>) => Promise<T>,
): Promise<T> {
  if (flags.appUrl) return (await adminRequest(flags, path, body)) as T;
  return withSetup(flags, async (setup) => {
    const { config } = await setup.engineConfig();
    await requireSchema(config.db);
    const migrate = createWorkosMigrate(config);
    try {
      return await local(migrate);
    } finally {
      await migrate.close();
    }
  });
}

function sourceName(source: FlagSource): string {
  return source === 'env' ? 'environment' : source === 'unleash' ? 'Unleash' : 'stored setting';
}

export function describeFreeze(state: FreezeState): string {
  return `${state.on ? 'on' : 'off'} (set by ${sourceName(state.source)}${state.ready ? '' : '; flags not ready'})`;
}

export function describeRollout(state: RolloutState): string {
  return `${state.percent}% of logins to WorkOS (set by ${sourceName(state.source)}${state.ready ? '' : '; flags not ready'})`;
}

function print(io: CliIo, json: boolean | undefined, value: unknown, text: string): void {
  io.stdout(json ? jsonLine(value) : `${text}\n`);
}

export const freezeCommand: CliCommand = {
  register(program, ctx) {
    addFlagCommand(program, 'freeze', 'freeze or unfreeze signups (routes with the freeze guard answer 503)')
      .argument('<state>', 'on or off')
      .action(
        ctx.action(async (state: string, flags: FlagFlags) => {
          if (state !== 'on' && state !== 'off')
            throw new UsageError(`freeze takes on or off (got ${state})`);
          const on = state === 'on';
          const options = parseSource(flags.source);
          const result = await runSetter<FreezeState>(flags, '/freeze', { on, ...options }, (migrate) =>
            migrate.flags.setFreeze(on, options),
          );
          print(ctx.io, flags.json, result, `Signups freeze: ${describeFreeze(result)}.`);
          return EXIT_OK;
        }),
      );
  },
};

export const rolloutCommand: CliCommand = {
  register(program, ctx) {
    addFlagCommand(program, 'rollout', 'send this percentage of logins to WorkOS (0 is the kill switch)')
      .argument('<percent>', 'a whole number from 0 to 100')
      .action(
        ctx.action(async (value: string, flags: FlagFlags) => {
          const percent = Number(value.replace(/%$/, ''));
          if (!/^\d{1,3}%?$/.test(value) || percent > 100) {
            throw new UsageError(`rollout takes a whole percent from 0 to 100 (got ${value})`);
          }
          const options = parseSource(flags.source);
          const result = await runSetter<RolloutState>(
            flags,
            '/rollout',
            { percent, ...options },
            (migrate) => migrate.flags.setRollout(percent, options),
          );
          print(ctx.io, flags.json, result, `Rollout: ${describeRollout(result)}.`);
          return EXIT_OK;
        }),
      );
  },
};
