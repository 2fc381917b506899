import type { EmulatorOptions } from './options.js';
import type { RunningEmulator } from './types.js';

// The hosted-page client uses only fetch: importing it loads none of the emulator's dependencies.
export * from './hosted-client.js';
export type * from './options.js';
export { DEFAULT_API_KEY, DEFAULT_CLIENT_ID } from './options.js';
export type * from './types.js';

/** The emulator's own dependencies: optional peers, so an app that only uses the plugin never installs them. */
const EMULATOR_DEPENDENCIES = ['@node-rs/argon2', 'bcryptjs', 'ulid'] as const;

/**
 * Starts the emulator. Its dependencies load here, not when `workos-migrate/emulator` is imported, and a
 * missing one is named with the command that installs them all.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const missing: string[] = [];
  for (const name of EMULATOR_DEPENDENCIES) {
    try {
      await import(name);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      missing.push(name);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `workos-migrate: the WorkOS emulator needs ${missing.join(', ')} (optional peer dependencies, not installed): npm install --save-dev ${EMULATOR_DEPENDENCIES.join(' ')}`,
    );
  }
  const server = await import('./server.js');
  return server.startEmulator(options);
}
