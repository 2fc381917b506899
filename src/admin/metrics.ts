import type { MigrationStatusWithFlags, WorkosMigrate } from '../signin/engine.js';

/** The part of a prom-client `Registry` used here, so the app's own registry (any 15.x) fits. */
export interface MetricsRegistry {
  registerMetric(metric: unknown): void;
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** The app's prom-client registry: the migration's metrics are registered there (and served here too). */
  registry?: MetricsRegistry;
}

type PromClient = typeof import('prom-client');

async function loadPromClient(): Promise<PromClient> {
  try {
    return await import('prom-client');
  } catch {
    throw new Error(
      'GET /metrics needs prom-client: run `npm install prom-client` (an optional peer dependency).',
    );
  }
}

/**
 * The Prometheus metrics. Gauges are read at scrape time from one `status()` per scrape (so they are
 * the very numbers `status()` answers); counters are this process's own counts.
 */
export function createMetrics(migrate: WorkosMigrate, options: MetricsOptions = {}) {
  let ready: Promise<{ registry: MetricsRegistry }> | null = null;
  // One status() per scrape, shared by every gauge's collect().
  let snapshot: { at: number; status: Promise<MigrationStatusWithFlags> } | null = null;
  const current = () => {
    if (!snapshot || Date.now() - snapshot.at > 1000) snapshot = { at: Date.now(), status: migrate.status() };
    return snapshot.status;
  };

  async function setUp(): Promise<{ registry: MetricsRegistry }> {
    const prom = await loadPromClient();
    const registry = options.registry ?? new prom.Registry();
    const registers = [registry as unknown as InstanceType<PromClient['Registry']>];
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (gauge: InstanceType<PromClient['Gauge']>, status: MigrationStatusWithFlags) => void,
    ) =>
      new prom.Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const status = await current();
          this.reset();
          fill(this, status);
        },
      });
    gauge('workos_migrate_users', 'Local users in the app table.', [], (g, s) => g.set(s.users));
    gauge(
      'workos_migrate_synced_users',
      'Users with a sync_state row (mirrored at least once).',
      [],
      (g, s) => g.set(s.synced),
    );
    gauge('workos_migrate_pending', 'Outbox rows waiting, by priority.', ['priority'], (g, s) => {
      g.set({ priority: 'live' }, s.pending.live);
      g.set({ priority: 'backfill' }, s.pending.backfill);
    });
    gauge('workos_migrate_dead', 'Dead-lettered users, by reason.', ['reason'], (g, s) => {
      for (const [reason, n] of Object.entries(s.dead)) g.set({ reason }, n);
    });
    gauge('workos_migrate_password_state_users', 'Synced users by password state.', ['state'], (g, s) => {
      for (const [state, n] of Object.entries(s.passwordStates)) g.set({ state }, n);
    });
    gauge(
      'workos_migrate_oldest_pending_seconds',
      'Age of the oldest pending change (0 when none).',
      [],
      (g, s) => g.set(s.oldestPendingSeconds ?? 0),
    );
    gauge('workos_migrate_deletes_held', 'Deletes waiting for confirm-deletes.', [], (g, s) =>
      g.set(s.deletesAwaitingConfirmation),
    );
    gauge('workos_migrate_freeze', 'Signup freeze in effect (1) or not (0).', ['source'], (g, s) =>
      g.set({ source: s.freeze.source }, s.freeze.on ? 1 : 0),
    );
    gauge(
      'workos_migrate_rollout_percent',
      'Percent of users whose sign-ins go to WorkOS.',
      ['source'],
      (g, s) => g.set({ source: s.rollout.source }, s.rollout.percent),
    );
    gauge('workos_migrate_leader', 'A worker holds the leader lease (1) or none does (0).', [], (g, s) =>
      g.set(s.leader ? 1 : 0),
    );
    // Shadow evidence is the database's (every instance's checks), so these are gauges, not counters.
    gauge(
      'workos_migrate_format_users',
      'Users whose imported hash WorkOS holds, by source hash format.',
      ['format'],
      (g, s) => {
        for (const f of s.formats) g.set({ format: f.format }, f.users);
      },
    );
    gauge(
      'workos_migrate_shadow_checks',
      'Shadow checks and healed sign-ins recorded, by source hash format and outcome.',
      ['format', 'outcome'],
      (g, s) => {
        for (const f of s.formats)
          for (const outcome of ['matched', 'mismatched', 'other'] as const)
            g.set({ format: f.format, outcome }, f[outcome]);
      },
    );
    gauge('workos_migrate_shadow_healed', 'Sign-ins healed, by source hash format.', ['format'], (g, s) => {
      for (const f of s.formats) g.set({ format: f.format }, f.healed);
    });
    gauge(
      'workos_migrate_format_ready',
      "cutover.requireProvenFormats lets the format's users go to WorkOS (1) or not (0).",
      ['format'],
      (g, s) => {
        for (const f of s.formats) g.set({ format: f.format }, f.ready ? 1 : 0);
      },
    );
    const counter = (
      name: string,
      help: string,
      labelNames: string[],
      read: () => [Record<string, string>, number][],
    ) =>
      new prom.Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          // Counters only go up: set each series to this process's running total.
          this.reset();
          for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
        },
      });
    counter(
      'workos_migrate_workos_writes_total',
      'WorkOS write calls that succeeded (this process).',
      [],
      () => [[{}, migrate.worker.counters.writes]],
    );
    counter('workos_migrate_workos_rate_limited_total', 'WorkOS answers 429 (this process).', [], () => [
      [{}, migrate.worker.counters.rateLimited],
    ]);
    counter(
      'workos_migrate_sign_ins_total',
      'Sign-ins answered by login(), by side, reason and outcome.',
      ['side', 'reason', 'outcome'],
      () =>
        migrate
          .signInCounts()
          .map((c) => [{ side: c.side, reason: c.reason, outcome: c.ok ? 'ok' : 'refused' }, c.count]),
    );
    new prom.Histogram({
      name: 'workos_migrate_mirror_lag_seconds',
      help: 'Live changes synced by this process: seconds from queued to confirmed by WorkOS.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
      collect() {
        for (const seconds of migrate.worker.mirrorLag.drain()) this.observe(seconds);
      },
    });
    new prom.Gauge({
      name: 'workos_migrate_rate_ceiling',
      help: 'WorkOS writes per second the adaptive limiter allows now (this process).',
      registers,
      collect() {
        this.set(migrate.worker.currentRate);
      },
    });
    return { registry };
  }

  // On the app's registry the metrics must exist before the app's own first scrape.
  if (options.registry) {
    ready = setUp();
    ready.catch(() => undefined);
  }

  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    async text(): Promise<string> {
      ready ??= setUp();
      const { registry } = await ready;
      snapshot = null;
      return registry.metrics();
    },
  };
}
