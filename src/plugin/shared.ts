import type {
  CompleteSignInInput,
  CompleteSignInResult,
  CutoverDecision,
  LoginInput,
  LoginResult,
  SignInInput,
  SignInRoute,
  WorkosMigrate,
} from '../signin/engine.js';

/** Per-request helpers both adapters attach (`request.workosMigrate` / `req.workosMigrate`). */
export interface WorkosMigrateRequest {
  cutover(user: { userId: string | number; email: string }): Promise<CutoverDecision>;
  login(input: LoginInput): Promise<LoginResult>;
  /** Identifier-first routing: legacy form or AuthKit URL (store `pending` for this browser). */
  signIn(input: SignInInput): Promise<SignInRoute>;
  /** The AuthKit callback; see CompleteSignInResult. */
  completeSignIn(input: CompleteSignInInput): Promise<CompleteSignInResult>;
}

export function requestHelpers(migrate: WorkosMigrate): WorkosMigrateRequest {
  return {
    cutover: (user) => migrate.cutover(user),
    login: (input) => migrate.login(input),
    signIn: (input) => migrate.signIn(input),
    completeSignIn: (input) => migrate.completeSignIn(input),
  };
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
