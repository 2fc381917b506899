import { type EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Unleash } from 'unleash-client';
import type { ResolvedFlags } from '../core/config.js';
import { WorkosMigrateError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

type UnleashSettings = NonNullable<ResolvedFlags['unleash']>;

interface StrategyDefinition {
  id?: string;
  name: string;
  parameters?: Record<string, string>;
  constraints?: unknown[];
}

/**
 * Unleash as a flag source, through the official client: in-memory storage (its default file backup
 * can start a new client on stale flags) and last known values kept when the server is unreachable.
 */
export class UnleashSource {
  /** Created by start(), not before: an engine that only reads status or runs a setter never polls. */
  private client: Unleash | null = null;
  synchronized = false;

  constructor(
    private readonly settings: UnleashSettings,
    private readonly flags: Pick<ResolvedFlags, 'freezeFlag' | 'cutoverFlag' | 'stickiness'>,
    private readonly logger: Logger,
  ) {}

  private async connect(): Promise<Unleash> {
    // Loaded here, when Unleash is configured and started: an app on stored settings never loads it.
    const { InMemStorageProvider, Unleash: UnleashClient } = await import('unleash-client');
    const client = new UnleashClient({
      url: this.settings.url,
      appName: this.settings.appName,
      customHeaders: { Authorization: this.settings.apiToken },
      refreshInterval: this.settings.refreshIntervalMs,
      disableMetrics: true,
      storageProvider: new InMemStorageProvider(),
    });
    // An EventEmitter without an 'error' listener throws: an unreachable Unleash must not crash the app.
    client.on('error', (error: Error) =>
      this.logger.warn(
        { err: error.message },
        'workos-migrate: Unleash is unreachable; keeping the last known flags',
      ),
    );
    client.on('synchronized', () => {
      this.synchronized = true;
      this.checkStrategy();
    });
    client.on('changed', () => this.checkStrategy());
    return client;
  }

  /** Waits for the first synchronisation, at most `readyTimeoutMs`; flags report not ready until then. */
  async start(): Promise<void> {
    this.client ??= await this.connect();
    if (this.synchronized) return;
    const abort = new AbortController();
    await Promise.race([
      once(this.client, 'synchronized', { signal: abort.signal }).catch(() => undefined),
      sleep(this.settings.readyTimeoutMs, undefined, { signal: abort.signal }).catch(() => undefined),
    ]);
    abort.abort();
    if (!this.synchronized) {
      this.logger.warn(
        { timeoutMs: this.settings.readyTimeoutMs },
        'workos-migrate: Unleash has not synchronised yet; flags are not ready (logins stay on legacy)',
      );
    }
  }

  freezeOn(): boolean {
    return this.client?.isEnabled(this.flags.freezeFlag, {}, false) ?? false;
  }

  /** Unleash's own answer, constraints and segments included; bucketing is the same as ours. */
  cutoverEnabled(userId: string, email: string): boolean {
    return this.client?.isEnabled(this.flags.cutoverFlag, { userId, properties: { email } }, false) ?? false;
  }

  /** The percentage the server holds: 0 when the flag is off or missing (the kill switch). */
  rolloutPercent(): number {
    const definition = this.client?.getFeatureToggleDefinition(this.flags.cutoverFlag);
    if (!definition?.enabled) return 0;
    const strategy = (definition.strategies as StrategyDefinition[] | undefined)?.find(
      (candidate) => candidate.name === 'flexibleRollout',
    );
    if (!strategy) return 100;
    const percent = Number(strategy.parameters?.rollout ?? 0);
    return Number.isFinite(percent) ? percent : 0;
  }

  close(): void {
    const client = this.client;
    if (!client) return;
    this.client = null;
    this.synchronized = false;
    client.destroy();
    // destroy() removes the repository's listeners, but a fetch already in flight (a refused connection is
    // retried for about 3 s) still emits 'error' on it afterwards; with no listener that throws, as an
    // unhandled rejection that can take the app down while it shuts down. Keep a sink on it.
    (client as unknown as { repository?: EventEmitter }).repository?.on('error', () => {});
  }

  /** A different groupId or stickiness on the server buckets users differently from our setters and docs. */
  private checkStrategy(): void {
    const definition = this.client?.getFeatureToggleDefinition(this.flags.cutoverFlag);
    const strategy = (definition?.strategies as StrategyDefinition[] | undefined)?.find(
      (candidate) => candidate.name === 'flexibleRollout',
    );
    if (!strategy) return;
    const groupId = strategy.parameters?.groupId ?? '';
    const stickiness = strategy.parameters?.stickiness ?? 'default';
    const expected = this.flags.stickiness === 'email' ? ['email'] : ['userId', 'default'];
    if (groupId !== this.flags.cutoverFlag || !expected.includes(stickiness)) {
      this.logger.warn(
        {
          flag: this.flags.cutoverFlag,
          groupId,
          stickiness,
          expectedGroupId: this.flags.cutoverFlag,
          expectedStickiness: expected[0],
        },
        'workos-migrate: the Unleash cutover strategy buckets differently from this config; users may change sides when the source changes',
      );
    }
  }

  // --- Setters, through the admin API (they need UNLEASH_ADMIN_TOKEN) ---

  async setFreeze(on: boolean): Promise<void> {
    await this.ensureFlag(this.flags.freezeFlag, 100);
    await this.admin('POST', `${this.environmentPath(this.flags.freezeFlag)}/${on ? 'on' : 'off'}`);
  }

  async setRollout(percent: number): Promise<void> {
    const name = this.flags.cutoverFlag;
    const strategy = await this.ensureFlag(name, percent);
    await this.admin('PUT', `${this.environmentPath(name)}/strategies/${strategy.id}`, {
      name: 'flexibleRollout',
      constraints: strategy.constraints ?? [],
      parameters: {
        ...strategy.parameters,
        rollout: String(percent),
        groupId: name,
        stickiness: this.stickiness(),
      },
    });
    await this.admin('POST', `${this.environmentPath(name)}/on`);
  }

  private stickiness(): string {
    return this.flags.stickiness === 'email' ? 'email' : 'default';
  }

  private environmentPath(name: string): string {
    const { project, environment } = this.settings;
    return `/admin/projects/${encodeURIComponent(project)}/features/${encodeURIComponent(name)}/environments/${encodeURIComponent(environment)}`;
  }

  /** Creates the flag with a flexibleRollout strategy when missing; answers that strategy. */
  private async ensureFlag(name: string, percent: number): Promise<StrategyDefinition & { id: string }> {
    const { project } = this.settings;
    const found = await this.admin('GET', `${this.environmentPath(name)}/strategies`, undefined, true);
    if (found === null) {
      await this.admin('POST', `/admin/projects/${encodeURIComponent(project)}/features`, {
        name,
        type: 'release',
        description: 'Managed by workos-migrate',
      });
    }
    const strategies = (found ?? []) as (StrategyDefinition & { id: string })[];
    const existing = strategies.find((candidate) => candidate.name === 'flexibleRollout');
    if (existing) return existing;
    return (await this.admin('POST', `${this.environmentPath(name)}/strategies`, {
      name: 'flexibleRollout',
      constraints: [],
      parameters: { rollout: String(percent), groupId: name, stickiness: this.stickiness() },
    })) as StrategyDefinition & { id: string };
  }

  private async admin(method: string, path: string, body?: unknown, allowNotFound = false): Promise<unknown> {
    const token = this.settings.adminToken;
    if (!token) {
      throw new WorkosMigrateError(
        'unleash_admin_token_missing',
        'workos-migrate: changing an Unleash flag needs an admin token: set UNLEASH_ADMIN_TOKEN (or flags.unleash.adminToken)',
      );
    }
    const response = await fetch(`${this.settings.url}${path}`, {
      method,
      headers: { Authorization: token, 'Content-Type': 'application/json', Accept: 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    if (allowNotFound && response.status === 404) return null;
    if (!response.ok) {
      throw new WorkosMigrateError(
        'unleash_admin_failed',
        `workos-migrate: Unleash refused ${method} ${path} (${response.status}); check UNLEASH_ADMIN_TOKEN and flags.unleash.project/environment`,
      );
    }
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  }
}
