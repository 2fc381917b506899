import type { ApiContext, ApiRequest } from './context.js';
import {
  ApiError,
  type ApiResult,
  badRequest,
  invalidParameters,
  isJsonObject,
  type JsonObject,
  notFound,
} from './http.js';
import { newId } from './ids.js';
import { passwordWeaknesses } from './password-policy.js';
import { hashNativePassword, type StoredPassword, validateImportedHash } from './passwords.js';
import type { StoredUser } from './store.js';
import type { WireUser } from './types.js';

// Limits from WorkOS's docs (docs/authkit/metadata). The spec is looser (50 pairs, 128-char
// external ids); the emulator enforces the stricter documented figures so a rehearsal that
// passes here also passes there.
const METADATA_MAX_PAIRS = 10;
const METADATA_MAX_KEY = 40;
const METADATA_MAX_VALUE = 600;
const EXTERNAL_ID_MAX = 64;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function userNotFound(id: string): ApiError {
  return notFound(`User not found: '${id}'.`);
}

function requireBody(body: unknown): JsonObject {
  if (!isJsonObject(body)) throw invalidParameters('The request body must be a JSON object.');
  return body;
}

function optionalString(body: JsonObject, field: string, nullable: boolean): string | null | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (value === null && nullable) return null;
  if (typeof value !== 'string') {
    throw invalidParameters(`${field} must be a string${nullable ? ' or null' : ''}.`, [
      { code: 'invalid_type', field },
    ]);
  }
  return value;
}

function optionalBoolean(body: JsonObject, field: string, nullable: boolean): boolean | undefined {
  const value = body[field];
  if (value === undefined || (value === null && nullable)) return undefined;
  if (typeof value !== 'boolean') {
    throw invalidParameters(`${field} must be a boolean.`, [{ code: 'invalid_type', field }]);
  }
  return value;
}

/**
 * The spec lists 400 `invalid_email` for Update User only; on create a malformed email is a schema
 * error (422), which is what `on` says.
 */
function checkEmail(value: unknown, on: 'create' | 'update', field = 'email'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidParameters(`${field} must be a non-empty string.`, [{ code: 'invalid_type', field }]);
  }
  if (!EMAIL_PATTERN.test(value)) {
    if (on === 'update') throw badRequest('invalid_email', 'The email address is not valid.');
    throw invalidParameters('The email address is not valid.', [{ code: 'invalid_email', field }]);
  }
  return value;
}

function checkExternalId(value: string | null | undefined): string | null | undefined {
  if (typeof value === 'string' && (value.length === 0 || value.length > EXTERNAL_ID_MAX)) {
    throw invalidParameters(`external_id must be between 1 and ${EXTERNAL_ID_MAX} characters.`, [
      { code: 'invalid_length', field: 'external_id' },
    ]);
  }
  return value;
}

/**
 * Merges a metadata patch (a `null` value deletes the key; `{}` deletes every key, as WorkOS does)
 * and checks the documented limits.
 */
function mergeMetadata(current: Record<string, string>, patch: unknown): Record<string, string> {
  if (patch === undefined) return current;
  if (patch === null) return {};
  if (!isJsonObject(patch)) throw badRequest('invalid_metadata', 'metadata must be an object of strings.');
  if (Object.keys(patch).length === 0) return {};
  const next = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete next[key];
      continue;
    }
    if (typeof value !== 'string') {
      throw badRequest('invalid_metadata', `Metadata value for key '${key}' must be a string.`);
    }
    if (key.length > METADATA_MAX_KEY) {
      throw badRequest('invalid_metadata', `Metadata keys must be at most ${METADATA_MAX_KEY} characters.`);
    }
    if (value.length > METADATA_MAX_VALUE) {
      throw badRequest(
        'invalid_metadata',
        `Metadata values must be at most ${METADATA_MAX_VALUE} characters.`,
      );
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the documented limit is printable ASCII
    if (!/^[\x00-\x7f]*$/.test(key + value)) {
      throw badRequest('invalid_metadata', 'Metadata keys and values must be ASCII.');
    }
    next[key] = value;
  }
  if (Object.keys(next).length > METADATA_MAX_PAIRS) {
    throw badRequest('invalid_metadata', `Metadata can hold at most ${METADATA_MAX_PAIRS} key-value pairs.`);
  }
  return next;
}

/** Reads `password` XOR `password_hash` + `password_hash_type`; answers the password to store. */
async function passwordFromBody(
  ctx: ApiContext,
  body: JsonObject,
): Promise<StoredPassword | null | undefined> {
  const password = body.password;
  const hash = body.password_hash;
  const hashType = body.password_hash_type;
  const present = (value: unknown) => value !== undefined && value !== null;
  if (present(password) && (present(hash) || present(hashType))) {
    throw badRequest(
      'password_and_password_hash_provided',
      'Only one of password or password_hash can be provided.',
    );
  }
  if (present(hash) !== present(hashType)) {
    throw badRequest(
      'password_and_password_hash_type_provided',
      'password_hash and password_hash_type must be provided together.',
    );
  }
  if (present(hash)) {
    if (typeof hash !== 'string' || typeof hashType !== 'string') {
      throw badRequest('invalid_password_hash', 'password_hash and password_hash_type must be strings.');
    }
    const problem = validateImportedHash(hashType, hash, ctx.settings.passwordHashRanges);
    if (problem !== null) throw badRequest('invalid_password_hash', `Invalid password hash: ${problem}.`);
    return { type: hashType as StoredPassword['type'], hash };
  }
  if (present(password)) {
    if (typeof password !== 'string') {
      throw invalidParameters('password must be a string.', [{ code: 'invalid_type', field: 'password' }]);
    }
    const weaknesses = passwordWeaknesses(ctx.settings.passwordPolicy, password);
    if (weaknesses.length > 0) {
      throw new ApiError(400, {
        code: 'password_strength_error',
        message: 'Password does not meet strength requirements.',
        errors: weaknesses,
      });
    }
    return hashNativePassword(password);
  }
  return undefined;
}

/** WorkOS's answer to a create whose email or external_id is taken: the reason sits in `errors[]`. */
function creationError(code: 'email_not_available' | 'external_id_already_used', message: string): ApiError {
  return new ApiError(400, {
    code: 'user_creation_error',
    message: 'Could not create user.',
    errors: [{ code, message }],
  });
}

function emailTaken(ctx: ApiContext): ApiError {
  const mode = `emailTaken=${ctx.settings.emailTaken}`;
  switch (ctx.settings.emailTaken) {
    case 'email_not_available':
      // The top-level form some clients expect; WorkOS's create answers the envelope.
      return new ApiError(
        400,
        { code: 'email_not_available', message: 'This email is not available.' },
        {},
        mode,
      );
    case 'conflict':
      // WorkOS's CLI emulator's answer, not WorkOS's.
      return new ApiError(
        409,
        { code: 'user_already_exists', message: 'A user with this email already exists.' },
        {},
        mode,
      );
    default:
      return creationError('email_not_available', 'This email is not available.');
  }
}

function now(): string {
  return new Date().toISOString();
}

export interface CreateExtras {
  lastSignInAt?: string | null;
  organizationIds?: string[];
}

/** Create, shared by the API and the control plane's seeding (which adds `extras`). */
export async function createUser(
  ctx: ApiContext,
  rawBody: unknown,
  extras: CreateExtras = {},
): Promise<StoredUser> {
  const body = requireBody(rawBody);
  const email = checkEmail(body.email, 'create');
  const firstName = optionalString(body, 'first_name', true) ?? null;
  const lastName = optionalString(body, 'last_name', true) ?? null;
  const emailVerified = optionalBoolean(body, 'email_verified', true) ?? false;
  const externalId = checkExternalId(optionalString(body, 'external_id', true)) ?? null;
  const metadata = mergeMetadata({}, body.metadata);
  const password = await passwordFromBody(ctx, body);
  // Uniqueness is checked after the (async) hashing so a concurrent create cannot slip in between.
  if (ctx.store.getByEmail(email)) throw emailTaken(ctx);
  if (externalId !== null && ctx.store.getByExternalId(externalId)) {
    throw creationError('external_id_already_used', 'This external_id is already used by another user.');
  }
  const timestamp = now();
  const wire: WireUser = {
    object: 'user',
    id: newId('user'),
    email,
    email_verified: emailVerified,
    first_name: firstName,
    last_name: lastName,
    profile_picture_url: null,
    last_sign_in_at: extras.lastSignInAt ?? null,
    locale: null,
    external_id: externalId,
    metadata,
    created_at: timestamp,
    updated_at: timestamp,
  };
  const user: StoredUser = {
    wire,
    password: password ?? null,
    organizationIds: extras.organizationIds ?? [],
  };
  ctx.store.insert(user);
  return user;
}

export async function create(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const user = await createUser(ctx, req.body);
  return { status: 201, body: user.wire };
}

export async function get(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const id = req.params.id as string;
  const user = ctx.store.get(id);
  if (!user) throw userNotFound(id);
  return { status: 200, body: user.wire };
}

export async function getByExternalId(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const externalId = req.params.external_id as string;
  const user = ctx.store.getByExternalId(externalId);
  if (!user) throw notFound(`User not found: '${externalId}'.`);
  return { status: 200, body: user.wire };
}

export async function update(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const id = req.params.id as string;
  const body = requireBody(req.body);
  const user = ctx.store.get(id);
  if (!user) throw userNotFound(id);
  const email = body.email === undefined ? undefined : checkEmail(body.email, 'update');
  const firstName = optionalString(body, 'first_name', false);
  const lastName = optionalString(body, 'last_name', false);
  const emailVerified = optionalBoolean(body, 'email_verified', false);
  const externalId = checkExternalId(optionalString(body, 'external_id', true));
  const locale = optionalString(body, 'locale', true);
  const metadata = mergeMetadata(user.wire.metadata, body.metadata);
  const password = await passwordFromBody(ctx, body);
  // The user may have been deleted while the password was hashed.
  if (ctx.store.get(id) !== user) throw userNotFound(id);
  if (email !== undefined) {
    const holder = ctx.store.getByEmail(email);
    if (holder && holder !== user) throw badRequest('email_not_available', 'This email is not available.');
  }
  if (externalId !== undefined && externalId !== null) {
    const holder = ctx.store.getByExternalId(externalId);
    if (holder && holder !== user) {
      throw badRequest('external_id_already_used', 'This external_id is already used by another user.');
    }
  }
  // WorkOS: a new email is unverified unless `email_verified: true` comes with it, and a verified
  // email is never set back to unverified. A change of case counts as a change here: whether WorkOS
  // keeps the flag then is not documented, and the stricter reading is the safe one to rehearse.
  const emailChanged = email !== undefined && email !== user.wire.email;
  if (!emailChanged && emailVerified === false && user.wire.email_verified) {
    throw badRequest('email_already_verified', 'The email address is already verified.');
  }
  const verifiedAfter = emailVerified ?? (emailChanged ? false : user.wire.email_verified);
  const next: WireUser = {
    ...user.wire,
    ...(email !== undefined ? { email } : {}),
    ...(firstName !== undefined ? { first_name: firstName } : {}),
    ...(lastName !== undefined ? { last_name: lastName } : {}),
    email_verified: verifiedAfter,
    ...(externalId !== undefined ? { external_id: externalId } : {}),
    ...(locale !== undefined ? { locale } : {}),
    metadata,
    updated_at: now(),
  };
  if (password !== undefined) ctx.store.setPassword(user, password);
  ctx.store.replace(user, next);
  return { status: 200, body: next };
}

export async function remove(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const id = req.params.id as string;
  const user = ctx.store.get(id);
  if (!user) throw userNotFound(id);
  ctx.store.remove(user);
  return { status: 200 };
}

const ORDERS = new Set(['asc', 'desc', 'normal']);

/** Reads limit / order / before / after the way every WorkOS list endpoint does. */
export function listParams(query: URLSearchParams): {
  limit: number;
  order: 'asc' | 'desc' | 'normal';
  before: string | undefined;
  after: string | undefined;
} {
  const rawLimit = query.get('limit');
  const limit = rawLimit === null ? 10 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw invalidParameters('limit must be an integer between 1 and 100.', [
      { code: 'invalid_value', field: 'limit' },
    ]);
  }
  const order = query.get('order') ?? 'desc';
  if (!ORDERS.has(order)) {
    throw invalidParameters('order must be one of asc, desc, normal.', [
      { code: 'invalid_value', field: 'order' },
    ]);
  }
  return {
    limit,
    order: order as 'asc' | 'desc' | 'normal',
    before: query.get('before') || undefined,
    after: query.get('after') || undefined,
  };
}

/**
 * Translates WorkOS cursors into "forward in display order" / "backward". In `normal` order the
 * list is shown newest first but `after` fetches newer records, so the two cursors swap roles.
 */
export function cursorsFor(params: ReturnType<typeof listParams>) {
  const normal = params.order === 'normal';
  return {
    ascending: params.order === 'asc',
    limit: params.limit,
    forwardFrom: normal ? params.before : params.after,
    backwardFrom: normal ? params.after : params.before,
  };
}

/** `list_metadata` for a page: the cursor to continue with on each side, or null at an end. */
export function listMetadata(
  order: 'asc' | 'desc' | 'normal',
  page: { items: { id: string }[]; hasBefore: boolean; hasAfter: boolean },
): { before: string | null; after: string | null } {
  const first = page.items[0]?.id ?? null;
  const last = page.items[page.items.length - 1]?.id ?? null;
  const forward = page.hasAfter ? last : null;
  const backward = page.hasBefore ? first : null;
  return order === 'normal' ? { before: forward, after: backward } : { before: backward, after: forward };
}

export async function list(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const params = listParams(req.query);
  const email = req.query.get('email');
  const organizationId = req.query.get('organization_id') ?? req.query.get('organization');
  if (organizationId && !ctx.store.knowsOrganization(organizationId)) {
    throw new ApiError(422, { message: `Organization not found: '${organizationId}'.` });
  }
  let candidates: StoredUser[] | undefined;
  if (email) {
    const match = ctx.store.getByEmail(email);
    candidates = match ? [match] : [];
  }
  if (organizationId) {
    candidates = (candidates ?? ctx.store.all()).filter((user) =>
      user.organizationIds.includes(organizationId),
    );
  }
  const page = ctx.store.page(cursorsFor(params), candidates);
  const data = page.items.map((user) => user.wire);
  return {
    status: 200,
    body: { object: 'list', data, list_metadata: listMetadata(params.order, { ...page, items: data }) },
  };
}
