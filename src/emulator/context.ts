import type { AuthenticationMethod } from './auth-api.js';
import type { AuthkitState } from './authkit.js';
import type { EmailTakenMode, MisreadHashType, SignInSteps } from './options.js';
import type { PasswordPolicy } from './password-policy.js';
import type { HashRanges } from './passwords.js';
import type { SigningKey } from './signing.js';
import type { EmulatorStore } from './store.js';

/** What every API handler works with. Settings are read on each request, so changes act at once. */
export interface ApiContext {
  store: EmulatorStore;
  settings: {
    emailTaken: EmailTakenMode;
    passwordPolicy: PasswordPolicy;
    passwordHashRanges: HashRanges;
    requireEmailVerification: boolean;
    signInSteps: SignInSteps;
    misreadHashTypes: readonly MisreadHashType[];
    clientIds: readonly string[];
    apiKeys: readonly string[];
    /** AuthKit redirect URIs accepted exactly; null accepts any absolute http(s) URI. */
    redirectUris: readonly string[] | null;
  };
  /** The key access tokens are signed with (RS256; its public half is the JWKS). */
  signingKey: () => SigningKey;
  /** AuthKit's pending hosted sign-ins and issued authorization codes. */
  authkit: AuthkitState;
  /** Sessions issued by authenticate (by `sid`): revoked ones are kept as revoked. */
  sessions: Map<
    string,
    {
      userId: string;
      revoked: boolean;
      method: AuthenticationMethod;
      organizationId: string | null;
      clientId: string;
    }
  >;
  /** Milliseconds until the per-email limit lets this email through again; 0 = allowed now. */
  authenticateWait(email: string): number;
  passwordResetWait(email: string): number;
}

export interface ApiRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}
