// A new user's first try: the packed tarball installed from a fresh directory with
// `npm install <tarball> fastify drizzle-orm pg --engine-strict` (on a Node that meets "engines"; on an
// older one, Node 22 from the npm registry's `node` package), the README's five-minute files compiled
// under strict + exactOptionalPropertyTypes, `workos-migrate install` through node-postgres (postgres.js
// is not installed), the server started, a signup mirrored into WorkOS and a login answered.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import { spawnCollecting } from './helpers/process.js';
import { STRICT_COMPILER_OPTIONS, snippetsOf } from './helpers/snippets.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'fresh-install-admin-token-0123456789';

// The functions the README leaves to the app, implemented: a signup that inserts the user, a legacy
// check (a salted sha256, as an old app might), a session.
const YOUR_APP = `import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { db } from './db.js';
import { users } from './schema.js';

const legacyHash = (password: string) => 'sha256:' + createHash('sha256').update('salt:' + password).digest('hex');

export async function signupHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { email, password } = request.body as { email: string; password: string };
  const [row] = await db.insert(users).values({ email, passwordHash: legacyHash(password) }).returning({ id: users.id });
  return reply.code(201).send({ id: row?.id });
}

export async function yourOldPasswordCheck(password: string, passwordHash: string): Promise<boolean> {
  return legacyHash(password) === passwordHash;
}

export async function createYourSession(localUserId: string): Promise<{ token: string }> {
  return { token: 'session-' + localUserId };
}
`;

const TSCONFIG = {
  compilerOptions: { ...STRICT_COMPILER_OPTIONS, outDir: 'build', rootDir: '.' },
  include: ['src', 'workos-migrate.config.ts'],
};

let dir: string;
let database: TestDatabase;
let t: TestEmulator;
let nodeBin: string;
const children: ChildProcess[] = [];

/** A Node that meets the package's engines (>= 22.11): this one, or the Node 22 .ci/run pins, from the npm registry. */
function engineNode(): string {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  return execFileSync('npx', ['--yes', '-p', 'node@22.23.3', '--', 'node', '-p', 'process.execPath'], {
    encoding: 'utf8',
  }).trim();
}

function sh(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  // The engine Node first on PATH, so npm itself (and its engine check) runs on it.
  const env = { ...process.env, ...options.env, PATH: `${dirname(nodeBin)}${delimiter}${process.env.PATH}` };
  try {
    const stdout = execFileSync(command, args, { cwd: options.cwd, env, encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const failed = error as { status?: number; stdout?: string; stderr?: string };
    return { code: failed.status ?? 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

beforeAll(async () => {
  nodeBin = engineNode();
  dir = mkdtempSync(join(tmpdir(), 'wm-fresh-'));
  database = await createTestDatabase();
  t = await startTestEmulator({ requireEmailVerification: false });
}, 180_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await t?.close();
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('the packed tarball installs with --engine-strict, the five-minute path compiles under strict and works', async () => {
  // The tarball as published (dist built by `npm test`): no source maps, a LICENSE, no install script.
  const packed = sh('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT });
  expect(packed.code, packed.stderr).toBe(0);
  const [pack] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const files = pack?.files.map((file) => file.path) ?? [];
  expect(files).toContain('LICENSE');
  expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
  expect(files.some((file) => file.startsWith('src/'))).toBe(false);

  const app = join(dir, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }),
  );
  const installed = sh(
    'npm',
    [
      'install',
      '--engine-strict',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(dir, pack?.filename ?? ''),
      'fastify',
      'drizzle-orm',
      'pg',
      'typescript@5',
      '@types/node@22',
      '@types/pg',
    ],
    { cwd: app },
  );
  expect(installed.code, installed.stderr).toBe(0);
  // No install script of ours, and none of the emulator's dependencies in a plugin user's tree.
  expect(installed.stderr).not.toMatch(/workos-migrate.*(install|postinstall|prepare)/);
  for (const name of ['@node-rs/argon2', 'bcryptjs', 'ulid', 'postgres']) {
    expect(
      sh(nodeBin, ['-e', `import(${JSON.stringify(name)}).then(() => process.exit(3), () => {})`], {
        cwd: app,
      }).code,
    ).toBe(0);
  }

  // The README's five-minute files, as written, plus the app's own functions.
  const readme = snippetsOf(ROOT, 'README.md').filter((snippet) =>
    ['src/schema.ts', 'workos-migrate.config.ts', 'src/db.ts', 'src/server.ts'].includes(snippet.path),
  );
  expect(readme.map((snippet) => snippet.path).sort()).toEqual([
    'src/db.ts',
    'src/schema.ts',
    'src/server.ts',
    'workos-migrate.config.ts',
  ]);
  for (const snippet of readme) writeFileSync(join(app, snippet.path), snippet.code);
  writeFileSync(join(app, 'src/your-app.ts'), YOUR_APP);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  const compiled = sh(nodeBin, [join(app, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app });
  expect(compiled.stdout + compiled.stderr).toBe('');

  const cli = join(app, 'node_modules/workos-migrate/dist/cli/bin.js');
  const help = sh(nodeBin, [cli, '--help'], { cwd: app });
  expect(help.code, help.stderr).toBe(0);
  const emulator = sh(nodeBin, [cli, 'emulator', '--port', '0'], { cwd: app });
  expect(emulator.code).not.toBe(0);
  expect(emulator.stderr).toContain('npm install --save-dev @node-rs/argon2 bcryptjs ulid');

  // The app's own migration made the table; then `install` (the TypeScript config, DATABASE_URL, pg).
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  await admin.query(`CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, first_name text,
    last_name text, email_verified boolean NOT NULL DEFAULT false, password_hash text)`);
  await admin.end();
  const env = {
    DATABASE_URL: database.url,
    WORKOS_API_KEY: t.emulator.apiKey,
    WORKOS_CLIENT_ID: t.emulator.clientId,
    WORKOS_API_URL: t.emulator.url,
    WORKOS_MIGRATE_ADMIN_TOKEN: TOKEN,
    PORT: '0',
  };
  const install = sh(nodeBin, [cli, 'install', '--json'], { cwd: app, env });
  expect(install.code, install.stderr).toBe(0);
  expect(JSON.parse(install.stdout)).toMatchObject({ installed: true, state: 'current' });

  const { child: server, output } = spawnCollecting(nodeBin, [join(app, 'build/src/server.js')], {
    cwd: app,
    env: { ...process.env, ...env },
  });
  children.push(server);
  const base = await waitFor(
    () => /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1],
    60_000,
    'server start',
  );
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  expect((await post('/signup', { email: 'first@example.com', password: 'correct horse' })).status).toBe(201);
  await waitFor(() => t.emulator.control.getUser('app_1'), 30_000, 'the signup mirrored into WorkOS');
  expect(t.emulator.control.getUser('app_1')?.user.email).toBe('first@example.com');
  const good = await post('/login', { email: 'first@example.com', password: 'correct horse' });
  expect(good.status).toBe(200);
  expect(await good.json()).toEqual({ token: 'session-1' });
  expect((await post('/login', { email: 'first@example.com', password: 'wrong horse' })).status).toBe(401);
  const status = async () =>
    (await (
      await fetch(`${base}/workos-migrate/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { users: number; synced: number };
  // The worker records the sync a statement after WorkOS answered: wait for that, not only for WorkOS.
  await waitFor(async () => (await status()).synced === 1, 30_000, 'the sync recorded');
  expect(await status()).toMatchObject({ users: 1, synced: 1 });
  server.kill('SIGTERM');
}, 240_000);
