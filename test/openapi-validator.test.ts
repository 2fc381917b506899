import { describe, expect, it } from 'vitest';
import { createResponseValidator } from './helpers/openapi.js';

const validate = createResponseValidator();

const user = {
  object: 'user',
  id: 'user_01HXYZ0000000000000000000A',
  email: 'ada@example.com',
  email_verified: true,
  first_name: 'Ada',
  last_name: null,
  profile_picture_url: null,
  last_sign_in_at: null,
  locale: null,
  external_id: 'legacy-1',
  metadata: { plan: 'pro' },
  created_at: '2024-05-01T10:00:00.000Z',
  updated_at: '2024-05-01T10:00:00.000Z',
};

function event(name: string, data: unknown, context: unknown = {}) {
  return {
    object: 'event',
    id: 'event_01HXYZ0000000000000000000B',
    event: name,
    data,
    created_at: user.created_at,
    context,
  };
}

describe('createResponseValidator', () => {
  it('accepts a valid user on GET /user_management/users/{id}', () => {
    expect(
      validate({ method: 'GET', path: `/user_management/users/${user.id}`, status: 200, body: user }),
    ).toBeNull();
  });

  it('rejects a user whose nullable field is missing instead of null', () => {
    const { first_name: _omitted, ...body } = user;
    const message = validate({ method: 'GET', path: `/user_management/users/${user.id}`, status: 200, body });
    expect(message).toMatch(/UserlandUsersController_get/);
    expect(message).toMatch(/first_name/);
    expect(message).toMatch(/-> 200/);
  });

  it('rejects metadata values longer than the spec allows', () => {
    const body = { ...user, metadata: { note: 'x'.repeat(700) } };
    expect(validate({ method: 'PUT', path: `/user_management/users/${user.id}`, status: 200, body })).toMatch(
      /metadata/,
    );
  });

  it('does not echo the body in the message', () => {
    const body = { ...user, email: 42, first_name: 'secret-token-value' };
    const message = validate({ method: 'GET', path: `/user_management/users/${user.id}`, status: 200, body });
    expect(message).toMatch(/email/);
    expect(message).not.toMatch(/secret-token-value/);
  });

  it('matches the external_id template by segment count', () => {
    const path = '/user_management/users/external_id/abc%20d';
    expect(validate({ method: 'GET', path, status: 200, body: user })).toBeNull();
    expect(validate({ method: 'GET', path, status: 200, body: { ...user, id: 1 } })).toMatch(
      /UserlandUsersController_getByExternalId/,
    );
  });

  it('checks user lists, including a null-but-present list_metadata.after', () => {
    const path = '/user_management/users';
    const list = { object: 'list', data: [user], list_metadata: { before: null, after: null } };
    expect(validate({ method: 'GET', path, status: 200, body: list })).toBeNull();
    const missingAfter = { ...list, list_metadata: { before: null } };
    expect(validate({ method: 'GET', path, status: 200, body: missingAfter })).toMatch(/after/);
  });

  it('accepts a created user (201) and the spec-listed 400 codes on create', () => {
    const path = '/user_management/users';
    expect(validate({ method: 'POST', path, status: 201, body: user })).toBeNull();
    const hashError = { code: 'invalid_password_hash', message: 'The password hash is invalid.' };
    expect(validate({ method: 'POST', path, status: 400, body: hashError })).toBeNull();
    const creation = {
      code: 'user_creation_error',
      message: 'Could not create user.',
      errors: [{ code: 'email_not_available', message: 'Email not available.' }],
    };
    expect(validate({ method: 'POST', path, status: 400, body: creation })).toBeNull();
    // A listed code must still have the listed shape: user_creation_error requires `errors`.
    const { errors: _e, ...noErrors } = creation;
    expect(validate({ method: 'POST', path, status: 400, body: noErrors })).toMatch(/errors/);
  });

  it('tolerates no code the spec omits: a top-level external_id_already_used or email_not_available on create fails', () => {
    const path = '/user_management/users';
    for (const code of ['external_id_already_used', 'email_not_available']) {
      expect(validate({ method: 'POST', path, status: 400, body: { code, message: 'Taken.' } })).toMatch(
        /UserlandUsersController_create/,
      );
    }
    // The envelope WorkOS answers is valid, whatever reason errors[] gives.
    const envelope = {
      code: 'user_creation_error',
      message: 'Could not create user.',
      errors: [{ code: 'external_id_already_used', message: 'Taken.' }],
    };
    expect(validate({ method: 'POST', path, status: 400, body: envelope })).toBeNull();
    // On update the spec does list the top-level codes.
    const update = `/user_management/users/${user.id}`;
    for (const code of ['external_id_already_used', 'email_not_available', 'email_already_verified']) {
      expect(
        validate({ method: 'PUT', path: update, status: 400, body: { code, message: 'No.' } }),
      ).toBeNull();
    }
  });

  it('accepts only the exact API-wide answers for statuses an operation does not list', () => {
    const path = '/user_management/users';
    const rateLimited = { message: 'Too many requests.', code: 'rate_limit_exceeded' };
    expect(validate({ method: 'POST', path, status: 429, body: rateLimited })).toBeNull();
    expect(validate({ method: 'POST', path, status: 429, body: { message: 'Slow down.' } })).toMatch(
      /-> 429/,
    );
    expect(validate({ method: 'GET', path, status: 401, body: { message: 'Unauthorized' } })).toBeNull();
    expect(
      validate({
        method: 'PUT',
        path: `${path}/${user.id}`,
        status: 404,
        body: { message: 'Gone.', code: 'entity_not_found' },
      }),
    ).toBeNull();
    const conflict = { code: 'user_already_exists', message: 'A user with this email already exists.' };
    expect(validate({ method: 'POST', path, status: 409, body: conflict })).toMatch(/defines no 409/);
    expect(
      validate({ method: 'POST', path, status: 503, body: { code: 'server_error', message: 'x' } }),
    ).toBeNull();
    expect(validate({ method: 'POST', path, status: 503, body: { message: 'x' } })).toMatch(/code/);
  });

  it('skips a record the emulator marks as a deliberate deviation, and only that', () => {
    const path = '/user_management/users';
    const conflict = { code: 'user_already_exists', message: 'A user with this email already exists.' };
    expect(
      validate({ method: 'POST', path, status: 409, body: conflict, deviation: 'emailTaken=conflict' }),
    ).toBeNull();
    expect(validate({ method: 'POST', path, status: 409, body: conflict, deviation: null })).toMatch(/409/);
  });

  it('rejects non-JSON and missing error bodies', () => {
    const path = `/user_management/users/${user.id}`;
    expect(
      validate({ method: 'GET', path, status: 500, body: '<html>Internal Server Error</html>' }),
    ).toMatch(/-> 500/);
    expect(validate({ method: 'GET', path, status: 500, body: undefined })).toMatch(/no body/);
    expect(validate({ method: 'GET', path, status: 200, body: undefined })).toMatch(/no body/);
  });

  it('accepts an empty DELETE 200 and rejects a body where the spec defines none', () => {
    const path = `/user_management/users/${user.id}`;
    expect(validate({ method: 'DELETE', path, status: 200, body: undefined })).toBeNull();
    expect(validate({ method: 'DELETE', path, status: 200, body: user })).toMatch(/no body/);
    expect(
      validate({ method: 'DELETE', path, status: 404, body: { message: 'User not found.' } }),
    ).toBeNull();
  });

  it('prefers literal segments: password_reset/confirm is the confirm operation, not {id}', () => {
    const path = '/user_management/password_reset/confirm';
    expect(validate({ method: 'POST', path, status: 200, body: { user } })).toBeNull();
    expect(validate({ method: 'POST', path, status: 200, body: user })).toMatch(
      /UserlandUsersController_resetPassword.*\/user_management\/password_reset\/confirm\)/,
    );
    expect(
      validate({ method: 'POST', path, status: 400, body: { code: 'password_reset_error', message: 'x' } }),
    ).toMatch(/errors/);
  });

  it('checks password reset creation (201)', () => {
    const path = '/user_management/password_reset';
    const reset = {
      object: 'password_reset',
      id: 'password_reset_01HXYZ0000000000000000000C',
      user_id: user.id,
      email: user.email,
      password_reset_token: 'tok',
      password_reset_url: 'https://example.com/reset?token=tok',
      expires_at: '2024-05-01T10:15:00.000Z',
      created_at: '2024-05-01T10:00:00.000Z',
    };
    expect(validate({ method: 'POST', path, status: 201, body: reset })).toBeNull();
    const { object: _o, ...noObject } = reset;
    expect(validate({ method: 'POST', path, status: 201, body: noObject })).toMatch(/object/);
    const limited = { code: 'rate_limit_exceeded', message: 'Too many requests.' };
    expect(validate({ method: 'POST', path, status: 429, body: limited })).toBeNull();
    const forbidden = { code: 'password_reset_not_allowed', message: 'Password reset is disabled.' };
    expect(validate({ method: 'POST', path, status: 403, body: forbidden })).toBeNull();
  });

  it('checks the events list and user.* events', () => {
    const list = {
      object: 'list',
      data: [
        event('user.created', user),
        event('user.updated', user, { previous_attributes: { first_name: null } }),
        event('user.deleted', user),
      ],
      list_metadata: { after: 'event_01HXYZ0000000000000000000B' },
    };
    expect(validate({ method: 'GET', path: '/events', status: 200, body: list })).toBeNull();
    const badData = { ...list, data: [event('user.created', { ...user, email_verified: 'yes' })] };
    expect(validate({ method: 'GET', path: '/events', status: 200, body: badData })).toMatch(
      /email_verified/,
    );
    const unknown = { ...list, data: [event('user.exploded', user)] };
    expect(validate({ method: 'GET', path: '/events', status: 200, body: unknown })).toMatch(/oneOf/);
    const noAfter = { ...list, list_metadata: {} };
    expect(validate({ method: 'GET', path: '/events', status: 200, body: noAfter })).toMatch(/after/);
  });

  it('checks authenticate responses and its error shapes, OAuth ones included, exactly as the spec lists them', () => {
    const path = '/user_management/authenticate';
    const ok = { user, access_token: 'eyJ.a.b', refresh_token: 'rt_1', authentication_method: 'Password' };
    expect(validate({ method: 'POST', path, status: 200, body: ok })).toBeNull();
    expect(
      validate({ method: 'POST', path, status: 200, body: { ...ok, authentication_method: 'pw' } }),
    ).toMatch(/authentication_method/);
    const { refresh_token: _r, ...noRefresh } = ok;
    expect(validate({ method: 'POST', path, status: 200, body: noRefresh })).toMatch(/refresh_token/);
    const grant = { error: 'invalid_grant', error_description: 'Invalid credentials.' };
    expect(validate({ method: 'POST', path, status: 400, body: grant })).toBeNull();
    const wrong = { code: 'invalid_credentials', message: 'Invalid credentials.' };
    expect(validate({ method: 'POST', path, status: 400, body: wrong })).toBeNull();
    const verify = {
      code: 'email_verification_required',
      message: 'Email ownership must be verified before authentication.',
      pending_authentication_token: 'pat',
      email: user.email,
      email_verification_id: 'email_verification_01',
    };
    expect(validate({ method: 'POST', path, status: 403, body: verify })).toBeNull();
    const sso = {
      error: 'sso_required',
      error_description: 'Use SSO.',
      email: user.email,
      connection_ids: ['conn_1'],
    };
    expect(validate({ method: 'POST', path, status: 400, body: sso })).toBeNull();
    const { connection_ids: _c, ...ssoWithoutConnections } = sso;
    expect(validate({ method: 'POST', path, status: 400, body: ssoWithoutConnections })).toMatch(/-> 400/);
    const quota = { code: 'daily_quota_exceeded', message: 'Quota exceeded.' };
    expect(validate({ method: 'POST', path, status: 429, body: quota })).toBeNull();
    const limited = { message: 'Too many requests.', code: 'rate_limit_exceeded' };
    expect(validate({ method: 'POST', path, status: 429, body: limited })).toBeNull();
    expect(validate({ method: 'POST', path, status: 429, body: { error: 'rate_limited' } })).toMatch(
      /-> 429/,
    );
    // No OAuth fallback: an OAuth code the spec does not list, or a 401 OAuth body, fails.
    const unsupported = { error: 'unsupported_grant_type', error_description: 'x' };
    expect(validate({ method: 'POST', path, status: 400, body: unsupported })).toMatch(/-> 400/);
    const client = { error: 'invalid_client', error_description: 'Invalid client secret.' };
    expect(validate({ method: 'POST', path, status: 400, body: client })).toBeNull();
    expect(validate({ method: 'POST', path, status: 401, body: client })).toMatch(/-> 401/);
  });

  it('skips the control plane and flags unknown success routes', () => {
    expect(validate({ method: 'POST', path: '/_emulator/reset', status: 200, body: 'anything' })).toBeNull();
    expect(validate({ method: 'GET', path: '/nope', status: 200, body: {} })).toMatch(/no operation/);
    expect(
      validate({ method: 'GET', path: '/nope', status: 404, body: { message: 'Not found.' } }),
    ).toBeNull();
  });
});
