// Optional instrumentation for finding where a worker's time goes (the benchmarks' --diagnose flag):
// a timing wrapper around the Drizzle database handed to the engine (every statement, by kind), a
// wrapper around globalThis.fetch (the WorkOS SDK's HTTP client: in flight, durations) and the event
// loop delay. It observes only; the engine's code is unchanged.

import { getEventListeners } from 'node:events';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { PgDialect } from 'drizzle-orm/pg-core';

const dialect = new PgDialect();

/** A short label for a statement: its first keywords and table. */
function labelOf(query) {
  let text;
  try {
    text = dialect.sqlToQuery(query).sql;
  } catch {
    return 'unknown';
  }
  const flat = text.replace(/\s+/g, ' ').trim();
  const m =
    /^(WITH due AS)/i.exec(flat) ??
    /^(WITH page AS)/i.exec(flat) ??
    /^(SELECT workos_migrate\.\w+)/i.exec(flat) ??
    /^(INSERT INTO [\w."]+)/i.exec(flat) ??
    /^(UPDATE [\w."]+)/i.exec(flat) ??
    /^(DELETE FROM [\w."]+)/i.exec(flat) ??
    /^(SELECT .{0,40}?FROM [\w."]+)/i.exec(flat);
  return m ? m[1] : flat.slice(0, 40);
}

class Stat {
  n = 0;
  total = 0;
  max = 0;
  add(ms) {
    this.n += 1;
    this.total += ms;
    if (ms > this.max) this.max = ms;
  }
}

export function createInstrument() {
  const statements = new Map();
  const transactions = new Stat();
  const http = new Stat();
  let httpInFlight = 0;
  let httpInFlightMax = 0;
  let httpInFlightArea = 0;
  let lastChange = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let startedAt = performance.now();

  const timed = async (label, promise) => {
    const t0 = performance.now();
    try {
      return await promise;
    } finally {
      let s = statements.get(label);
      if (!s) {
        s = new Stat();
        statements.set(label, s);
      }
      s.add(performance.now() - t0);
    }
  };
  const wrapTx = (tx) => ({ execute: (q) => timed(labelOf(q), tx.execute(q)) });

  /** The Drizzle database to give the engine instead of `db`. */
  const wrapDb = (db) => ({
    execute: (q) => timed(labelOf(q), db.execute(q)),
    async transaction(work) {
      const t0 = performance.now();
      try {
        return await db.transaction((tx) => work(wrapTx(tx)));
      } finally {
        transactions.add(performance.now() - t0);
      }
    },
  });

  const account = () => {
    const now = performance.now();
    httpInFlightArea += httpInFlight * (now - lastChange);
    lastChange = now;
  };
  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (...args) => {
    account();
    httpInFlight += 1;
    httpInFlightMax = Math.max(httpInFlightMax, httpInFlight);
    const t0 = performance.now();
    try {
      return await originalFetch(...args);
    } finally {
      http.add(performance.now() - t0);
      account();
      httpInFlight -= 1;
    }
  };
  loop.enable();

  // 'abort' listeners per AbortSignal (added minus removed): a long-lived signal that only gains
  // listeners is a leak, and Node's EventTarget makes each add O(listeners).
  const perSignal = new WeakMap();
  const watched = new Set();
  let busiest = 0;
  const originalAdd = EventTarget.prototype.addEventListener;
  const originalRemove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (type === 'abort' && this instanceof AbortSignal) {
      const n = (perSignal.get(this) ?? 0) + 1;
      perSignal.set(this, n);
      if (n > busiest) busiest = n;
      if (n === 50) watched.add(this);
    }
    return originalAdd.call(this, type, listener, options);
  };
  EventTarget.prototype.removeEventListener = function (type, listener, options) {
    if (type === 'abort' && this instanceof AbortSignal) perSignal.set(this, (perSignal.get(this) ?? 1) - 1);
    return originalRemove.call(this, type, listener, options);
  };

  return {
    /** Forgets everything measured so far (call when the measured phase starts). */
    mark() {
      statements.clear();
      Object.assign(transactions, new Stat());
      Object.assign(http, new Stat());
      httpInFlightMax = httpInFlight;
      httpInFlightArea = 0;
      lastChange = performance.now();
      startedAt = performance.now();
      loop.reset();
    },
    wrapDb,
    /** Restores fetch and answers a markdown summary. */
    report() {
      account();
      loop.disable();
      globalThis.fetch = originalFetch;
      EventTarget.prototype.addEventListener = originalAdd;
      EventTarget.prototype.removeEventListener = originalRemove;
      const seconds = (performance.now() - startedAt) / 1000;
      const rows = [...statements.entries()].sort((a, b) => b[1].total - a[1].total);
      return [
        '| what | count | mean ms | max ms | total s |',
        '|---|--:|--:|--:|--:|',
        `| WorkOS HTTP (fetch) | ${http.n} | ${(http.total / Math.max(1, http.n)).toFixed(1)} | ${http.max.toFixed(0)} | ${(http.total / 1000).toFixed(1)} |`,
        `| engine transactions (whole) | ${transactions.n} | ${(transactions.total / Math.max(1, transactions.n)).toFixed(1)} | ${transactions.max.toFixed(0)} | ${(transactions.total / 1000).toFixed(1)} |`,
        ...rows.map(
          ([label, s]) =>
            `| \`${label}\` | ${s.n} | ${(s.total / s.n).toFixed(1)} | ${s.max.toFixed(0)} | ${(s.total / 1000).toFixed(1)} |`,
        ),
        '',
        `Over ${seconds.toFixed(1)} s: WorkOS requests in flight on average ${(httpInFlightArea / 1000 / seconds).toFixed(1)}, at most ${httpInFlightMax}.`,
        `'abort' listeners on long-lived AbortSignals at the end: ${[...watched].map((signal) => getEventListeners(signal, 'abort').length).join(', ') || 'none over 50'} (most seen at once on one signal: ${busiest}).`,
        `Event loop delay: mean ${(loop.mean / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(0)} ms.`,
      ].join('\n');
    },
  };
}

/**
 * Samples this process's CPU (V8 profiler through node:inspector) until the returned stop() is
 * called; stop() answers a markdown summary: self time by function and inclusive time by package.
 */
export async function startProfile() {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  return async () => {
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    return summariseProfile(profile);
  };
}

function shortUrl(url) {
  if (!url) return '';
  return url
    .replace(/.*node_modules\//, '')
    .replace(/.*\/work\/main\//, '')
    .replace(/^file:\/\//, '');
}

function packageOf(url) {
  if (!url) return null;
  if (url.includes('node_modules/')) return url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1');
  if (url.includes('/dist/')) return `workos-migrate ${url.replace(/.*\/dist\//, 'dist/')}`;
  if (url.includes('/bench/')) return 'bench (harness)';
  if (url.startsWith('node:')) return url.replace(/^node:internal\/deps\/undici.*/, 'node: undici (fetch)');
  return url;
}

function summariseProfile(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const time = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    time.set(id, (time.get(id) ?? 0) + dt);
    total += dt;
  });
  const self = new Map();
  const inclusive = new Map();
  let idle = 0;
  for (const [id, t] of time) {
    const frame = byId.get(id).callFrame;
    if (frame.functionName === '(idle)') {
      idle += t;
      continue;
    }
    const key = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + t);
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const pkg = packageOf(byId.get(x).callFrame.url);
      if (pkg && !seen.has(pkg)) {
        seen.add(pkg);
        inclusive.set(pkg, (inclusive.get(pkg) ?? 0) + t);
      }
    }
  }
  const busy = total - idle;
  const pct = (t) => `${((100 * t) / busy).toFixed(1)}%`;
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  return [
    `CPU profile of the benchmark process during the run: ${(busy / 1e6).toFixed(1)} s busy of ${(total / 1e6).toFixed(1)} s sampled (shares below are of busy time).`,
    '',
    '| self time: function | share |',
    '|---|--:|',
    ...top(self, 15).map(([k, t]) => `| \`${k}\` | ${pct(t)} |`),
    '',
    '| inclusive time: package or module | share |',
    '|---|--:|',
    ...top(inclusive, 15).map(([k, t]) => `| \`${k}\` | ${pct(t)} |`),
  ].join('\n');
}
