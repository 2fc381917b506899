import type { CutoverDecision, LoginInput, LoginResult, WorkosMigrate } from '../sync/index.js';

/** Per-request helpers both adapters attach (`request.workosMigrate` / `req.workosMigrate`). */
export interface WorkosMigrateRequest {
  cutover(user: { userId: string | number; email: string }): Promise<CutoverDecision>;
  login(input: LoginInput): Promise<LoginResult>;
}

export function requestHelpers(migrate: WorkosMigrate): WorkosMigrateRequest {
  return { cutover: (user) => migrate.cutover(user), login: (input) => migrate.login(input) };
}

/** The 503 body of a frozen route, or null when the route may go on. */
export function frozenAnswer(migrate: WorkosMigrate): { error: 'signups_frozen'; message: string } | null {
  if (!migrate.flags.signupsFrozen()) return null;
  const { retryAfterSeconds } = migrate.flags;
  return {
    error: 'signups_frozen',
    message: migrate.flags.ready
      ? `Sign-ups are paused while accounts are being migrated. Try again in ${retryAfterSeconds} seconds.`
      : 'Sign-ups are paused until the migration flags are available. Try again shortly.',
  };
}
