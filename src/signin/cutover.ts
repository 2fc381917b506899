import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { query } from '../core/db.js';
import { quoteIdent } from '../core/mapping.js';
import type { Flags } from '../flags/flags.js';
import { idEquals } from '../sync/local-user.js';
import { formatVerdict } from '../sync/status.js';

/** Why a login stays on the legacy side (DESIGN.md, "Password states and the cutover rule"). */
export type LegacyReason =
  | 'not-in-rollout'
  | 'kill-switch'
  | 'not-synced'
  | 'pending-sync'
  | 'dead-lettered'
  | 'password-not-migrated'
  | 'disabled'
  | 'flags-not-ready'
  /** `cutover.requireProvenFormats`: the user's hash format lacks shadow evidence, and their own password was not verified. */
  | 'format-unproven';

export interface CutoverDecision {
  target: 'workos' | 'legacy';
  reason: LegacyReason | 'in-rollout';
}

/** What login() needs beyond the decision: read in the same query. */
export interface CutoverFacts extends CutoverDecision {
  workosUserId: string | null;
  passwordState: string | null;
  signedInWithWorkos: boolean;
  /** When sync_state was last written (text, exact): login() marks a moved password only if unchanged. */
  syncedAt: string | null;
  /** The `updated_at` WorkOS answered at our last write: healing needs the WorkOS user unchanged since. */
  workosUpdatedAt: string | null;
  /** Source format id of the imported hash WorkOS holds, or null (none imported). */
  hashFormat: string | null;
  /** This user's own password was seen to work at WorkOS (a shadow match or a healed sign-in). */
  passwordVerified: boolean;
}

/**
 * Password states whose user can sign in through WorkOS (`login`: migrated at this sign-in). Not
 * `revoked` (WorkOS holds a random password in place of a revoked one) nor `disabled`.
 */
const WORKOS_READY = new Set(['synced', 'no_local_password', 'login']);

/**
 * The cutover rule: in the rollout, AND mirrored (a sync_state row), AND nothing queued or dead for
 * the user, AND a password WorkOS can check, AND not disabled, AND flags ready. Anything else stays
 * on legacy with the first reason that applies.
 */
export async function decideCutover(
  config: ResolvedConfig,
  flags: Flags,
  user: { userId: string; email: string },
): Promise<CutoverFacts> {
  const rollout = flags.rolloutFor(user);
  const facts = {
    workosUserId: null,
    passwordState: null,
    signedInWithWorkos: false,
    syncedAt: null,
    workosUpdatedAt: null,
    hashFormat: null,
    passwordVerified: false,
  };
  if (rollout !== 'in-rollout') return { target: 'legacy', reason: rollout, ...facts };
  return decideCredentials(config, user);
}

/**
 * The rule without the rollout: whether WorkOS holds this user's current credentials (mirrored,
 * nothing queued or dead, a password state WorkOS can check, not disabled, a proven format). What a
 * sign-in that already happened at WorkOS (the AuthKit callback) is checked against.
 */
export async function decideCredentials(
  config: ResolvedConfig,
  user: { userId: string; email: string },
): Promise<CutoverFacts> {
  const { db, users } = config;
  const disabled = users.columns.disabled
    ? sql`(SELECT COALESCE(${sql.raw(quoteIdent(users.columns.disabled))}::boolean, false)
           FROM ${sql.raw(users.users.qualified)}
           WHERE ${await idEquals(db, users, sql.raw(quoteIdent(users.columns.id)), user.userId)})`
    : sql`false`;
  const [row] = await query<{
    disabled: boolean | null;
    workos_user_id: string | null;
    password_state: string | null;
    signed_in: boolean;
    synced_at: string | null;
    workos_updated_at: string | null;
    hash_format: string | null;
    verified: boolean | null;
    matched: number | null;
    mismatched: number | null;
    queued: boolean;
    dead: boolean | null;
  }>(
    db,
    sql`SELECT ${disabled} AS disabled, s.workos_user_id, s.password_state,
          s.workos_signed_in_at IS NOT NULL AS signed_in, s.synced_at::text AS synced_at,
          s.workos_updated_at, s.hash_format, s.password_verified_at IS NOT NULL AS verified,
          f.matched::int AS matched, f.mismatched::int AS mismatched, o.user_id IS NOT NULL AS queued, o.dead
        FROM (VALUES (1)) AS one (x)
        LEFT JOIN workos_migrate.sync_state s ON s.user_id = ${user.userId}
        LEFT JOIN workos_migrate.outbox o ON o.user_id = ${user.userId}
        LEFT JOIN workos_migrate.format_checks f ON f.format = s.hash_format`,
  );
  const known = {
    workosUserId: row?.workos_user_id ?? null,
    passwordState: row?.password_state ?? null,
    signedInWithWorkos: row?.signed_in === true,
    syncedAt: row?.synced_at ?? null,
    workosUpdatedAt: row?.workos_updated_at ?? null,
    hashFormat: row?.hash_format ?? null,
    passwordVerified: row?.verified === true,
  };
  const legacy = (reason: LegacyReason): CutoverFacts => ({ target: 'legacy', reason, ...known });
  if (row?.disabled === true) return legacy('disabled');
  if (!known.workosUserId) return legacy('not-synced');
  if (row?.dead === true) return legacy('dead-lettered');
  if (row?.queued) return legacy('pending-sync');
  if (!known.passwordState || !WORKOS_READY.has(known.passwordState)) return legacy('password-not-migrated');
  // An imported hash goes to WorkOS once its format is proven by shadow checks, or this user's own
  // password was seen to work there.
  const rule = config.cutover.requireProvenFormats;
  if (rule && known.passwordState === 'synced' && known.hashFormat !== null && !known.passwordVerified) {
    const evidence = { matched: row?.matched ?? 0, mismatched: row?.mismatched ?? 0 };
    if (!formatVerdict(evidence, rule).ready) return legacy('format-unproven');
  }
  return { target: 'workos', reason: 'in-rollout', ...known };
}
