import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openEmbeddedDatabase } from 'workos-migrate/drizzle';

const dir = mkdtempSync(join(tmpdir(), 'embedded-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('refuses a second process on the same embedded database, and reopens after it stops', async () => {
  const dataDir = join(dir, 'pglite');
  // Another process opens the database and holds it until we close its stdin.
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { openEmbeddedDatabase } from 'workos-migrate/drizzle';
       const handle = await openEmbeddedDatabase(${JSON.stringify(dataDir)});
       process.stdout.write('open\\n');
       process.stdin.on('end', async () => { await handle.close(); process.exit(0); });
       process.stdin.resume();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('open') && resolve());
    holder.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  await expect(openEmbeddedDatabase(dataDir)).rejects.toThrow(new RegExp(`open in process ${holder.pid}`));
  holder.stdin.end();
  await new Promise((resolve) => holder.on('exit', resolve));

  const handle = await openEmbeddedDatabase(dataDir);
  const rows = (await handle.db.execute((await import('drizzle-orm')).sql`SELECT 1 AS one`)) as unknown as {
    rows: { one: number }[];
  };
  expect(rows.rows[0]?.one).toBe(1);
  await handle.close();
}, 60_000);
