import type { User, WorkOS } from '@workos-inc/node';
import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { query } from '../core/db.js';
import type { Flags } from '../flags/flags.js';
import { classifyWorkosError } from '../workos/client.js';
import { decideCutover, type LegacyReason } from './cutover.js';
import { findLocalUserByEmail, loadLocalUser, localUserSelect } from './local-user.js';

/** What `verifyLegacy` is given: the app checks the password against its own stored hash. */
export interface LegacyCredentials {
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
  | 'email-verification-required'
  | 'rate-limited'
  /** WorkOS did not answer (network, timeout, 5xx). */
  | 'workos-unreachable'
  /** WorkOS refused our API key or client id: a configuration problem, not the user's. */
  | 'workos-misconfigured'
  /** The legacy password is below WorkOS's password policy: the user stays on legacy. */
  | 'password-strength'
  | 'workos-rejected';

export interface LoginResult {
  side: 'workos' | 'legacy';
  ok: boolean;
  reason: LoginReason;
  localUserId: string | null;
  workosUser?: User;
  accessToken?: string;
  refreshToken?: string;
  /** WorkOS was tried, did not answer, and the legacy check decided instead. */
  fellBack: boolean;
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
): Promise<LoginResult> {
  const { db, users, logger } = config;
  const user = await findLocalUserByEmail(db, users, localUserSelect(users), input.email);
  if (!user?.email)
    return { side: 'legacy', ok: false, reason: 'unknown-user', localUserId: null, fellBack: false };
  const localUserId = user.id;
  const legacyCheck = () =>
    Promise.resolve(
      input.verifyLegacy({
        localUserId,
        email: user.email as string,
        password: input.password,
        passwordHash: user.passwordHash,
      }),
    ).then((ok) => ok === true);
  const decision = await decideCutover(config, flags, { userId: localUserId, email: user.email });
  if (decision.target === 'legacy') {
    const ok = await legacyCheck();
    return { side: 'legacy', ok, reason: decision.reason as LegacyReason, localUserId, fellBack: false };
  }
  const workosUserId = decision.workosUserId as string;
  const unreachable = (kind: string) => kind === 'no_answer' || kind === 'server_error';

  if (decision.passwordState === 'login') {
    // The hash could not be imported: the legacy check decides, then WorkOS gets the password.
    if (!(await legacyCheck()))
      return { side: 'legacy', ok: false, reason: 'invalid-credentials', localUserId, fellBack: false };
    try {
      await workos.userManagement.updateUser({ userId: workosUserId, password: input.password });
    } catch (error) {
      const failure = classifyWorkosError(error);
      logger.warn(
        { userId: localUserId, kind: failure.kind, code: failure.code },
        'workos-migrate: moving a password at sign-in failed; the user stays on legacy',
      );
      const reason: LoginReason =
        failure.kind === 'weak_password'
          ? 'password-strength'
          : unreachable(failure.kind)
            ? 'workos-unreachable'
            : failure.kind === 'rate_limited'
              ? 'rate-limited'
              : 'workos-rejected';
      return { side: 'legacy', ok: true, reason, localUserId, fellBack: reason === 'workos-unreachable' };
    }
    // The password just sent is the one the legacy check verified. If the user changed it meanwhile
    // (that change may already be mirrored), this older one must not stay in WorkOS: mark the password
    // moved only while the stored hash is the verified one and no password change is queued; else have
    // the worker send the current hash again and let this sign-in be retried.
    const current = await loadLocalUser(db, users, localUserSelect(users), localUserId);
    const marked =
      current?.passwordHash === user.passwordHash &&
      current.passwordHashType === user.passwordHashType &&
      (
        await query<{ user_id: string }>(
          db,
          sql`UPDATE workos_migrate.sync_state SET password_state = 'synced', password_reason = NULL
              WHERE user_id = ${localUserId} AND password_state = 'login'
                AND NOT EXISTS (SELECT 1 FROM workos_migrate.outbox
                                WHERE user_id = ${localUserId} AND password_changed)
              RETURNING user_id`,
        )
      ).length > 0;
    if (!marked) {
      await db.execute(sql`SELECT workos_migrate.enqueue(${localUserId}, true, ${current === null}, NULL)`);
      logger.warn(
        { userId: localUserId },
        'workos-migrate: the password changed during sign-in; its current hash is sent again',
      );
      return { side: 'legacy', ok: false, reason: 'pending-sync', localUserId, fellBack: false };
    }
  }

  try {
    const answer = await workos.userManagement.authenticateWithPassword({
      clientId: config.workos.clientId,
      email: user.email,
      password: input.password,
      ...(input.ipAddress ? { ipAddress: input.ipAddress } : {}),
      ...(input.userAgent ? { userAgent: input.userAgent } : {}),
    });
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
    };
  } catch (error) {
    const failure = classifyWorkosError(error);
    const workosSide = (reason: LoginReason): LoginResult => ({
      side: 'workos',
      ok: false,
      reason,
      localUserId,
      fellBack: false,
    });
    if (failure.code === 'email_verification_required') return workosSide('email-verification-required');
    if (failure.kind === 'rate_limited') return workosSide('rate-limited');
    if (unreachable(failure.kind)) {
      // Falling back is safe only while the legacy password is still the user's password: once they
      // signed in through WorkOS, a password they set there would be bypassed.
      if (decision.signedInWithWorkos) return workosSide('workos-unreachable');
      logger.warn(
        { userId: localUserId, kind: failure.kind },
        'workos-migrate: WorkOS unreachable at sign-in; legacy check used',
      );
      const ok = await legacyCheck();
      return { side: 'legacy', ok, reason: 'workos-unreachable', localUserId, fellBack: true };
    }
    // An unknown client id comes back as an OAuth error (400 `invalid_client`), which carries its code
    // in `error`, not `code`: without this it read as the user's wrong password.
    const oauthError = (error as { error?: unknown } | null)?.error;
    if (
      oauthError === 'invalid_client' ||
      oauthError === 'unauthorized_client' ||
      (failure.kind === 'auth' && failure.code !== 'invalid_grant' && failure.code !== 'invalid_credentials')
    ) {
      logger.error(
        { status: failure.status, code: failure.code },
        'workos-migrate: WorkOS refused the API key or client id at sign-in',
      );
      return workosSide('workos-misconfigured');
    }
    // Any other 4xx is WorkOS's answer about these credentials: never a reason to try legacy.
    return workosSide('invalid-credentials');
  }
}
