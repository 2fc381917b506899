import { createHmac } from 'node:crypto';
import type { User, WorkOS } from '@workos-inc/node';
import { type SQL, sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { query } from '../core/db.js';
import { normaliseEmail } from '../core/email.js';
import { DatabaseError } from '../core/errors.js';
import type { Flags } from '../flags/flags.js';
import { findLocalUserByEmail, loadLocalUser, localUserSelect } from '../sync/local-user.js';
import { requeueForVerification } from '../sync/outbox.js';
import { classifyWorkosError } from '../workos/client.js';
import { decideCutover, type LegacyReason } from './cutover.js';
import { recordFormatOutcome, type ShadowChecker } from './shadow.js';

/** What `verifyLegacy` is given: the app checks the password against its own stored hash. */
export interface LegacyCredentials {
  /** Empty for an email no local user has (then `passwordHash` is `login.unknownUserHash`). */
  localUserId: string;
  email: string;
  password: string;
  /** The stored hash as the mapping reads it (null for users without a password). */
  passwordHash: string | null;
}

export interface LoginInput {
  email: string;
  password: string;
  verifyLegacy: (user: LegacyCredentials) => boolean | Promise<boolean>;
  /** Passed on to WorkOS for its sign-in records. */
  ipAddress?: string;
  userAgent?: string;
}

export type LoginReason =
  | LegacyReason
  /** WorkOS checked the password. */
  | 'authenticated'
  | 'invalid-credentials'
  | 'unknown-user'
  /** WorkOS signed in a user other than the one linked to this local user: refused, and re-checked. */
  | 'identity-mismatch'
  /** Sign-in steps WorkOS asks for: continue with `pendingAuthenticationToken`. */
  | 'email-verification-required'
  | 'mfa-required'
  | 'organization-selection-required'
  | 'sso-required'
  | 'challenge-required'
  /** WorkOS does not allow password sign-in for this user (an organization's policy). */
  | 'authentication-method-not-allowed'
  /** Too many attempts for this email (WorkOS's limit, or `login.legacyAttemptLimit` on legacy). */
  | 'rate-limited'
  /** WorkOS's daily authentication quota is spent: not transient, not a configuration problem. */
  | 'quota-exceeded'
  /** WorkOS did not answer (network, timeout, 5xx). */
  | 'workos-unreachable'
  /** WorkOS refused our API key or client id: a configuration problem, not the user's. */
  | 'workos-misconfigured'
  /** The legacy password is below WorkOS's password policy: the user stays on legacy. */
  | 'password-strength'
  | 'workos-rejected';

interface LoginAnswer {
  side: 'workos' | 'legacy';
  reason: LoginReason;
  /** WorkOS was tried, did not answer, and the legacy check decided instead. */
  fellBack: boolean;
}

/** A sign-in that counts: `localUserId` is the local user it is for. */
export interface LoginSuccess extends LoginAnswer {
  ok: true;
  /**
   * WorkOS refused this user's correct password (an imported hash read differently) and the password
   * was set in WorkOS from this sign-in: the import was healed.
   */
  healed?: true;
  localUserId: string;
  workosUser?: User;
  accessToken?: string;
  refreshToken?: string;
  pendingAuthenticationToken?: undefined;
}

export interface LoginFailure extends LoginAnswer {
  ok: false;
  localUserId: string | null;
  /** For a sign-in step (`mfa-required`, ...): WorkOS's token to continue the flow with. */
  pendingAuthenticationToken?: string;
  workosUser?: undefined;
  accessToken?: undefined;
  refreshToken?: undefined;
}

export type LoginResult = LoginSuccess | LoginFailure;

/** WorkOS's sign-in step codes (the client's `sign_in_step` kind) and the reason each becomes. */
export const SIGN_IN_STEPS: Record<string, LoginReason> = {
  email_verification_required: 'email-verification-required',
  mfa_enrollment: 'mfa-required',
  mfa_challenge: 'mfa-required',
  mfa_verification: 'mfa-required',
  organization_selection_required: 'organization-selection-required',
  sso_required: 'sso-required',
  radar_challenge: 'challenge-required',
  radar_email_challenge: 'challenge-required',
  radar_sms_challenge: 'challenge-required',
  authentication_method_not_allowed: 'authentication-method-not-allowed',
};

/** The limiter is not installed, or this role may not call it: a setup to fix, not a moment to wait out. */
const LIMITER_SETUP_STATES = new Set(['42883', '42P01', '3F000', '42501']);

/**
 * The attempt limit's key for an email: an HMAC of the normalised email under a key derived from the
 * WorkOS API key (the same in every instance of one environment), so the table never holds an email,
 * nor a plain digest that a list of emails could be hashed against.
 */
const attemptKeys = new WeakMap<ResolvedConfig, Buffer>();

function attemptKey(config: ResolvedConfig, email: string): string {
  let key = attemptKeys.get(config);
  if (!key) {
    key = createHmac('sha256', config.workos.apiKey).update('workos-migrate legacy attempts').digest();
    attemptKeys.set(config, key);
  }
  return createHmac('sha256', key).update(normaliseEmail(email)).digest('base64url');
}

/**
 * Until `install` has created the shared count (or the role has its GRANT), the limit is kept per
 * process, as before it was shared: an upgrade deployed before `install` must neither lock every user
 * out of the legacy sign-in nor let guesses through unlimited. Keyed like the table; bounded.
 */
const processAttempts = new WeakMap<ResolvedConfig, Map<string, number[]>>();
const PROCESS_ATTEMPT_EMAILS = 10_000;

function takeProcessAttempt(config: ResolvedConfig, key: string, rule: { limit: number; windowMs: number }) {
  const attempts = processAttempts.get(config) ?? new Map<string, number[]>();
  processAttempts.set(config, attempts);
  const now = Date.now();
  const recent = (attempts.get(key) ?? []).filter((at) => now - at < rule.windowMs);
  attempts.delete(key);
  const counted = recent.length < rule.limit;
  if (counted) recent.push(now);
  attempts.set(key, recent);
  // Oldest email first (a Map keeps insertion order): the bound holds under a spray of emails.
  if (attempts.size > PROCESS_ATTEMPT_EMAILS) attempts.delete(attempts.keys().next().value as string);
  return counted;
}

/**
 * Counts one legacy password check for the email against `login.legacyAttemptLimit`, in PostgreSQL, so
 * every instance of the app shares one count (an in-process count let N instances allow N x the limit,
 * and a restart reset it): one call of `workos_migrate.take_login_attempt` (a sliding window). False:
 * over the limit. Fails closed: if the count cannot be taken the attempt is refused (`rate-limited`),
 * since an attacker who can slow the database must not get unlimited guesses by it; a user is at worst
 * asked to retry. A missing function or grant is a setup error: logged with what to do, and counted
 * per process meanwhile.
 */
async function takeLegacyAttempt(config: ResolvedConfig, email: string): Promise<boolean> {
  const rule = config.login.legacyAttemptLimit;
  if (rule === false) return true;
  const key = attemptKey(config, email);
  try {
    const [row] = await query<{ counted: boolean }>(
      config.db,
      sql`SELECT workos_migrate.take_login_attempt(${key}::text, ${rule.limit}::integer, ${rule.windowMs}::bigint) AS counted`,
    );
    return row?.counted === true;
  } catch (error) {
    if (error instanceof DatabaseError && LIMITER_SETUP_STATES.has(error.sqlState ?? '')) {
      config.logger.error(
        { sqlState: error.sqlState, advice: error.message },
        'workos-migrate: the shared legacy attempt limit is not installed or not granted (run `workos-migrate install`, or the GRANT `install --print` shows); counted in this process until then',
      );
      return takeProcessAttempt(config, key, rule);
    }
    config.logger.warn(
      { sqlState: error instanceof DatabaseError ? error.sqlState : undefined },
      'workos-migrate: the legacy attempt limit could not be counted; this attempt is refused as rate-limited',
    );
    return false;
  }
}

/**
 * Signs a user in on the side the cutover rule picks. The plaintext password lives only in this
 * call: it is never stored, logged or queued.
 */
export async function login(
  config: ResolvedConfig,
  flags: Flags,
  workos: WorkOS,
  input: LoginInput,
  shadow: ShadowChecker | null = null,
): Promise<LoginResult> {
  const { db, users, logger } = config;
  const refused = (
    side: 'workos' | 'legacy',
    reason: LoginReason,
    localUserId: string | null,
    extra: { fellBack?: boolean; pendingAuthenticationToken?: string | undefined } = {},
  ): LoginFailure => ({
    side,
    ok: false,
    reason,
    localUserId,
    fellBack: extra.fellBack ?? false,
    ...(extra.pendingAuthenticationToken
      ? { pendingAuthenticationToken: extra.pendingAuthenticationToken }
      : {}),
  });
  /** The app's check, behind the per-email attempt limit: 'limited' when the limit refused it. */
  const checkLegacy = async (credentials: LegacyCredentials): Promise<boolean | 'limited'> => {
    if (!(await takeLegacyAttempt(config, credentials.email))) return 'limited';
    return (await input.verifyLegacy(credentials)) === true;
  };

  const user = await findLocalUserByEmail(db, users, localUserSelect(users), input.email);
  if (!user?.email) {
    // Counted like a known email, and spends what a real check costs, so neither the limit nor the
    // answer's timing tells whether the account exists.
    if (!(await takeLegacyAttempt(config, input.email))) return refused('legacy', 'rate-limited', null);
    await Promise.resolve()
      .then(() =>
        input.verifyLegacy({
          localUserId: '',
          email: input.email,
          password: input.password,
          passwordHash: config.login.unknownUserHash,
        }),
      )
      .catch(() => false);
    return refused('legacy', 'unknown-user', null);
  }
  const localUserId = user.id;
  // Refused on both sides, before any password is checked.
  if (user.disabled) return refused('legacy', 'disabled', localUserId);
  const legacyCheck = () =>
    checkLegacy({
      localUserId,
      email: user.email as string,
      password: input.password,
      passwordHash: user.passwordHash,
    });
  /** The legacy side's answer: ok with `reason`, else refused (`rate-limited` when over the limit). */
  const legacyAnswer = async (reason: LoginReason, fellBack = false): Promise<LoginResult> => {
    const verdict = await legacyCheck();
    if (verdict === 'limited') return refused('legacy', 'rate-limited', localUserId, { fellBack });
    if (!verdict) return refused('legacy', reason, localUserId, { fellBack });
    // Legacy decided: try the same password at WorkOS in the background (not when WorkOS is down).
    if (!fellBack) shadow?.offer({ localUserId, email: user.email as string, password: input.password });
    return { side: 'legacy', ok: true, reason, localUserId, fellBack };
  };
  const decision = await decideCutover(config, flags, { userId: localUserId, email: user.email });
  if (decision.target === 'legacy') return legacyAnswer(decision.reason as LegacyReason);
  const workosUserId = decision.workosUserId as string;
  const unreachable = (kind: string) => kind === 'no_answer' || kind === 'server_error';

  /** Why setting the password at sign-in failed, as the reason the legacy answer carries. */
  const moveFailure = (error: unknown, what: string): LoginReason => {
    const failure = classifyWorkosError(error);
    logger.warn(
      { userId: localUserId, kind: failure.kind, code: failure.code },
      `workos-migrate: ${what} at sign-in failed; the user stays on legacy`,
    );
    return failure.kind === 'weak_password'
      ? 'password-strength'
      : unreachable(failure.kind)
        ? 'workos-unreachable'
        : failure.kind === 'rate_limited'
          ? 'rate-limited'
          : 'workos-rejected';
  };
  /**
   * The legacy check decides (a refusal answers on `side`), then WorkOS gets the plaintext password;
   * a WorkOS failure leaves the user signed in on legacy. Null once the password is in WorkOS.
   */
  const verifyThenMovePassword = async (
    side: 'workos' | 'legacy',
    what: string,
  ): Promise<LoginResult | null> => {
    const verdict = await legacyCheck();
    if (verdict === 'limited') return refused(side, 'rate-limited', localUserId);
    if (!verdict) return refused(side, 'invalid-credentials', localUserId);
    try {
      await workos.userManagement.updateUser({ userId: workosUserId, password: input.password });
      return null;
    } catch (error) {
      const reason = moveFailure(error, what);
      return { side: 'legacy', ok: true, reason, localUserId, fellBack: reason === 'workos-unreachable' };
    }
  };
  /**
   * The password just sent is the one the legacy check verified. If the user changed it meanwhile
   * (that change may already be mirrored, even as a revocation), this older one must not stay in
   * WorkOS: keep it only while the stored hash is the verified one, no password change is queued, and
   * no sync wrote sync_state since the decision (synced_at unchanged), applying `mark` in the same
   * statement; else have the worker send the current password state again (an unimportable or
   * revoked one replaces the password just set). Answers whether the password may stay.
   */
  const keepMovedPassword = async (mark: SQL, expectedState: string): Promise<boolean> => {
    const current = await loadLocalUser(db, users, localUserSelect(users), localUserId);
    const kept =
      current?.passwordHash === user.passwordHash &&
      current.passwordHashType === user.passwordHashType &&
      current.disabled === false &&
      (
        await query<{ user_id: string }>(
          db,
          sql`UPDATE workos_migrate.sync_state SET ${mark}
              WHERE user_id = ${localUserId} AND password_state = ${expectedState}
                AND synced_at::text IS NOT DISTINCT FROM ${decision.syncedAt}
                AND NOT EXISTS (SELECT 1 FROM workos_migrate.outbox
                                WHERE user_id = ${localUserId} AND password_changed)
              RETURNING user_id`,
        )
      ).length > 0;
    if (kept) return true;
    // One transaction: the worker cannot finish the row between the enqueue and the mark.
    await db.transaction(async (tx) => {
      await tx.execute(sql`SELECT workos_migrate.enqueue(${localUserId}, true, ${current === null}, NULL)`);
      await tx.execute(
        sql`UPDATE workos_migrate.outbox SET password_moved = true WHERE user_id = ${localUserId}`,
      );
    });
    logger.warn(
      { userId: localUserId },
      'workos-migrate: the password changed during sign-in; its current hash is sent again',
    );
    return false;
  };

  if (decision.passwordState === 'login') {
    // The hash could not be imported: the legacy check decides, then WorkOS gets the password.
    const stopped = await verifyThenMovePassword('legacy', 'moving a password');
    if (stopped) return stopped;
    if (!(await keepMovedPassword(sql`password_state = 'synced', password_reason = NULL`, 'login')))
      return refused('legacy', 'pending-sync', localUserId);
  }

  const externalId = `${config.externalIdPrefix}${localUserId}`;
  /** A sign-in (or a sign-in step) for another WorkOS user than the linked one: refused, and re-checked. */
  const identityMismatch = async (signedInWorkosUserId: string): Promise<LoginResult> => {
    logger.warn(
      { userId: localUserId, linkedWorkosUserId: workosUserId, signedInWorkosUserId },
      'workos-migrate: WorkOS signed in a user other than the linked one; refused, and the user is queued for a re-check',
    );
    // Re-read the linked WorkOS user rather than trust the last-synced values: one statement, so a
    // worker cannot claim the row between queueing it and marking it for verification.
    await requeueForVerification(db, localUserId, false);
    return refused('workos', 'identity-mismatch', localUserId);
  };

  /**
   * Self-healing: WorkOS said "wrong password" for a user who never signed in through WorkOS, whose
   * WorkOS user nobody changed since our last write (same `updated_at`), holding an imported hash. If
   * the legacy check passes, WorkOS read the import differently: set the password from the plaintext,
   * count a mismatch for the format, and sign in again. Null when the rule does not apply.
   */
  const heal = async (): Promise<LoginResult | null> => {
    const format = decision.hashFormat;
    if (
      decision.signedInWithWorkos ||
      decision.passwordState !== 'synced' ||
      format === null ||
      decision.workosUpdatedAt === null
    )
      return null;
    let linked: User;
    try {
      linked = await workos.userManagement.getUser(workosUserId);
    } catch {
      return null;
    }
    // Someone changed the WorkOS user (a password set there, a reset): its password is not our import.
    if (linked.updatedAt !== decision.workosUpdatedAt || linked.externalId !== externalId) return null;
    const stopped = await verifyThenMovePassword('workos', 'healing a misread password');
    if (stopped) return stopped;
    await recordFormatOutcome(db, format, 'mismatch', { healed: true });
    logger.warn(
      { userId: localUserId, hashFormat: format },
      'workos-migrate: WorkOS refused a password the legacy check accepted (an import read differently); the password was set in WorkOS',
    );
    // WorkOS now holds a password set from plaintext, not the import: no longer evidence for the format.
    if (!(await keepMovedPassword(sql`password_verified_at = now(), hash_format = NULL`, 'synced')))
      return refused('legacy', 'pending-sync', localUserId);
    return signInAtWorkos(true);
  };

  const signInAtWorkos = async (healing: boolean): Promise<LoginResult> => {
    try {
      const answer = await workos.userManagement.authenticateWithPassword({
        clientId: config.workos.clientId,
        email: user.email as string,
        password: input.password,
        ...(input.ipAddress ? { ipAddress: input.ipAddress } : {}),
        ...(input.userAgent ? { userAgent: input.userAgent } : {}),
      });
      // WorkOS signs in whoever holds the email there now: that counts only if it is the WorkOS user
      // linked to this local user (stored id on both sides, and our external id).
      if (
        answer.user.id !== workosUserId ||
        (user.workosUserId !== null && user.workosUserId !== workosUserId) ||
        answer.user.externalId !== externalId
      ) {
        return identityMismatch(answer.user.id);
      }
      await db.execute(
        sql`UPDATE workos_migrate.sync_state SET workos_signed_in_at = now()
            WHERE user_id = ${localUserId} AND workos_signed_in_at IS NULL`,
      );
      return {
        side: 'workos',
        ok: true,
        reason: 'authenticated',
        localUserId,
        workosUser: answer.user,
        accessToken: answer.accessToken,
        refreshToken: answer.refreshToken,
        fellBack: false,
        ...(healing ? { healed: true as const } : {}),
      };
    } catch (error) {
      const failure = classifyWorkosError(error);
      const workosSide = (reason: LoginReason): LoginResult => refused('workos', reason, localUserId);
      if (failure.kind === 'sign_in_step') {
        // A step that names its user (MFA, organization selection) must name the linked one too.
        const stepUserId = (error as { rawData?: { user?: { id?: unknown } } } | null)?.rawData?.user?.id;
        if (typeof stepUserId === 'string' && stepUserId !== workosUserId)
          return identityMismatch(stepUserId);
        return refused('workos', SIGN_IN_STEPS[failure.code ?? ''] ?? 'challenge-required', localUserId, {
          pendingAuthenticationToken: failure.pendingAuthenticationToken ?? undefined,
        });
      }
      if (failure.kind === 'quota_exceeded') return workosSide('quota-exceeded');
      // WorkOS's per-email limit: never a reason to run the legacy check.
      if (failure.kind === 'rate_limited') return workosSide('rate-limited');
      if (unreachable(failure.kind)) {
        // Falling back is safe only while the legacy password is still the user's password: once they
        // signed in through WorkOS, a password they set there would be bypassed.
        if (decision.signedInWithWorkos) return workosSide('workos-unreachable');
        logger.warn(
          { userId: localUserId, kind: failure.kind },
          'workos-migrate: WorkOS unreachable at sign-in; legacy check used',
        );
        return legacyAnswer('workos-unreachable', true);
      }
      // An unknown client id comes back as an OAuth error (400 `invalid_client`), which carries its code
      // in `error`, not `code`: without this it read as the user's wrong password.
      const oauthError = (error as { error?: unknown } | null)?.error;
      if (
        oauthError === 'invalid_client' ||
        oauthError === 'unauthorized_client' ||
        (failure.kind === 'auth' &&
          failure.code !== 'invalid_grant' &&
          failure.code !== 'invalid_credentials')
      ) {
        logger.error(
          { status: failure.status, code: failure.code },
          'workos-migrate: WorkOS refused the API key or client id at sign-in',
        );
        return workosSide('workos-misconfigured');
      }
      if (!healing && failure.kind === 'invalid_credentials') {
        const healed = await heal();
        if (healed) return healed;
      }
      // Any other 4xx is WorkOS's answer about these credentials: never a reason to try legacy.
      return workosSide('invalid-credentials');
    }
  };
  return signInAtWorkos(false);
}
