import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DrizzleDatabase } from '../core/db.js';
import { WorkosMigrateError } from '../core/errors.js';

export interface EmbeddedDatabase {
  /** A Drizzle database over PGlite. */
  db: DrizzleDatabase;
  /** The directory holding the data files. */
  dataDir: string;
  close(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock file of an embedded database directory. PGlite is one process: a second process
 * opening the same files would corrupt them, so it is refused with the holder's pid. A lock left
 * by a process that no longer exists is taken over.
 */
function takeLock(dataDir: string): () => void {
  const lockFile = join(dataDir, 'workos-migrate.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && processAlive(holder)) {
        throw new WorkosMigrateError(
          'database_locked',
          `workos-migrate: the embedded database in ${dataDir} is open in process ${holder}; stop it, or change flags through its admin routes (\`workos-migrate freeze|rollout --app-url URL --token T\`)`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new WorkosMigrateError('database_locked', `workos-migrate: could not lock ${dataDir}`);
}

/**
 * Opens (creating if needed) the embedded PGlite database the example app and the CLI use when
 * DATABASE_URL is unset. Needs the optional peer dependency `@electric-sql/pglite`.
 */
export async function openEmbeddedDatabase(dataDir = '.workos-migrate/pglite'): Promise<EmbeddedDatabase> {
  const directory = resolve(dataDir);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const release = takeLock(directory);
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const { drizzle } = await import('drizzle-orm/pglite');
    const client = new PGlite(directory);
    await client.waitReady;
    return {
      db: drizzle(client) as unknown as DrizzleDatabase,
      dataDir: directory,
      close: async () => {
        await client.close();
        release();
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}
