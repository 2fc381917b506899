// The built CLI (`node dist/cli/bin.js`) as an operator runs it: a temp directory whose config file
// maps the test users table (test/helpers/app.ts) and whose node_modules holds this package.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const config = (worker: string) => `import { boolean, pgTable, serial, text } from 'drizzle-orm/pg-core';
import { defineConfig, defineUsersMapping } from 'workos-migrate';
import { workosUserId } from 'workos-migrate/drizzle';

const users = pgTable('users', {
  id: serial('id').primaryKey(),
  email: text('email'),
  emailVerified: boolean('email_verified').notNull().default(false),
  passwordHash: text('password_hash'),
  workosUserId: workosUserId(),
});

export default defineConfig({
  users: defineUsersMapping({ table: users, id: users.id, email: users.email, emailVerified: users.emailVerified, passwordHash: users.passwordHash }),
  externalIdPrefix: 'app_',
  worker: ${worker},
});
`;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliWorkspace {
  run(args: string[], env?: NodeJS.ProcessEnv): Promise<CliRun>;
  remove(): void;
}

/** `worker`: the config's worker options as source text (default: a 3 s lease, fast polling). */
export function cliWorkspace(
  env: NodeJS.ProcessEnv,
  worker = '{ pollMs: 20, leaseMs: 3_000, leaderLeaseMs: 600 }',
): CliWorkspace {
  const dir = mkdtempSync(join(tmpdir(), 'wm-cli-admin-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'workos-migrate'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'drizzle-orm'), join(dir, 'node_modules', 'drizzle-orm'), 'dir');
  writeFileSync(join(dir, 'workos-migrate.config.ts'), config(worker));
  return {
    run(args, extra = {}) {
      const child = spawn(process.execPath, [join(ROOT, 'dist/cli/bin.js'), ...args], {
        cwd: dir,
        env: { ...process.env, ...env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      return new Promise((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
