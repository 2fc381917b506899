// The same admin surface mounted by both adapters, driven through real HTTP handling (Fastify's inject,
// supertest on Express), behind one call shape so each admin test runs against both.
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { WorkosMigrate, WorkosMigrateConfig } from 'workos-migrate';
import { createWorkosMigrateMiddleware, type WorkosMigrateExpressOptions } from 'workos-migrate/express';
import workosMigrate, { type WorkosMigrateFastifyOptions } from 'workos-migrate/fastify';
import { type AppDatabase, engineConfig, openPostgres } from './app.js';
import { startTestEmulator, type TestEmulator } from './emulator.js';

export interface AdminCall {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): Record<string, unknown>;
}

export interface AdminApp {
  migrate: WorkosMigrate;
  call(call: AdminCall): Promise<Answer>;
  close(): Promise<void>;
}

export type Adapter = 'fastify' | 'express';

const answer = (status: number, headers: Answer['headers'], text: string): Answer => ({
  status,
  headers,
  text,
  json: () => JSON.parse(text) as Record<string, unknown>,
});

/** An app with the plugin or middleware, admin options, and a guarded `POST /signup`. */
export async function adminApp(
  adapter: Adapter,
  config: WorkosMigrateConfig,
  admin: NonNullable<WorkosMigrateFastifyOptions['admin']>,
): Promise<AdminApp> {
  if (adapter === 'fastify') {
    // Trusting the proxy header lets a test speak as if over HTTPS (X-Forwarded-Proto: https).
    const fastify: FastifyInstance = Fastify({ trustProxy: true });
    const { worker: _worker, ...rest } = config;
    await fastify.register(workosMigrate, { ...rest, worker: false, admin } as WorkosMigrateFastifyOptions);
    fastify.post('/signup', { config: { workosMigrate: { freeze: true } } }, async () => ({ created: true }));
    await fastify.ready();
    return {
      migrate: fastify.workosMigrate,
      async call({ method, url, headers = {}, body }) {
        const res = await fastify.inject({
          method,
          url,
          headers: { host: 'localhost', ...headers },
          ...(body === undefined ? {} : { payload: body as object }),
        });
        return answer(res.statusCode, res.headers as Answer['headers'], res.body);
      },
      close: () => fastify.close(),
    };
  }
  const mw = createWorkosMigrateMiddleware({ ...config, admin } as WorkosMigrateExpressOptions);
  await mw.start({ worker: false });
  const server = express();
  server.set('trust proxy', true);
  // No body parser on purpose for the admin paths: the middleware reads JSON itself when none ran.
  server.use(mw);
  server.post('/signup', mw.freezeGuard(), (_req, res) => {
    res.status(201).json({ created: true });
  });
  return {
    migrate: mw.migrate,
    async call({ method, url, headers = {}, body }) {
      let req = (method === 'GET' ? request(server).get(url) : request(server).post(url)).set(
        'host',
        'localhost',
      );
      for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
      if (body !== undefined) req = req.set('content-type', 'application/json').send(JSON.stringify(body));
      const res = await req;
      return answer(res.status, res.headers as Answer['headers'], res.text);
    },
    close: () => mw.stop(),
  };
}

/** Back to an empty migration between tests: no users, no outbox, no settings, no leader. */
export async function emptyMigration(app: { exec(statement: string): Promise<unknown> }): Promise<void> {
  await app.exec('DELETE FROM workos_migrate.settings');
  await app.exec('TRUNCATE workos_migrate.outbox, workos_migrate.sync_state, workos_migrate.leader');
  await app.exec('ALTER TABLE users DISABLE TRIGGER workos_migrate_capture_truncate');
  await app.exec('TRUNCATE users');
  await app.exec('ALTER TABLE users ENABLE TRIGGER workos_migrate_capture_truncate');
}

/**
 * A test file's shared parts: one database with the library installed, the emulator, and the admin
 * apps it opens (closed, and the migration emptied, after each test).
 */
export function adminTestbed(emulatorOptions?: Parameters<typeof startTestEmulator>[0]) {
  let app: AppDatabase & { url: string };
  let t: TestEmulator;
  const opened: AdminApp[] = [];
  beforeAll(async () => {
    app = await openPostgres();
    t = await startTestEmulator(emulatorOptions);
  });
  afterEach(async () => {
    while (opened.length > 0) await opened.pop()?.close();
    await emptyMigration(app);
    t.emulator.control.reset();
  });
  afterAll(async () => {
    await t?.close();
    await app?.close();
  });
  return {
    get app() {
      return app;
    },
    get emulator() {
      return t.emulator;
    },
    config: (): WorkosMigrateConfig => engineConfig(app.db, t.emulator),
    async open(adapter: Adapter, admin: NonNullable<WorkosMigrateFastifyOptions['admin']>) {
      const built = await adminApp(adapter, engineConfig(app.db, t.emulator), admin);
      opened.push(built);
      return built;
    },
  };
}
