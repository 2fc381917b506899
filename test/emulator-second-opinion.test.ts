// Second opinion: a small migration (import, live updates, verify) against WorkOS's own emulator, from the
// pinned `workos` CLI package in .ci/workos-emulator, instead of ours. It catches the places where our
// client leans on behaviour only our emulator has.
//
// Opt-in (CI sets it in .ci/run):
//   npm ci --prefix .ci/workos-emulator && npm run build && \
//     WORKOS_MIGRATE_WORKOS_CLI_EMULATOR=1 npx vitest run test/emulator-second-opinion.test.ts
//
// Its `createEmulator()` takes no host and listens on every interface, so its server is assembled here
// from the same parts (its Hono app and WorkOS plugin, the `@hono/node-server` it ships with) and bound
// to 127.0.0.1 only. Its known gaps, tolerated and asserted as such so a change in them is noticed:
// it drops imported password hashes (no sign-in with them), answers 409 `user_already_exists` for a
// taken email, and ignores `email` on update (answers 200 with the old email).
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WorkOS } from '@workos-inc/node';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkosMigrate } from 'workos-migrate';
import { verify } from '../src/cli/verify.js';
import { resolveConfig } from '../src/core/config.js';
import { type AppDatabase, engine, engineConfig, openPostgres } from './helpers/app.js';

const ENABLED = process.env.WORKOS_MIGRATE_WORKOS_CLI_EMULATOR === '1';
const PACKAGES = fileURLToPath(new URL('../.ci/workos-emulator/node_modules/', import.meta.url));
const API_KEY = 'sk_test_second_opinion';
const CLIENT_ID = 'client_second_opinion';

interface CliEmulator {
  url: string;
  address: string;
  close(): Promise<void>;
}

/** WorkOS's emulator, in-process, on loopback only. */
async function startCliEmulator(): Promise<CliEmulator> {
  const load = (path: string) => import(pathToFileURL(`${PACKAGES}${path}`).href);
  if (!existsSync(`${PACKAGES}workos/package.json`)) {
    throw new Error('WorkOS CLI emulator not installed: run `npm ci --prefix .ci/workos-emulator`');
  }
  const { createServer } = await load('workos/dist/emulate/core/index.js');
  const { workosPlugin } = await load('workos/dist/emulate/workos/index.js');
  const { serve } = await load('@hono/node-server/dist/index.mjs');
  const base = 'http://127.0.0.1';
  const { app, store, jwt } = createServer(workosPlugin, {
    port: 0,
    baseUrl: base,
    apiKeys: { [API_KEY]: { environment: 'test' } },
  });
  workosPlugin.seed?.(store, base);
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { address, port } = server.address() as AddressInfo;
  jwt.issuer = `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    address,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((error: Error | undefined) => (error ? reject(error) : resolve()));
      }),
  };
}

describe.skipIf(!ENABLED)(
  "a small migration against WorkOS's own emulator (opt-in: WORKOS_MIGRATE_WORKOS_CLI_EMULATOR=1)",
  () => {
    let cli: CliEmulator;
    let app: AppDatabase;
    let migrate: WorkosMigrate;
    let workos: WorkOS;
    const target = () => ({ url: cli.url, apiKey: API_KEY, clientId: CLIENT_ID });

    async function insertUser(row: Record<string, unknown>): Promise<number> {
      const columns = Object.keys(row);
      const [inserted] = await app.exec(
        `INSERT INTO users (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
        Object.values(row),
      );
      return Number(inserted?.id);
    }

    const remote = (id: number) => workos.userManagement.getUserByExternalId(`app_${id}`);

    beforeAll(async () => {
      cli = await startCliEmulator();
      app = await openPostgres();
      workos = new WorkOS(API_KEY, {
        apiHostname: '127.0.0.1',
        port: Number(new URL(cli.url).port),
        https: false,
        maxRetries: 0,
      });
      migrate = engine(app.db, target());
      await migrate.worker.start();
    }, 60_000);

    afterAll(async () => {
      await migrate?.worker.stop();
      await app?.close();
      await cli?.close();
    });

    it('listens on loopback only', () => {
      expect(cli.address).toBe('127.0.0.1');
    });

    it('imports, mirrors live updates and deletes, and verify finds nothing but its known email gap', async () => {
      const hash = bcrypt.hashSync('a long passphrase', 4);
      const ids: number[] = [];
      for (let i = 0; i < 8; i++) {
        ids.push(
          await insertUser({
            email: `user${i}@example.com`,
            first_name: `First${i}`,
            last_name: i % 2 ? `Last${i}` : null,
            email_verified: i % 3 === 0,
            password_hash: hash,
            plan: i % 2 ? 'pro' : null,
          }),
        );
      }
      await migrate.enqueueBackfill();
      for (const id of ids)
        expect(await migrate.syncNow(id), `user ${id}`).toMatchObject({ status: 'synced' });
      for (const [index, id] of ids.entries()) {
        expect(await remote(id)).toMatchObject({
          email: `user${index}@example.com`,
          firstName: `First${index}`,
          lastName: index % 2 ? `Last${index}` : null,
          emailVerified: index % 3 === 0,
          externalId: `app_${id}`,
          metadata: index % 2 ? { plan: 'pro' } : {},
        });
      }

      // Live updates: names, metadata, a new signup, a delete.
      const [renamed, upgraded, removed] = ids as [number, number, number];
      await app.exec(`UPDATE users SET first_name = 'Renamed', last_name = 'Person' WHERE id = $1`, [
        renamed,
      ]);
      await app.exec(`UPDATE users SET plan = 'team' WHERE id = $1`, [upgraded]);
      const signup = await insertUser({ email: 'late@example.com', first_name: 'Late', password_hash: hash });
      await app.exec('DELETE FROM users WHERE id = $1', [removed]);
      for (const id of [renamed, upgraded, signup, removed]) {
        expect(await migrate.syncNow(id), `user ${id}`).toMatchObject({ status: 'synced' });
      }
      expect(await remote(renamed)).toMatchObject({ firstName: 'Renamed', lastName: 'Person' });
      expect((await remote(upgraded)).metadata).toEqual({ plan: 'team' });
      expect((await remote(signup)).email).toBe('late@example.com');
      await expect(remote(removed)).rejects.toMatchObject({ status: 404 });

      // Its gap: an email change is answered 200 and not applied. Whatever our side records (synced
      // today, a dead letter once writes are confirmed from the answer), verify must report it.
      const moved = ids[3] as number;
      await app.exec(`UPDATE users SET email = 'moved@example.com' WHERE id = $1`, [moved]);
      const outcome = await migrate.syncNow(moved);
      expect(['synced', 'dead']).toContain(outcome.status);
      expect((await remote(moved)).email).toBe('user3@example.com');

      const report = await verify(app.db, resolveConfig(engineConfig(app.db, target())), workos, {
        sample: 0,
        full: true,
      });
      const drifted = report.drift.map((entry) => ({
        userId: entry.userId,
        fields: entry.fields.map((f) => f.field),
      }));
      // Only the ignored email change drifts; a user dead-lettered for it is left out of the comparison.
      expect(drifted).toEqual(
        outcome.status === 'synced' ? [{ userId: String(moved), fields: ['email'] }] : [],
      );
      expect(report.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(
        outcome.status === 'synced' ? ['readback'] : expect.any(Array),
      );
      expect(report.orphans).toEqual([]);
    }, 120_000);

    it("a taken email (its 409) is looked up, not retried forever: a stranger's account is not adopted", async () => {
      await workos.userManagement.createUser({ email: 'stranger@example.com', firstName: 'Stranger' });
      const id = await insertUser({
        email: 'stranger@example.com',
        first_name: 'Mine',
        email_verified: false,
      });
      expect(await migrate.syncNow(id)).toMatchObject({ status: 'dead', reason: 'email_owned_elsewhere' });
      const [holder] = (await workos.userManagement.listUsers({ email: 'stranger@example.com' })).data;
      expect(holder).toMatchObject({ firstName: 'Stranger', externalId: null });
    }, 60_000);

    it('its known gap: imported hashes are dropped, so a sign-in with one cannot be rehearsed there', async () => {
      const id = await insertUser({
        email: 'hashed@example.com',
        email_verified: true,
        password_hash: bcrypt.hashSync('a long passphrase', 4),
      });
      expect(await migrate.syncNow(id)).toMatchObject({ status: 'synced' });
      const signIn = workos.userManagement.authenticateWithPassword({
        email: 'hashed@example.com',
        password: 'a long passphrase',
        clientId: CLIENT_ID,
      });
      const refused = await signIn.then(
        () => null,
        (error: { status?: number }) => error,
      );
      expect(refused?.status, 'WorkOS CLI emulator signed in with a dropped hash').toBeGreaterThanOrEqual(
        400,
      );
    }, 60_000);
  },
);
