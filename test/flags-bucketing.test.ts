// Bucketing (workos-migrate/flags) against Unleash itself: the client specification's rollout cases, the real
// unleash-client evaluating bootstrapped toggles for 100,000 ids (non-ASCII included), and monotonicity.
// No mocks: the specification JSON and unleash-client are the published packages.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf, inRollout } from 'workos-migrate/flags';

const require = createRequire(import.meta.url);
const GROUP = 'workos-migrate-cutover';

// ---------------------------------------------------------------------------------------------
// 1. Conformance with @unleash/client-specification

interface SpecStrategy {
  name: string;
  parameters?: Record<string, string>;
  constraints?: unknown[];
  segments?: unknown[];
}
interface SpecFeature {
  name: string;
  enabled: boolean;
  strategies: SpecStrategy[];
  dependencies?: unknown[];
}
interface SpecContext {
  userId?: string;
  sessionId?: string;
  properties?: Record<string, string>;
  [field: string]: unknown;
}
interface SpecTest {
  description: string;
  context: SpecContext;
  toggleName: string;
  expectedResult: boolean;
}
interface SpecFile {
  name: string;
  state: { features: SpecFeature[] };
  tests: SpecTest[];
}

/** The rollout strategies whose decision is `bucket(groupId, stickiness value) <= percent`. */
const ROLLOUT_STRATEGIES = new Set(['flexibleRollout', 'gradualRolloutUserId', 'gradualRolloutSessionId']);

type Classified =
  | { kind: 'checked'; groupId: string; stickinessValue: string; percent: number }
  | { kind: 'skipped'; why: string };

/**
 * Maps one specification case onto our bucketing, or says why it is outside it. Only the questions bucketing
 * answers are checked; everything Unleash decides before it (which strategy, constraints, segments, a missing
 * stickiness value, random stickiness) is skipped with its reason.
 */
function classify(feature: SpecFeature, context: SpecContext): Classified {
  if (!feature.enabled) return { kind: 'skipped', why: 'toggle disabled (decided before any strategy)' };
  if (feature.dependencies?.length) return { kind: 'skipped', why: 'dependent feature' };
  if (feature.strategies.length !== 1) {
    return { kind: 'skipped', why: `${feature.strategies.length} strategies (strategy OR, not bucketing)` };
  }
  const [strategy] = feature.strategies as [SpecStrategy];
  if (!ROLLOUT_STRATEGIES.has(strategy.name)) {
    return { kind: 'skipped', why: `strategy ${strategy.name} is not a rollout` };
  }
  if (strategy.constraints?.length || strategy.segments?.length) {
    return { kind: 'skipped', why: 'constraints or segments (not expressible by bucketing)' };
  }
  const parameters = strategy.parameters ?? {};
  let groupId: string;
  let percent: number;
  let stickinessValue: string | undefined;
  if (strategy.name === 'flexibleRollout') {
    groupId = parameters.groupId || feature.name;
    percent = Number(parameters.rollout);
    const stickiness = parameters.stickiness || 'default';
    if (stickiness === 'random') return { kind: 'skipped', why: 'random stickiness' };
    if (stickiness === 'default') {
      stickinessValue = context.userId || context.sessionId;
      if (!stickinessValue) {
        return { kind: 'skipped', why: 'default stickiness without userId/sessionId falls back to random' };
      }
    } else {
      const value = context[stickiness] ?? context.properties?.[stickiness];
      stickinessValue = value === undefined || value === null ? undefined : String(value);
    }
  } else {
    groupId = parameters.groupId || '';
    percent = Number(parameters.percentage);
    stickinessValue = strategy.name === 'gradualRolloutUserId' ? context.userId : context.sessionId;
  }
  if (!stickinessValue) {
    return {
      kind: 'skipped',
      why: 'no stickiness value in the context (Unleash answers false before bucketing)',
    };
  }
  return { kind: 'checked', groupId, stickinessValue, percent };
}

// Each file with how many of its cases the filter above leaves (client-specification 6.1.0); pinned so that a
// filter that silently dropped cases, or a specification update that changed them, is noticed.
const SPEC_FILES: [file: string, checked: number][] = [
  ['03-gradual-rollout-user-id-strategy.json', 4],
  ['04-gradual-rollout-session-id-strategy.json', 4],
  ['10-flexible-rollout-strategy.json', 7],
  ['12-custom-stickiness.json', 4],
];

function loadSpec(file: string): SpecFile {
  const path = require.resolve(`@unleash/client-specification/specifications/${file}`);
  return JSON.parse(readFileSync(path, 'utf8')) as SpecFile;
}

describe('conformance with @unleash/client-specification (rollout and stickiness cases)', () => {
  it.each(SPEC_FILES)('%s: the %i bucketing cases give the specified answer', (file, expectedChecked) => {
    const spec = loadSpec(file);
    const features = new Map(spec.state.features.map((feature) => [feature.name, feature]));
    const checked: string[] = [];
    const skipped: string[] = [];
    const mismatches: string[] = [];
    for (const test of spec.tests) {
      const feature = features.get(test.toggleName);
      if (!feature) throw new Error(`${file}: test "${test.description}" names a missing toggle`);
      const verdict = classify(feature, test.context ?? {});
      if (verdict.kind === 'skipped') {
        skipped.push(`${test.description}: ${verdict.why}`);
        continue;
      }
      const { groupId, stickinessValue, percent } = verdict;
      const bucket = bucketOf(groupId, stickinessValue);
      const ours = bucket <= percent;
      // inRollout is what the engine calls: it must agree with the bare bucket comparison.
      expect(inRollout(percent, groupId, stickinessValue)).toBe(ours);
      if (ours !== test.expectedResult) {
        mismatches.push(
          `${test.description}: bucketOf(${JSON.stringify(groupId)}, ${JSON.stringify(stickinessValue)}) = ${bucket}, <= ${percent} is ${ours}, spec says ${test.expectedResult}`,
        );
      }
      checked.push(test.description);
    }
    expect(mismatches).toEqual([]);
    expect(checked.length, `${file}: cases checked (skipped: ${skipped.join('; ')})`).toBeGreaterThan(0);
    expect(checked.length).toBe(expectedChecked);
    expect(checked.length + skipped.length).toBe(spec.tests.length);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Identical to unleash-client for 100,000 ids, non-ASCII included

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABETS = {
  ascii: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.',
  accented: [...'éèêëàâäçñöüßåøæÉÀÇŒœłŁžšĐđăîșțő'],
  cjk: [...'中文用户名字日本語漢字한국어사용자名前山田太郎李王张'],
  emoji: ['😀', '🎉', '👩‍💻', '🚀', '🇫🇷', '🧑🏽‍🚀', '❤️', '𝔘', '🀄', '🫠'],
  other: [...'Привет мир Ωμέγα مرحبا שלום नमस्ते ไทย'],
};
const CATEGORIES = ['ascii', 'numeric', 'accented', 'cjk', 'emoji', 'mixed'] as const;

function makeIds(count: number): { id: string; category: (typeof CATEGORIES)[number] }[] {
  const random = prng(0x5eed);
  const pick = <T>(items: readonly T[] | string): T | string =>
    items[Math.floor(random() * items.length)] as T | string;
  const run = (alphabet: readonly string[] | string, min: number, max: number) =>
    Array.from({ length: min + Math.floor(random() * (max - min + 1)) }, () => pick(alphabet)).join('');
  const ids: { id: string; category: (typeof CATEGORIES)[number] }[] = [];
  for (let i = 0; i < count; i++) {
    const category = CATEGORIES[i % CATEGORIES.length] as (typeof CATEGORIES)[number];
    let id: string;
    switch (category) {
      case 'ascii':
        id = `user-${i}-${run(ALPHABETS.ascii, 0, 12)}`;
        break;
      case 'numeric':
        id = String(i);
        break;
      case 'accented':
        id = `${run(ALPHABETS.accented, 1, 4)}${run(ALPHABETS.ascii, 1, 6)}${i}`;
        break;
      case 'cjk':
        id = `${run(ALPHABETS.cjk, 1, 8)}${i}`;
        break;
      case 'emoji':
        id = `${run(ALPHABETS.emoji, 1, 5)}${i}`;
        break;
      default:
        id = `${run(ALPHABETS.ascii, 0, 3)}${run(ALPHABETS.accented, 0, 2)}${run(ALPHABETS.cjk, 0, 2)}${run(ALPHABETS.emoji, 0, 2)}${run(ALPHABETS.other, 1, 3)}-${i}`;
    }
    ids.push({ id, category });
  }
  return ids;
}

/** murmur3 x86 32 over the UTF-8 bytes: what a "standard" implementation computes. Only to prove the ids matter. */
function murmur3Utf8(text: string, seed = 0): number {
  const bytes = new TextEncoder().encode(text);
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const o = i * 4;
    let k =
      (bytes[o] as number) |
      ((bytes[o + 1] as number) << 8) |
      ((bytes[o + 2] as number) << 16) |
      ((bytes[o + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = blocks * 4;
  switch (bytes.length & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur3's tail
    case 3:
      k ^= (bytes[tail + 2] as number) << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur3's tail
    case 2:
      k ^= (bytes[tail + 1] as number) << 8;
    case 1:
      k ^= bytes[tail] as number;
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const PERCENTS = [1, 37, 99];
const EMAIL_PERCENTS = [37, 99];
const toggleName = (stickiness: string, percent: number) => `cutover-${stickiness}-${percent}`;
const rolloutToggle = (name: string, percent: number, stickiness: string) => ({
  name,
  enabled: true,
  strategies: [
    {
      name: 'flexibleRollout',
      constraints: [],
      parameters: { rollout: String(percent), stickiness, groupId: GROUP },
    },
  ],
});

describe('identical to unleash-client (bootstrapped offline) for 100,000 ids', () => {
  const ids = makeIds(100_000);
  let client: Unleash | undefined;

  beforeAll(async () => {
    client = new Unleash({
      url: 'http://127.0.0.1:9/api',
      appName: 'workos-migrate-bucketing-test',
      refreshInterval: 0,
      disableMetrics: true,
      storageProvider: new InMemStorageProvider(),
      bootstrap: {
        data: [
          ...PERCENTS.map((percent) => rolloutToggle(toggleName('userId', percent), percent, 'userId')),
          ...EMAIL_PERCENTS.map((percent) => rolloutToggle(toggleName('email', percent), percent, 'email')),
        ],
      },
    });
    client.on('error', () => {}); // nothing listens on port 9; bootstrap is all this client has
    // With bootstrap data and no fetch, the client emits 'ready' (it never 'synchronized' with a server).
    await Promise.race([
      once(client, 'ready'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('bootstrap never ready')), 10_000)),
    ]);
  });
  afterAll(() => client?.destroy());

  it('the ids are varied: mostly non-ASCII, and a UTF-8 murmur3 would bucket many of them differently', () => {
    const nonAscii = ids.filter(({ id }) => /[^ -~]/.test(id));
    expect(nonAscii.length).toBeGreaterThan(50_000);
    expect(ids.some(({ id }) => /\p{Extended_Pictographic}/u.test(id))).toBe(true);
    expect(ids.some(({ id }) => /\p{Script=Han}/u.test(id))).toBe(true);
    expect(new Set(ids.map(({ id }) => id)).size).toBe(ids.length);
    // The UTF-8 reference agrees on ASCII (so it is a correct murmur3) and disagrees on non-ASCII ids: the
    // comparison below would catch an implementation that hashed UTF-8.
    const utf8Bucket = (id: string) => (murmur3Utf8(`${GROUP}:${id}`) % 100) + 1;
    for (const { id } of ids.filter((entry) => entry.category === 'ascii').slice(0, 2_000)) {
      expect(utf8Bucket(id)).toBe(bucketOf(GROUP, id));
    }
    const differ = nonAscii.filter(({ id }) => utf8Bucket(id) !== bucketOf(GROUP, id)).length;
    expect(differ / nonAscii.length).toBeGreaterThan(0.9);
  });

  it.each(PERCENTS)('userId stickiness at %i percent: isEnabled === inRollout for every id', (percent) => {
    const name = toggleName('userId', percent);
    const unleash = client as Unleash;
    let enabled = 0;
    const mismatches: string[] = [];
    for (const { id } of ids) {
      const theirs = unleash.isEnabled(name, { userId: id });
      const ours = inRollout(percent, GROUP, id);
      if (theirs !== ours && mismatches.length < 10)
        mismatches.push(`${JSON.stringify(id)}: ${theirs} vs ${ours}`);
      if (theirs) enabled++;
    }
    expect(mismatches).toEqual([]);
    // Not vacuous: the toggle really splits the ids near the percentage.
    expect(Math.abs(enabled / ids.length - percent / 100)).toBeLessThan(0.01);
  });

  it.each(EMAIL_PERCENTS)(
    'email stickiness (custom property) at %i percent: isEnabled === inRollout',
    (percent) => {
      const name = toggleName('email', percent);
      const unleash = client as Unleash;
      const random = prng(percent);
      let enabled = 0;
      const mismatches: string[] = [];
      for (const [index, { id }] of ids.entries()) {
        // Emails as the engine passes them (normalised: trimmed, lower case), with non-ASCII local parts.
        const email = `${id}.${index}@${random() < 0.5 ? 'example.com' : 'exämple.中国'}`.toLowerCase();
        const theirs = unleash.isEnabled(name, { properties: { email } });
        const ours = inRollout(percent, GROUP, email);
        if (theirs !== ours && mismatches.length < 10) mismatches.push(`${email}: ${theirs} vs ${ours}`);
        if (theirs) enabled++;
      }
      expect(mismatches).toEqual([]);
      expect(Math.abs(enabled / ids.length - percent / 100)).toBeLessThan(0.01);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// 3. Monotonic and sticky

describe('monotonic: raising the percentage never removes anybody', () => {
  const ids = makeIds(100_000).map(({ id }) => id);

  it('every id in 30% is in 60%, and 60% holds about twice as many', () => {
    const at30 = ids.filter((id) => inRollout(30, GROUP, id));
    const at60 = new Set(ids.filter((id) => inRollout(60, GROUP, id)));
    expect(at30.every((id) => at60.has(id))).toBe(true);
    expect(Math.abs(at30.length / ids.length - 0.3)).toBeLessThan(0.01);
    expect(Math.abs(at60.size / ids.length - 0.6)).toBeLessThan(0.01);
  });

  it('for every step p -> p + 1 (0..100), nobody in p leaves; 0 is nobody, 100 is everybody', () => {
    const sample = ids.slice(0, 20_000);
    const firstIn = new Map<string, number>();
    for (let percent = 0; percent <= 100; percent++) {
      for (const id of sample) {
        const inside = inRollout(percent, GROUP, id);
        const since = firstIn.get(id);
        if (since !== undefined && !inside)
          throw new Error(`${id} was in at ${since}% but not at ${percent}%`);
        if (since === undefined && inside) firstIn.set(id, percent);
      }
      if (percent === 0) expect(firstIn.size).toBe(0);
    }
    expect(firstIn.size).toBe(sample.length);
    // The percentage a user enters at is their bucket: 1..100, and the same on every call (sticky).
    for (const id of sample) {
      const bucket = bucketOf(GROUP, id);
      expect(Number.isInteger(bucket) && bucket >= 1 && bucket <= 100).toBe(true);
      expect(firstIn.get(id)).toBe(bucket);
      expect(bucketOf(GROUP, id)).toBe(bucket);
    }
  });

  it('buckets are about uniform, and the groupId changes who is in', () => {
    const counts = new Array<number>(101).fill(0);
    for (const id of ids) counts[bucketOf(GROUP, id)] = (counts[bucketOf(GROUP, id)] ?? 0) + 1;
    expect(counts[0]).toBe(0);
    const used = counts.slice(1);
    expect(Math.min(...used)).toBeGreaterThan(800); // 1,000 expected per bucket
    expect(Math.max(...used)).toBeLessThan(1_200);
    const other = ids.filter((id) => bucketOf('another-flag', id) !== bucketOf(GROUP, id)).length;
    expect(other / ids.length).toBeGreaterThan(0.95);
  });
});
