import type { ResolvedConfig } from '../core/config.js';
import { WorkosMigrateError } from '../core/errors.js';
import { inRollout, stickinessKey } from './bucketing.js';
import { readStoredFlags, type StoredFlags, writeStoredFlag } from './stored.js';
import { UnleashSource } from './unleash.js';

/** Where a flag's value comes from, in precedence order. */
export type FlagSource = 'env' | 'unleash' | 'stored';

export interface FreezeState {
  on: boolean;
  /** The source a setter changes (env wins, then Unleash when configured, then stored). */
  source: FlagSource;
  /** Each source's own value; freeze is on when any is. null: that source is not configured. */
  sources: { env: boolean | null; unleash: boolean | null; stored: boolean };
  ready: boolean;
}

export interface RolloutState {
  percent: number;
  source: FlagSource;
  ready: boolean;
}

/** Why a rollout check keeps a user on legacy; `in-rollout` sends them on to the per-user checks. */
export type RolloutReason = 'in-rollout' | 'not-in-rollout' | 'kill-switch' | 'flags-not-ready';

export interface Flags {
  /** Reads stored settings and waits (bounded) for Unleash; safe to call twice. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Stored settings read and, when configured, Unleash synchronised. */
  readonly ready: boolean;
  /** The `Retry-After` (seconds) a frozen route answers with (`flags.retryAfterSeconds`). */
  readonly retryAfterSeconds: number;
  freeze(): FreezeState;
  /** What a guarded route does now: frozen, or (with `freezeFailClosed`) flags not ready. */
  signupsFrozen(): boolean;
  rollout(): RolloutState;
  rolloutFor(user: { userId: string; email: string }): RolloutReason;
  /** Sets the freeze on the source in effect; with `source`, refuses when that is not the one in effect. */
  setFreeze(on: boolean, options?: { source?: FlagSource }): Promise<FreezeState>;
  setRollout(percent: number, options?: { source?: FlagSource }): Promise<RolloutState>;
}

export function createFlags(config: Pick<ResolvedConfig, 'db' | 'flags' | 'logger'>): Flags {
  const { db, flags: settings, logger } = config;
  const unleash = settings.unleash ? new UnleashSource(settings.unleash, settings, logger) : null;
  let stored: StoredFlags | null = null;
  let timer: NodeJS.Timeout | null = null;
  let starting: Promise<void> | null = null;

  const refresh = async () => {
    try {
      stored = await readStoredFlags(db);
    } catch (error) {
      // Keep the last known values: a database blip must not lift a freeze.
      logger.warn(
        { err: (error as Error).message },
        'workos-migrate: reading stored flags failed; keeping the last known',
      );
    }
  };
  // Only MIGRATION_IN_PROGRESS=true pins the freeze: =false adds nothing to "any source on", and
  // letting it claim the setter would leave a stored freeze that nobody could lift.
  const freezeSource = (): FlagSource =>
    settings.envFreeze === true ? 'env' : unleash ? 'unleash' : 'stored';
  const rolloutSource = (): FlagSource =>
    settings.envRollout !== null ? 'env' : unleash ? 'unleash' : 'stored';
  const isReady = () => stored !== null && (unleash === null || unleash.synchronized);

  const refuseOtherSource = (flag: string, inEffect: FlagSource, asked: FlagSource | undefined) => {
    if (inEffect === 'env') {
      const variable = flag === 'freeze' ? 'MIGRATION_IN_PROGRESS' : 'WORKOS_ROLLOUT_PERCENT';
      throw new WorkosMigrateError(
        'flag_source_mismatch',
        `workos-migrate: ${flag} is pinned by the environment variable ${variable}; unset it (and restart) to change ${flag} here`,
      );
    }
    if (asked !== undefined && asked !== inEffect) {
      throw new WorkosMigrateError(
        'flag_source_mismatch',
        `workos-migrate: ${flag} comes from ${inEffect === 'unleash' ? 'Unleash' : 'the stored setting'}, not ${asked}; change it there`,
      );
    }
  };

  const flags: Flags = {
    async start() {
      starting ??= (async () => {
        await refresh();
        timer = setInterval(() => void refresh(), settings.refreshMs);
        timer.unref();
        await unleash?.start();
      })();
      await starting;
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = null;
      starting = null;
      unleash?.close();
    },
    get ready() {
      return isReady();
    },
    retryAfterSeconds: settings.retryAfterSeconds,
    freeze() {
      const sources = {
        env: settings.envFreeze,
        unleash: unleash ? unleash.freezeOn() : null,
        stored: stored?.freeze ?? false,
      };
      return {
        on: sources.env === true || sources.unleash === true || sources.stored,
        source: freezeSource(),
        sources,
        ready: isReady(),
      };
    },
    signupsFrozen() {
      if (!isReady() && settings.freezeFailClosed) return true;
      return flags.freeze().on;
    },
    rollout() {
      const source = rolloutSource();
      const percent =
        source === 'env'
          ? (settings.envRollout as number)
          : source === 'unleash'
            ? (unleash as UnleashSource).rolloutPercent()
            : (stored?.rolloutPercent ?? 0);
      return { percent, source, ready: isReady() };
    },
    rolloutFor(user) {
      if (!isReady()) return 'flags-not-ready';
      const { percent, source } = flags.rollout();
      if (percent <= 0) return 'kill-switch';
      const key = stickinessKey(settings.stickiness, user);
      const inside =
        source === 'unleash'
          ? (unleash as UnleashSource).cutoverEnabled(user.userId, stickinessKey('email', user))
          : inRollout(percent, settings.cutoverFlag, key);
      return inside ? 'in-rollout' : 'not-in-rollout';
    },
    async setFreeze(on, options = {}) {
      const source = freezeSource();
      refuseOtherSource('freeze', source, options.source);
      if (source === 'unleash') await (unleash as UnleashSource).setFreeze(on);
      else {
        await writeStoredFlag(db, 'freeze', on);
        await refresh();
      }
      logger.info({ freeze: on, source }, 'workos-migrate: freeze changed');
      return flags.freeze();
    },
    async setRollout(percent, options = {}) {
      if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
        throw new WorkosMigrateError(
          'invalid_rollout',
          `workos-migrate: rollout must be a whole percent from 0 to 100 (got ${percent})`,
        );
      }
      const source = rolloutSource();
      refuseOtherSource('rollout', source, options.source);
      if (source === 'unleash') await (unleash as UnleashSource).setRollout(percent);
      else {
        await writeStoredFlag(db, 'rollout_percent', percent);
        await refresh();
      }
      logger.info({ rollout: percent, source }, 'workos-migrate: rollout changed');
      return { ...flags.rollout(), ...(source === 'unleash' ? { percent } : {}) };
    },
  };
  return flags;
}
