// Embedded defaults: PGlite when DATABASE_URL is unset, the local WorkOS emulator when WORKOS_API_KEY is.
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { WorkerOptions } from 'workos-migrate';
import { openEmbeddedDatabase } from 'workos-migrate/drizzle';
import { type FaultOptions, type RunningEmulator, startEmulator } from 'workos-migrate/emulator';
import type { AppDatabase, AppOptions } from './app.js';
import { EXTERNAL_ID_PREFIX, usersMapping } from './config.js';

export interface OpenedDatabase {
  db: AppDatabase;
  description: string;
  close(): Promise<void>;
}

export async function openDatabase(dataDir = '.workos-migrate/pglite'): Promise<OpenedDatabase> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const client = postgres(url, { max: 10, onnotice: () => {} });
    return {
      db: drizzle(client) as unknown as AppDatabase,
      description: `PostgreSQL at ${new URL(url).host}`,
      close: () => client.end({ timeout: 5 }),
    };
  }
  // One process owns an embedded database: a lock file refuses a second one with a clear message.
  const embedded = await openEmbeddedDatabase(dataDir);
  return {
    db: embedded.db as unknown as AppDatabase,
    description: `embedded PGlite in ${embedded.dataDir}`,
    close: () => embedded.close(),
  };
}

export interface WorkosTarget {
  apiKey: string;
  clientId: string;
  apiUrl?: string;
  /** Set when the local emulator was started in this process. */
  emulator?: RunningEmulator;
  description: string;
}

/**
 * Real WorkOS when WORKOS_API_KEY is set; otherwise the emulator, in this process, with a write
 * limit of `emulatorWritesPerSecond` (WorkOS documents about 50/s; the demo runs faster).
 */
export async function connectWorkos(options: {
  emulatorWritesPerSecond: number;
  faults?: FaultOptions;
  /** Keep the emulator's state in this file, beside a database that persists, so a restart tells the truth. */
  emulatorDataFile?: string;
}): Promise<WorkosTarget> {
  const apiKey = process.env.WORKOS_API_KEY;
  if (apiKey) {
    const clientId = process.env.WORKOS_CLIENT_ID ?? '';
    return {
      apiKey,
      clientId,
      ...(process.env.WORKOS_API_URL ? { apiUrl: process.env.WORKOS_API_URL } : {}),
      description: `WorkOS at ${process.env.WORKOS_API_URL ?? 'https://api.workos.com'}`,
    };
  }
  const emulator = await startEmulator({
    rateLimits: { writes: { limit: options.emulatorWritesPerSecond, windowMs: 1_000 } },
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.emulatorDataFile ? { dataFile: options.emulatorDataFile } : {}),
  });
  return {
    apiKey: emulator.apiKey,
    clientId: emulator.clientId,
    apiUrl: emulator.url,
    emulator,
    description: `the local WorkOS emulator at ${emulator.url} (no WORKOS_API_KEY set; set WORKOS_API_KEY and WORKOS_CLIENT_ID to use real WorkOS)`,
  };
}

/**
 * The plugin options of the example app for a WorkOS target: the mapping, the target, and a worker
 * that spends the emulator's larger budget (the demo's 250 writes/s) but keeps the default 45/s
 * against real WorkOS.
 */
export function migrationOptions(
  workos: WorkosTarget,
  emulatorWorker: WorkerOptions = {},
): AppOptions['migration'] {
  return {
    users: usersMapping,
    externalIdPrefix: EXTERNAL_ID_PREFIX,
    workos: {
      apiKey: workos.apiKey,
      clientId: workos.clientId,
      ...(workos.apiUrl ? { apiUrl: workos.apiUrl } : {}),
    },
    worker: workos.emulator ? { ratePerSecond: 200, concurrency: 32, ...emulatorWorker } : {},
    // AuthKit sign-ins (GET /sign-in) need the client id; against real WorkOS, register
    // <publicUrl>/auth/callback as a redirect URI in the dashboard.
    ...(workos.clientId ? { authkit: {} } : {}),
  };
}
