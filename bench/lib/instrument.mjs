// Optional instrumentation for finding where a worker's time goes (the benchmarks' --diagnose flag):
// a timing wrapper around the Drizzle database handed to the engine (every statement, by kind), a
// wrapper around globalThis.fetch (the WorkOS SDK's HTTP client: in flight, durations) and the event
// loop delay. It observes only; the engine's code is unchanged.

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
  const started = performance.now();

  const timed = async (label, promise) => {
    const t0 = performance.now();
    try {
      return await promise;
    } finally {
      let s = statements.get(label);
      if (!s) statements.set(label, (s = new Stat()));
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

  return {
    wrapDb,
    /** Restores fetch and answers a markdown summary. */
    report() {
      account();
      loop.disable();
      globalThis.fetch = originalFetch;
      const seconds = (performance.now() - started) / 1000;
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
        `Event loop delay: mean ${(loop.mean / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(0)} ms.`,
      ].join('\n');
    },
  };
}
