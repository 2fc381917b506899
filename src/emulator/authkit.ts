// AuthKit, emulated: `GET /user_management/authorize` as the SDK builds it, the hosted sign-in
// (password against the imported hashes, a simulated OAuth provider, sign-up, the sign-in steps),
// and the `authorization_code` grant. Password checks and steps are the password grant's own
// (auth-api.ts), so the hosted page and `authenticateWithPassword` can never judge a user apart.
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  type AuthenticationMethod,
  authenticate as authenticateWithoutCode,
  checkPasswordSignIn,
  methodRefusal,
  type PendingStep,
  pendingSteps,
  sessionAnswer,
  stepFor,
} from './auth-api.js';
import type { ApiContext, ApiRequest } from './context.js';
import { EMULATOR_ONE_TIME_CODE } from './hosted-client.js';
import {
  errorPage,
  oauthProviderPage,
  type PageError,
  signInPage,
  signUpPage,
  stepPage,
} from './hosted-pages.js';
import { ApiError, type ApiResult, isJsonObject, oauthError, secretMatches } from './http.js';
import { newId } from './ids.js';
import { digestToken, type StoredUser } from './store.js';
import { createUser } from './users-api.js';

/** WorkOS's docs: the authorization code is valid for 10 minutes (and, as in OAuth, once). */
export const AUTHORIZATION_CODE_TTL_MS = 10 * 60 * 1000;
/** How long a hosted sign-in page stays usable; WorkOS does not document its own. */
const AUTHORIZATION_REQUEST_TTL_MS = 30 * 60 * 1000;
/** Pending requests and codes kept at most; the oldest are forgotten first. */
const MAX_PENDING = 10_000;
/** The OAuth providers `provider` may name (the spec's enum), with the name their page shows. */
const OAUTH_PROVIDERS: Record<string, string> = {
  AppleOAuth: 'Apple',
  BitbucketOAuth: 'Bitbucket',
  GitHubOAuth: 'GitHub',
  GitLabOAuth: 'GitLab',
  GoogleOAuth: 'Google',
  IntuitOAuth: 'Intuit',
  LinkedInOAuth: 'LinkedIn',
  MicrosoftOAuth: 'Microsoft',
  SalesforceOAuth: 'Salesforce',
  SlackOAuth: 'Slack',
  VercelMarketplaceOAuth: 'Vercel Marketplace',
  VercelOAuth: 'Vercel',
  XeroOAuth: 'Xero',
};

/** A first factor that passed: who, how, and what is still due before a code is issued. */
interface SignInProgress {
  userId: string;
  method: AuthenticationMethod;
  steps: PendingStep[];
  /** The organizations the selection step offers (fixed when the sign-in passed its first factor). */
  organizations: string[];
  organizationId: string | null;
}

/** One validated authorize request: what the code will be bound to, and how far the user got. */
interface AuthorizationRequest {
  id: string;
  clientId: string;
  redirectUri: string;
  state: string | null;
  codeChallenge: string | null;
  loginHint: string;
  expiresAt: number;
  progress: SignInProgress | null;
}

interface IssuedCode {
  clientId: string;
  codeChallenge: string | null;
  userId: string;
  method: AuthenticationMethod;
  organizationId: string | null;
  expiresAt: number;
}

/** AuthKit's in-memory state; codes are kept by digest, like reset tokens. */
export interface AuthkitState {
  requests: Map<string, AuthorizationRequest>;
  codes: Map<string, IssuedCode>;
  /** Refresh token digest -> the session it continues. */
  refreshTokens: Map<string, string>;
}

export function createAuthkitState(): AuthkitState {
  return { requests: new Map(), codes: new Map(), refreshTokens: new Map() };
}

function remember<T extends { expiresAt: number }>(map: Map<string, T>, key: string, value: T): void {
  const now = Date.now();
  for (const [oldKey, old] of map) {
    if (old.expiresAt < now || map.size >= MAX_PENDING) map.delete(oldKey);
    else break;
  }
  map.set(key, value);
}

/** What an AuthKit page route answers: HTML, or a redirect. */
export interface HostedResult {
  status: number;
  html: string;
  location?: string;
}

const html = (status: number, page: string): HostedResult => ({ status, html: page });

function invalidRequestPage(code: string, message: string): HostedResult {
  return html(400, errorPage({ title: 'Invalid sign-in request', code, message }));
}

const expiredPage = (): HostedResult =>
  html(
    400,
    errorPage({
      title: 'This sign-in has expired',
      code: 'authorization_expired',
      message: 'Go back to the application and start signing in again.',
    }),
  );

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * `GET /user_management/authorize`. Every check that protects the redirect happens before any
 * page is served, and a failure is an error page, never a redirect: an unchecked redirect_uri
 * would hand the code to whoever wrote the link.
 */
function authorize(ctx: ApiContext, query: URLSearchParams): HostedResult {
  const clientId = query.get('client_id');
  if (!clientId || !ctx.settings.clientIds.includes(clientId)) {
    return invalidRequestPage('invalid_client', 'Invalid client ID.');
  }
  const redirectUri = query.get('redirect_uri');
  if (!redirectUri) return invalidRequestPage('invalid_request', 'redirect_uri is required.');
  if (!isHttpUrl(redirectUri)) {
    return invalidRequestPage('invalid_redirect_uri', 'redirect_uri must be an absolute http(s) URL.');
  }
  const allowed = ctx.settings.redirectUris;
  if (allowed !== null && !allowed.includes(redirectUri)) {
    return invalidRequestPage(
      'invalid_redirect_uri',
      'This redirect_uri is not one of the redirect URIs configured for this environment.',
    );
  }
  if (query.get('response_type') !== 'code') {
    return invalidRequestPage('unsupported_response_type', 'response_type must be code.');
  }
  const codeChallenge = query.get('code_challenge');
  const challengeMethod = query.get('code_challenge_method');
  if (codeChallenge !== null && challengeMethod !== 'S256') {
    return invalidRequestPage('invalid_request', 'code_challenge_method must be S256 with a code_challenge.');
  }
  if (codeChallenge === null && challengeMethod !== null) {
    return invalidRequestPage('invalid_request', 'code_challenge_method was given without a code_challenge.');
  }
  const provider = query.get('provider');
  if (query.get('connection_id') !== null || query.get('organization_id') !== null) {
    return invalidRequestPage(
      'sso_not_emulated',
      'The emulator has no SSO connections: use provider=authkit or an OAuth provider.',
    );
  }
  if (provider === null) {
    return invalidRequestPage('invalid_request', 'provider, connection_id or organization_id is required.');
  }
  if (provider !== 'authkit' && !(provider in OAUTH_PROVIDERS)) {
    return invalidRequestPage('invalid_request', `Unknown provider ${provider}.`);
  }
  const request: AuthorizationRequest = {
    // Random, not a ULID: a monotonic id made in the same millisecond as another is guessable from it.
    id: `authorization_${randomBytes(16).toString('base64url')}`,
    clientId,
    redirectUri,
    state: query.get('state'),
    codeChallenge,
    loginHint: query.get('login_hint') ?? '',
    expiresAt: Date.now() + AUTHORIZATION_REQUEST_TTL_MS,
    progress: null,
  };
  remember(ctx.authkit.requests, request.id, request);
  if (provider !== 'authkit') {
    return { status: 302, html: '', location: oauthPagePath(request.id, provider) };
  }
  return query.get('screen_hint') === 'sign-up'
    ? html(200, signUpPage({ authorizationId: request.id, email: request.loginHint, error: null }))
    : html(200, signInPage({ authorizationId: request.id, email: request.loginHint, error: null }));
}

function oauthPagePath(authorizationId: string, provider: string): string {
  return `/authkit/oauth?authorization=${encodeURIComponent(authorizationId)}&provider=${encodeURIComponent(provider)}`;
}

function liveRequest(ctx: ApiContext, id: string | null): AuthorizationRequest | null {
  const request = id ? ctx.authkit.requests.get(id) : undefined;
  if (!request) return null;
  if (request.expiresAt < Date.now()) {
    ctx.authkit.requests.delete(request.id);
    return null;
  }
  return request;
}

function organizationsOf(user: StoredUser, steps: PendingStep[]): string[] {
  if (!steps.includes('organization_selection_required')) return [];
  return user.organizationIds.length > 0 ? [...user.organizationIds] : [newId('org')];
}

function startProgress(
  request: AuthorizationRequest,
  user: StoredUser,
  method: AuthenticationMethod,
  steps: PendingStep[],
): void {
  request.progress = {
    userId: user.wire.id,
    method,
    steps,
    organizations: organizationsOf(user, steps),
    organizationId: null,
  };
}

/** The next step's page, or (none left) the code and the redirect to the application. */
function advance(
  ctx: ApiContext,
  request: AuthorizationRequest,
  error: PageError | null = null,
): HostedResult {
  const progress = request.progress as SignInProgress;
  const user = ctx.store.get(progress.userId);
  if (!user) return expiredPage();
  const step = progress.steps[0];
  if (step) {
    return html(
      error ? 400 : 200,
      stepPage({
        authorizationId: request.id,
        step,
        email: user.wire.email,
        organizations: progress.organizations,
        oneTimeCode: EMULATOR_ONE_TIME_CODE,
        error,
      }),
    );
  }
  const code = randomBytes(24).toString('base64url');
  remember(ctx.authkit.codes, digestToken(code), {
    clientId: request.clientId,
    codeChallenge: request.codeChallenge,
    userId: user.wire.id,
    method: progress.method,
    organizationId: progress.organizationId,
    expiresAt: Date.now() + AUTHORIZATION_CODE_TTL_MS,
  });
  // The request is spent: going back to its page cannot mint a second code.
  ctx.authkit.requests.delete(request.id);
  const location = new URL(request.redirectUri);
  location.searchParams.set('code', code);
  if (request.state !== null) location.searchParams.set('state', request.state);
  return { status: 302, html: '', location: location.toString() };
}

/** A refusal of the method itself (SSO required, quota spent, method not allowed), as a page. */
function refusalPage(error: ApiError, rerender: (pageError: PageError) => string): HostedResult | null {
  const code = String(error.body.code ?? error.body.error ?? '');
  if (code === 'sso_required') {
    return html(
      403,
      errorPage({
        title: 'Single sign-on required',
        code,
        message:
          'Your organization requires you to sign in with single sign-on (SSO connections are not emulated).',
      }),
    );
  }
  if (code === 'invalid_credentials') {
    return html(400, rerender({ code, message: 'Incorrect email or password.' }));
  }
  if (code === 'rate_limit_exceeded' || code === 'daily_quota_exceeded') {
    return html(429, rerender({ code, message: 'Too many sign-in attempts. Try again later.' }));
  }
  if (code === 'authentication_method_not_allowed') {
    return html(403, rerender({ code, message: 'Password sign-in is not allowed for this account.' }));
  }
  if (code === 'user_creation_error')
    return html(400, rerender({ code, message: 'An account with this email already exists.' }));
  if (error.status === 400 || error.status === 422) {
    return html(400, rerender({ code, message: error.message }));
  }
  return null;
}

/** Runs a submit; a refusal WorkOS answers as an ApiError becomes the page that shows it. */
async function showingRefusals(
  rerender: (pageError: PageError) => string,
  work: () => Promise<HostedResult>,
): Promise<HostedResult> {
  try {
    return await work();
  } catch (error) {
    const page = error instanceof ApiError ? refusalPage(error, rerender) : null;
    if (page) return page;
    throw error;
  }
}

async function passwordSubmit(ctx: ApiContext, form: URLSearchParams): Promise<HostedResult> {
  const request = liveRequest(ctx, form.get('authorization'));
  if (!request) return expiredPage();
  const email = form.get('email') ?? '';
  const rerender = (error: PageError) => signInPage({ authorizationId: request.id, email, error });
  return showingRefusals(rerender, async () => {
    const { user, steps } = await checkPasswordSignIn(ctx, email, form.get('password') ?? '');
    startProgress(request, user, 'Password', steps);
    return advance(ctx, request);
  });
}

async function signUpSubmit(ctx: ApiContext, form: URLSearchParams): Promise<HostedResult> {
  const request = liveRequest(ctx, form.get('authorization'));
  if (!request) return expiredPage();
  const email = form.get('email') ?? '';
  const rerender = (error: PageError) => signUpPage({ authorizationId: request.id, email, error });
  return showingRefusals(rerender, async () => {
    const step = stepFor(ctx, email, undefined);
    const refusal = step ? methodRefusal(step, email) : null;
    if (refusal) throw refusal;
    const user = await createUser(ctx, {
      email,
      password: form.get('password') ?? '',
      first_name: form.get('first_name') || null,
      last_name: form.get('last_name') || null,
    });
    // A new account has an unverified email: the environment's rule decides whether it must be proven.
    const steps: PendingStep[] = ctx.settings.requireEmailVerification ? ['email_verification'] : [];
    startProgress(request, user, 'Password', steps);
    return advance(ctx, request);
  });
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The simulated provider answered with a profile. Linking follows WorkOS's identity linking
 * (docs: authkit/identity-linking): a profile whose email matches an existing user signs in as that
 * user only once the inbox is proven, by the provider's verified email or by a code; otherwise a
 * new user without a password is created.
 */
async function oauthSubmit(ctx: ApiContext, form: URLSearchParams): Promise<HostedResult> {
  const request = liveRequest(ctx, form.get('authorization'));
  if (!request) return expiredPage();
  const provider = form.get('provider') ?? '';
  const providerName = OAUTH_PROVIDERS[provider];
  if (!providerName) return invalidRequestPage('invalid_request', `Unknown provider ${provider}.`);
  const email = (form.get('email') ?? '').trim();
  const rerender = (error: PageError) =>
    oauthProviderPage({ authorizationId: request.id, provider, providerName, email, error });
  if (!EMAIL_PATTERN.test(email)) {
    return html(400, rerender({ code: 'invalid_email', message: 'Enter the account email.' }));
  }
  const providerVerified = form.get('email_verified') === 'true';
  return showingRefusals(rerender, async () => {
    let user = ctx.store.getByEmail(email);
    const step = stepFor(ctx, email, user);
    // A refusal of the password method does not concern an OAuth sign-in.
    const refusal = step && step !== 'authentication_method_not_allowed' ? methodRefusal(step, email) : null;
    if (refusal) throw refusal;
    const steps: PendingStep[] = [];
    if (user) {
      // An existing user's account is never handed to a profile whose inbox nobody proved.
      if (!providerVerified) steps.push('email_verification');
      else if (!user.wire.email_verified) verifyEmail(ctx, user);
    } else {
      const [firstName, ...rest] = (form.get('name') ?? '').trim().split(/\s+/);
      user = await createUser(ctx, {
        email,
        first_name: firstName || null,
        last_name: rest.join(' ') || null,
        email_verified: providerVerified,
      });
      if (!providerVerified && ctx.settings.requireEmailVerification) steps.push('email_verification');
    }
    // The configured steps apply as after a password (docs: authkit/mfa exempts SSO users only).
    steps.push(...pendingSteps(ctx, user, step).filter((pending) => pending !== 'email_verification'));
    startProgress(request, user, provider as AuthenticationMethod, steps);
    return advance(ctx, request);
  });
}

function verifyEmail(ctx: ApiContext, user: StoredUser): void {
  ctx.store.replace(user, { ...user.wire, email_verified: true, updated_at: new Date().toISOString() });
}

function stepSubmit(ctx: ApiContext, form: URLSearchParams): HostedResult {
  const request = liveRequest(ctx, form.get('authorization'));
  const progress = request?.progress;
  const step = progress?.steps[0];
  if (!request || !progress || !step) return expiredPage();
  const user = ctx.store.get(progress.userId);
  if (!user) return expiredPage();
  if (step === 'organization_selection_required') {
    const chosen = form.get('organization_id');
    if (!chosen || !progress.organizations.includes(chosen)) {
      return advance(ctx, request, {
        code: 'invalid_organization',
        message: 'Choose one of the organizations.',
      });
    }
    progress.organizationId = chosen;
  } else {
    if ((form.get('code') ?? '').trim() !== EMULATOR_ONE_TIME_CODE) {
      return advance(ctx, request, { code: 'invalid_one_time_code', message: 'That code is not right.' });
    }
    if (step === 'email_verification' && !user.wire.email_verified) verifyEmail(ctx, user);
  }
  progress.steps.shift();
  return advance(ctx, request);
}

function pageFor(
  ctx: ApiContext,
  query: URLSearchParams,
  kind: 'sign-in' | 'sign-up' | 'oauth',
): HostedResult {
  const request = liveRequest(ctx, query.get('authorization'));
  if (!request) return expiredPage();
  const input = { authorizationId: request.id, email: request.loginHint, error: null };
  if (kind === 'sign-in') return html(200, signInPage(input));
  if (kind === 'sign-up') return html(200, signUpPage(input));
  const provider = query.get('provider') ?? '';
  const providerName = OAUTH_PROVIDERS[provider];
  if (!providerName) return invalidRequestPage('invalid_request', `Unknown provider ${provider}.`);
  return html(200, oauthProviderPage({ ...input, provider, providerName }));
}

/** Whether a path is one of AuthKit's browser-facing routes (no API key: a browser calls them). */
export function isHostedPath(path: string): boolean {
  return path === '/user_management/authorize' || path.startsWith('/authkit/');
}

/** Answers a browser request for an AuthKit page, or null for a route it does not know. */
export async function handleHostedRequest(
  ctx: ApiContext,
  req: IncomingMessage,
  url: URL,
  readBody: (req: IncomingMessage) => Promise<string>,
): Promise<HostedResult | null> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (method === 'GET') {
    if (path === '/user_management/authorize') return authorize(ctx, url.searchParams);
    if (path === '/authkit/sign-in') return pageFor(ctx, url.searchParams, 'sign-in');
    if (path === '/authkit/sign-up') return pageFor(ctx, url.searchParams, 'sign-up');
    if (path === '/authkit/oauth') return pageFor(ctx, url.searchParams, 'oauth');
    return null;
  }
  if (method !== 'POST') return null;
  const form = new URLSearchParams(await readBody(req));
  if (path === '/authkit/password') return passwordSubmit(ctx, form);
  if (path === '/authkit/sign-up') return signUpSubmit(ctx, form);
  if (path === '/authkit/oauth') return oauthSubmit(ctx, form);
  if (path === '/authkit/step') return stepSubmit(ctx, form);
  return null;
}

// The code grant's refusals are OAuth's (the spec's `invalid_grant`): one answer for a code that is
// unknown, spent, expired, issued to another client or not matched by its PKCE verifier.
const invalidGrant = () => oauthError(400, 'invalid_grant', 'The code has expired or has already been used.');

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/**
 * A known client id, and the secret when one is sent (a public client sends none): checked before a
 * code or refresh token is looked up, so a stranger's attempt cannot spend it.
 */
function checkClient(ctx: ApiContext, body: Record<string, unknown>): { clientId: string; secret: unknown } {
  if (typeof body.client_id !== 'string' || !ctx.settings.clientIds.includes(body.client_id)) {
    throw oauthError(400, 'invalid_client', 'Invalid client ID.');
  }
  const secret = body.client_secret;
  if (secret !== undefined && (typeof secret !== 'string' || !secretMatches(secret, ctx.settings.apiKeys))) {
    throw oauthError(400, 'invalid_client', 'Invalid client secret.');
  }
  return { clientId: body.client_id, secret };
}

/** `grant_type=authorization_code`: the code is spent by the first attempt that names it. */
function exchangeCode(ctx: ApiContext, body: Record<string, unknown>): ApiResult {
  const { clientId, secret } = checkClient(ctx, body);
  if (typeof body.code !== 'string' || body.code === '') {
    throw oauthError(400, 'invalid_request', 'code is required.');
  }
  const key = digestToken(body.code);
  const issued = ctx.authkit.codes.get(key);
  ctx.authkit.codes.delete(key);
  if (!issued || issued.expiresAt < Date.now() || issued.clientId !== clientId) throw invalidGrant();
  const verifier = body.code_verifier;
  if (issued.codeChallenge !== null) {
    if (typeof verifier !== 'string' || s256(verifier) !== issued.codeChallenge) throw invalidGrant();
  } else {
    // Without PKCE the client proves itself with its secret; a verifier for no challenge is a mix-up.
    if (secret === undefined)
      throw oauthError(400, 'invalid_client', 'client_secret is required without PKCE.');
    if (verifier !== undefined) throw invalidGrant();
  }
  const user = ctx.store.get(issued.userId);
  if (!user) throw invalidGrant();
  return {
    status: 200,
    body: sessionAnswer(ctx, user, {
      method: issued.method,
      organizationId: issued.organizationId,
      clientId: issued.clientId,
      ipAddress: body.ip_address,
      userAgent: body.user_agent,
    }),
  };
}

/**
 * `grant_type=refresh_token`: a new access token for the same session (same `sid`), and a new
 * refresh token; the one presented is spent. A revoked session, a deleted user, another client or
 * an organization the user does not belong to is `invalid_grant`.
 */
function refreshSession(ctx: ApiContext, body: Record<string, unknown>): ApiResult {
  const { clientId } = checkClient(ctx, body);
  if (typeof body.refresh_token !== 'string' || body.refresh_token === '') {
    throw oauthError(400, 'invalid_request', 'refresh_token is required.');
  }
  const key = digestToken(body.refresh_token);
  const sessionId = ctx.authkit.refreshTokens.get(key);
  ctx.authkit.refreshTokens.delete(key);
  const session = sessionId ? ctx.sessions.get(sessionId) : undefined;
  const user = session ? ctx.store.get(session.userId) : undefined;
  if (!sessionId || !session || session.revoked || !user || session.clientId !== clientId) {
    throw oauthError(400, 'invalid_grant', 'The refresh token is invalid or has been revoked.');
  }
  const requested = typeof body.organization_id === 'string' ? body.organization_id : null;
  if (
    requested !== null &&
    requested !== session.organizationId &&
    !user.organizationIds.includes(requested)
  ) {
    throw oauthError(400, 'invalid_grant', 'The user is not a member of this organization.');
  }
  return {
    status: 200,
    body: sessionAnswer(ctx, user, {
      method: session.method,
      organizationId: requested ?? session.organizationId,
      clientId: session.clientId,
      sessionId,
    }),
  };
}

/** `POST /user_management/authenticate`: the code and refresh grants here, the password grant in auth-api.ts. */
export async function authenticate(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  if (isJsonObject(req.body) && req.body.grant_type === 'authorization_code') {
    return exchangeCode(ctx, req.body);
  }
  if (isJsonObject(req.body) && req.body.grant_type === 'refresh_token') {
    return refreshSession(ctx, req.body);
  }
  return authenticateWithoutCode(ctx, req);
}

/** `GET /sso/jwks/{clientId}`: the public key access tokens are verified with. */
export async function jwks(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const clientId = req.params.clientId as string;
  if (!ctx.settings.clientIds.includes(clientId)) {
    return { status: 404, body: { message: `Client not found: '${clientId}'.` } };
  }
  return { status: 200, body: { keys: [ctx.signingKey().jwk] } };
}
