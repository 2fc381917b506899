import type {
  EmailTakenMode,
  FaultOptions,
  MisreadHashType,
  PasswordHashRangesOptions,
  PasswordPolicyOptions,
  RateLimitOptions,
  ScriptedFault,
  SignInSteps,
} from './options.js';

/** A user as WorkOS puts it on the wire (snake_case, nullable fields present as null). */
export interface WireUser {
  object: 'user';
  id: string;
  email: string;
  email_verified: boolean;
  first_name: string | null;
  last_name: string | null;
  profile_picture_url: string | null;
  last_sign_in_at: string | null;
  locale: string | null;
  external_id: string | null;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
}

/** A user to seed through the control plane: the create body, plus what only WorkOS itself sets. */
export interface SeedUser {
  email: string;
  first_name?: string | null;
  last_name?: string | null;
  email_verified?: boolean;
  external_id?: string | null;
  metadata?: Record<string, string>;
  password?: string;
  password_hash?: string;
  password_hash_type?: string;
  /** Seed a user that already signed in (ISO timestamp). */
  last_sign_in_at?: string | null;
  /** Organization memberships, for the list endpoint's `organization_id` filter. */
  organization_ids?: string[];
}

/** What the control plane shows of a stored user: never the hash or the password. */
export interface StoredUserView {
  user: WireUser;
  /** Whether any password is set. */
  hasPassword: boolean;
  /** `native` when set as plaintext through the API; the import type otherwise; null without a password. */
  passwordType: string | null;
}

export interface RequestCounters {
  /** API requests received (control plane excluded). */
  total: number;
  /** Keyed by `METHOD /route/template`, e.g. `POST /user_management/users`. */
  byRoute: Record<string, number>;
  /** Keyed by status code as a string. */
  byStatus: Record<string, number>;
  /** 429 answers from the rate limiter or scripted faults. */
  rateLimited: number;
  /** Faults injected, by kind (`error`, `drop`, `applied_unanswered`, `stall`, `rate_limit`, `ignore_field`, `latency`). */
  faults: Record<string, number>;
}

/** Settings that can change while the emulator runs. */
export interface EmulatorRuntimeSettings {
  emailTaken?: EmailTakenMode;
  rateLimits?: RateLimitOptions | false;
  faults?: FaultOptions;
  passwordPolicy?: PasswordPolicyOptions;
  requireEmailVerification?: boolean;
  /** Replaces the whole table; `{}` clears it. */
  signInSteps?: SignInSteps;
  /** Laid over the documented ranges; `{}` restores them. */
  passwordHashRanges?: PasswordHashRangesOptions;
  /** Replaces the list of imported hash types read differently at sign-in; `[]` clears it. */
  misreadHashTypes?: MisreadHashType[];
  /** Replaces AuthKit's accepted redirect URIs; null accepts any absolute http(s) URI. */
  redirectUris?: string[] | null;
}

export interface EmulatorControl {
  /** Forget every user, event, reset token, pending AuthKit sign-in and code, counter and scripted fault. Settings stay. */
  reset(): void;
  seedUsers(users: SeedUser[]): Promise<StoredUserView[]>;
  /** By WorkOS id, external id or email (case-insensitive). */
  getUser(key: string): StoredUserView | undefined;
  listUsers(): StoredUserView[];
  userCount(): number;
  counters(): RequestCounters;
  resetCounters(): void;
  configure(settings: EmulatorRuntimeSettings): void;
  /** Queue a one-shot fault for the next matching API request(s). */
  script(fault: ScriptedFault): void;
  clearScripts(): void;
}

export interface EmulatorSdkOptions {
  apiHostname: string;
  port: number;
  https: false;
}

export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:8484`. */
  url: string;
  port: number;
  /** Spread into `new WorkOS(apiKey, { ...sdkOptions })`. */
  sdkOptions: EmulatorSdkOptions;
  /** The first accepted API key. */
  apiKey: string;
  /** The first accepted client id. */
  clientId: string;
  control: EmulatorControl;
  close(): Promise<void>;
}
