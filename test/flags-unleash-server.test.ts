// Flags with Unleash as the source, against a real unleash-server (the pinned one in .ci/unleash, started by
// test/helpers/unleash-server.ts) and the real unleash-client inside the engine: our setters and the admin API
// both change what `migrate.flags` answers; users stay in their bucket while the rollout grows; moving from the
// stored setting to Unleash keeps every user where they were. Real PostgreSQL and the emulator too.
// Opt-in (.ci/run sets it); locally:
//   npm ci --prefix .ci/unleash && npm run build && WORKOS_MIGRATE_UNLEASH_SERVER=1 npx vitest run test/flags-unleash-server.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkosMigrate, type WorkosMigrate, type WorkosMigrateConfig } from 'workos-migrate';
import { inRollout } from 'workos-migrate/flags';
import { type AppDatabase, engineConfig, openPostgres } from './helpers/app.js';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import {
  ensureRolloutFlag,
  setFlagEnabled,
  setRolloutPercent,
  startUnleashServer,
  UNLEASH_ENVIRONMENT,
  UNLEASH_PROJECT,
  type UnleashServer,
} from './helpers/unleash-server.js';

const ENABLED = process.env.WORKOS_MIGRATE_UNLEASH_SERVER === '1';
const CUTOVER = 'workos-migrate-cutover';
const FREEZE = 'workos-migrate-freeze';
/** How long a change may take to reach the engine's client (it polls every 500 ms here). */
const PROPAGATION_MS = 10_000;

const PEOPLE = Array.from({ length: 1_000 }, (_, index) => {
  const flavour = ['', 'é', '中文', '🚀', 'Ωμ'][index % 5];
  return { userId: `${flavour}u${index}`, email: `person${index}@example.com` };
});

async function waitFor(condition: () => boolean, what: string): Promise<number> {
  const startedAt = performance.now();
  while (!condition()) {
    if (performance.now() - startedAt > PROPAGATION_MS) {
      throw new Error(`${what}: not within ${PROPAGATION_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Math.round(performance.now() - startedAt);
}

describe.skipIf(!ENABLED)(
  'flags with a real Unleash server (opt-in: `npm ci --prefix .ci/unleash`, then WORKOS_MIGRATE_UNLEASH_SERVER=1)',
  () => {
    let server: UnleashServer;
    let app: AppDatabase & { url: string };
    let t: TestEmulator;
    let migrate: WorkosMigrate;
    const engines: WorkosMigrate[] = [];
    const warnings: string[] = [];
    const delays: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (obj: object, msg?: string) => warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
      error: (obj: object, msg?: string) => warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    };

    const make = (overrides: Partial<WorkosMigrateConfig> = {}) => {
      const engine = createWorkosMigrate(engineConfig(app.db, t.emulator, overrides));
      engines.push(engine);
      return engine;
    };
    const unleashOptions = () => ({
      url: server.apiUrl,
      apiToken: server.clientToken,
      adminToken: server.adminToken,
      refreshIntervalMs: 500,
    });

    /** The server's own view of the cutover flag's strategies in `development` (admin API). */
    async function serverStrategies(name: string) {
      const response = await fetch(
        `${server.url}/api/admin/projects/${UNLEASH_PROJECT}/features/${name}/environments/${UNLEASH_ENVIRONMENT}/strategies`,
        { headers: { Authorization: server.adminToken, Accept: 'application/json' } },
      );
      expect(response.status).toBe(200);
      return (await response.json()) as { name: string; parameters: Record<string, string> }[];
    }

    const insideNow = () => PEOPLE.filter((person) => migrate.flags.rolloutFor(person) === 'in-rollout');
    const expectedInside = (percent: number) =>
      PEOPLE.filter((person) => inRollout(percent, CUTOVER, person.userId));

    beforeAll(async () => {
      [server, app, t] = await Promise.all([startUnleashServer(), openPostgres(), startTestEmulator()]);
      migrate = make({ flags: { unleash: unleashOptions() }, logger });
      await migrate.flags.start();
    }, 120_000);

    afterAll(async () => {
      await Promise.all(engines.map((engine) => engine.close()));
      await server?.close();
      await app?.close();
      await t?.close();
      if (delays.length)
        console.log(`[flags-unleash-server.test] setter -> engine sees it: ${delays.join(', ')}`);
    });

    it('synchronises with the server: ready, Unleash is the source, no flags yet means no freeze and the kill switch', () => {
      expect(migrate.flags.ready).toBe(true);
      expect(migrate.flags.freeze()).toEqual({
        on: false,
        source: 'unleash',
        sources: { env: null, unleash: false, stored: false },
        ready: true,
      });
      expect(migrate.flags.rollout()).toEqual({ percent: 0, source: 'unleash', ready: true });
      expect(PEOPLE.every((person) => migrate.flags.rolloutFor(person) === 'kill-switch')).toBe(true);
    });

    it('setFreeze through our setter creates and flips the freeze flag on the server', async () => {
      const answered = await migrate.flags.setFreeze(true);
      expect(answered.source).toBe('unleash');
      delays.push(`freeze on ${await waitFor(() => migrate.flags.freeze().on, 'freeze on')} ms`);
      expect(migrate.flags.freeze()).toMatchObject({
        on: true,
        source: 'unleash',
        sources: { unleash: true },
      });
      expect(migrate.flags.signupsFrozen()).toBe(true);

      await migrate.flags.setFreeze(false);
      delays.push(`freeze off ${await waitFor(() => !migrate.flags.freeze().on, 'freeze off')} ms`);
      expect(migrate.flags.signupsFrozen()).toBe(false);
    });

    it('ramps 0 -> 10 -> 50 -> 100 through setRollout; users in at 10% stay in; the strategy groups by the flag name', async () => {
      await migrate.flags.setRollout(0);
      const [atZero] = await serverStrategies(CUTOVER);
      expect(atZero).toMatchObject({
        name: 'flexibleRollout',
        parameters: { rollout: '0', groupId: CUTOVER, stickiness: 'default' },
      });
      await waitFor(() => migrate.flags.rollout().percent === 0, 'rollout 0');
      expect(PEOPLE.every((person) => migrate.flags.rolloutFor(person) === 'kill-switch')).toBe(true);

      let previous: typeof PEOPLE = [];
      for (const percent of [10, 50, 100]) {
        expect((await migrate.flags.setRollout(percent)).percent).toBe(percent);
        const strategies = await serverStrategies(CUTOVER);
        expect(strategies).toHaveLength(1);
        expect(strategies[0]).toMatchObject({
          name: 'flexibleRollout',
          parameters: { rollout: String(percent), groupId: CUTOVER, stickiness: 'default' },
        });
        const delay = await waitFor(() => migrate.flags.rollout().percent === percent, `rollout ${percent}`);
        delays.push(`rollout ${percent}% ${delay} ms`);
        const inside = insideNow();
        // Unleash's own evaluation (the engine asks its client) equals our bucketing, non-ASCII ids included.
        expect(inside).toEqual(expectedInside(percent));
        expect(previous.every((person) => inside.includes(person))).toBe(true);
        if (percent < 100) {
          expect(inside.length).toBeGreaterThan(PEOPLE.length * (percent / 100 - 0.06));
          expect(inside.length).toBeLessThan(PEOPLE.length * (percent / 100 + 0.06));
        } else {
          expect(inside).toHaveLength(PEOPLE.length);
        }
        previous = inside;
      }
      // The strategy our setter wrote matches this config, so the client never warned about it.
      expect(warnings.filter((line) => /buckets differently/.test(line))).toEqual([]);
    });

    it('changes made directly through the admin API reach the engine too', async () => {
      await setRolloutPercent(server, CUTOVER, 25);
      delays.push(
        `admin API rollout 25% ${await waitFor(() => migrate.flags.rollout().percent === 25, 'admin rollout 25')} ms`,
      );
      expect(insideNow()).toEqual(expectedInside(25));

      await setFlagEnabled(server, CUTOVER, false);
      await waitFor(() => migrate.flags.rollout().percent === 0, 'cutover flag off');
      expect(PEOPLE.every((person) => migrate.flags.rolloutFor(person) === 'kill-switch')).toBe(true);
      await setFlagEnabled(server, CUTOVER, true);
      await waitFor(() => migrate.flags.rollout().percent === 25, 'cutover flag back on');
      expect(insideNow()).toEqual(expectedInside(25));

      await setFlagEnabled(server, FREEZE, true);
      await waitFor(() => migrate.flags.freeze().on, 'admin freeze on');
      expect(migrate.flags.signupsFrozen()).toBe(true);
      await setFlagEnabled(server, FREEZE, false);
      await waitFor(() => !migrate.flags.freeze().on, 'admin freeze off');
    });

    it('moving from the stored setting to Unleash at the same percent keeps every user where they were', async () => {
      const stored = make(); // no Unleash configured: the stored setting is the source
      await stored.flags.setRollout(37);
      await migrate.flags.setRollout(37);
      await waitFor(() => migrate.flags.rollout().percent === 37, 'rollout 37');
      const storedSide = PEOPLE.map((person) => stored.flags.rolloutFor(person));
      const unleashSide = PEOPLE.map((person) => migrate.flags.rolloutFor(person));
      expect(stored.flags.rollout().source).toBe('stored');
      expect(unleashSide).toEqual(storedSide);
      expect(storedSide.filter((reason) => reason === 'in-rollout').length).toBeGreaterThan(250);
    });

    it('with Unleash in effect, a setter asked for the stored setting refuses and names Unleash', async () => {
      const before = migrate.flags.rollout().percent;
      await expect(migrate.flags.setRollout(60, { source: 'stored' })).rejects.toMatchObject({
        code: 'flag_source_mismatch',
        message: expect.stringContaining('Unleash'),
      });
      await expect(migrate.flags.setFreeze(true, { source: 'stored' })).rejects.toMatchObject({
        code: 'flag_source_mismatch',
        message: expect.stringContaining('Unleash'),
      });
      const [strategy] = await serverStrategies(CUTOVER);
      expect(strategy?.parameters.rollout).toBe(String(before));
      // The stored setting is untouched: only the previous test's 37% is there, no freeze.
      const rows = await app.exec(
        `SELECT key, value FROM workos_migrate.settings WHERE key IN ('freeze', 'rollout_percent')`,
      );
      expect(rows).toEqual([{ key: 'rollout_percent', value: 37 }]);
      expect(migrate.flags.freeze().on).toBe(false);
    });

    it('a strategy edited on the server to another groupId is reported: users would change sides', async () => {
      expect(warnings.filter((line) => /buckets differently/.test(line))).toEqual([]);
      await ensureRolloutFlag(server, CUTOVER, 37, { groupId: 'edited-in-the-ui' });
      await waitFor(() => warnings.some((line) => /buckets differently/.test(line)), 'groupId warning');
      expect(warnings.find((line) => /buckets differently/.test(line))).toContain('edited-in-the-ui');
      // Unleash's answer is what counts while it is the source: it now groups by the edited groupId.
      expect(insideNow()).toEqual(
        PEOPLE.filter((person) => inRollout(37, 'edited-in-the-ui', person.userId)),
      );
      expect(insideNow()).not.toEqual(expectedInside(37));
    });
  },
);
