// Opt-in integration test of the real-Unleash test infrastructure (test/helpers/unleash-server.ts): a real
// unleash-server (pinned in .ci/unleash) on its own database, driven through its admin API, read by the real
// unleash-client. .ci/run enables it; locally:
//   npm ci --prefix .ci/unleash && WORKOS_MIGRATE_UNLEASH_SERVER=1 npx vitest run test/unleash-server.test.ts
import { once } from 'node:events';
import murmurHash3 from 'murmurhash3js';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureRolloutFlag,
  setFlagEnabled,
  setRolloutPercent,
  startUnleashServer,
  type UnleashServer,
} from './helpers/unleash-server.js';

const ENABLED = process.env.WORKOS_MIGRATE_UNLEASH_SERVER === '1';
const FLAG = 'workos-migrate-cutover';
const USER_IDS = Array.from({ length: 200 }, (_, index) => `user-${index}`);

/** Unleash's flexibleRollout bucket (1-100) for stickiness `default` and groupId = flag name. */
const bucket = (userId: string) => (murmurHash3.x86.hash32(`${FLAG}:${userId}`, 0) % 100) + 1;
const expectedAt = (percent: number) => USER_IDS.map((userId) => percent > 0 && bucket(userId) <= percent);

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const startedAt = performance.now();
  while (!condition()) {
    if (performance.now() - startedAt > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Math.round(performance.now() - startedAt);
}

describe.skipIf(!ENABLED)(
  'real Unleash server (opt-in: `npm ci --prefix .ci/unleash`, then set WORKOS_MIGRATE_UNLEASH_SERVER=1)',
  () => {
    let server: UnleashServer | undefined;
    let client: Unleash | undefined;

    beforeAll(async () => {
      server = await startUnleashServer();
      console.log(`[unleash-server.test] Unleash ready at ${server.url} after ${server.startupMs} ms`);
    }, 90_000);

    afterAll(async () => {
      client?.destroy();
      await server?.close();
    });

    const isEnabled = (userId: string) => client?.isEnabled(FLAG, { userId }) ?? false;
    const rolloutSeen = () => client?.getFeatureToggleDefinition(FLAG)?.strategies?.[0]?.parameters?.rollout;

    it('serves a 30% flexibleRollout that unleash-client evaluates like Unleash buckets', async () => {
      if (!server) throw new Error('no server');
      await ensureRolloutFlag(server, FLAG, 30);
      // Idempotent: a second call updates the same strategy instead of adding one.
      await ensureRolloutFlag(server, FLAG, 30);

      client = new Unleash({
        url: server.apiUrl,
        appName: 'workos-migrate-test',
        customHeaders: { Authorization: server.clientToken },
        storageProvider: new InMemStorageProvider(),
        disableMetrics: true,
        refreshInterval: 1000,
      });
      client.on('error', () => {}); // surfaced by the assertions below instead
      await Promise.race([
        once(client, 'synchronized'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('client did not synchronize')), 15_000)),
      ]);

      const definition = client.getFeatureToggleDefinition(FLAG);
      expect(definition?.enabled).toBe(true);
      expect(definition?.strategies).toHaveLength(1);
      expect(definition?.strategies?.[0]).toMatchObject({
        name: 'flexibleRollout',
        parameters: { rollout: '30', stickiness: 'default', groupId: FLAG },
      });

      const seen = USER_IDS.map(isEnabled);
      expect(seen).toEqual(expectedAt(30));
      const on = seen.filter(Boolean).length;
      expect(on).toBeGreaterThan(30); // about 60 of 200
      expect(on).toBeLessThan(90);
    });

    it('sees admin-API changes (percent, off, on) within a few seconds', async () => {
      if (!server || !client) throw new Error('previous test did not set up the client');

      await setRolloutPercent(server, FLAG, 70);
      const lag70 = await waitFor(() => rolloutSeen() === '70', 10_000, 'rollout 70% reaching the client');
      expect(USER_IDS.map(isEnabled)).toEqual(expectedAt(70));

      await setFlagEnabled(server, FLAG, false);
      const lagOff = await waitFor(() => USER_IDS.every((id) => !isEnabled(id)), 10_000, 'flag off');

      await setFlagEnabled(server, FLAG, true);
      await setRolloutPercent(server, FLAG, 0);
      await waitFor(
        () => client?.getFeatureToggleDefinition(FLAG)?.enabled === true && rolloutSeen() === '0',
        10_000,
        'flag on at 0%',
      );
      expect(USER_IDS.some(isEnabled)).toBe(false);

      await setRolloutPercent(server, FLAG, 100);
      await waitFor(() => rolloutSeen() === '100', 10_000, 'rollout 100%');
      expect(USER_IDS.every(isEnabled)).toBe(true);

      console.log(`[unleash-server.test] propagation: 30->70% ${lag70} ms, off ${lagOff} ms`);
    }, 45_000);
  },
);
