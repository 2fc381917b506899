// The dashboard's session and CSRF rules through both adapters (inject / supertest): the page and its
// assets ship with the package and carry no data; sign-in takes the token in a same-origin POST body
// and sets a signed HttpOnly SameSite=Strict cookie (Secure over HTTPS); every state change made with
// the cookie needs the same origin and the session's CSRF token; sign-out ends the session; the
// per-format shadow table comes from the overview's status().formats.
import { describe, expect, it } from 'vitest';
import type { MigrationStatus } from 'workos-migrate';
import { type Adapter, type AdminApp, adminTestbed } from './helpers/admin-apps.js';

const bed = adminTestbed();
const TOKEN = 'dashboard-token-0123456789abcdef';
const ORIGIN = 'http://localhost';

const open = (adapter: Adapter): Promise<AdminApp> => bed.open(adapter, { token: TOKEN });

const setCookie = (headers: Record<string, unknown>): string => {
  const value = headers['set-cookie'];
  return String(Array.isArray(value) ? value[0] : value);
};

async function signIn(admin: AdminApp, headers: Record<string, string> = { origin: ORIGIN }) {
  const res = await admin.call({
    method: 'POST',
    url: '/workos-migrate/session',
    headers,
    body: { token: TOKEN },
  });
  expect(res.status, res.text).toBe(200);
  const cookie = setCookie(res.headers);
  return { cookie, pair: cookie.split(';')[0] as string, csrf: String(res.json().csrfToken) };
}

describe.each(['fastify', 'express'] as const)('dashboard through %s', (adapter) => {
  it('serves the page and its assets (uPlot included) without data, a token or a build step', async () => {
    const admin = await open(adapter);
    const page = await admin.call({ method: 'GET', url: '/workos-migrate/' });
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toContain('text/html');
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(page.text).toContain('id="sign-in"');
    expect(page.text).not.toContain(TOKEN);
    const bare = await admin.call({ method: 'GET', url: '/workos-migrate' });
    expect(bare.status).toBe(308);
    expect(bare.headers.location).toBe('/workos-migrate/');
    for (const asset of [
      'assets/dashboard.js',
      'assets/dashboard.css',
      'assets/uplot.js',
      'assets/uplot.css',
    ]) {
      const res = await admin.call({ method: 'GET', url: `/workos-migrate/${asset}` });
      expect(res.status, asset).toBe(200);
      expect(res.text.length, asset).toBeGreaterThan(100);
    }
    expect((await admin.call({ method: 'GET', url: '/workos-migrate/assets/uplot.js' })).text).toContain(
      'uPlot',
    );
  });

  it('signs in with the token in a same-origin POST body only, and sets a signed HttpOnly SameSite=Strict cookie', async () => {
    const admin = await open(adapter);
    const refused: { headers: Record<string, string>; body: object; status: number }[] = [
      { headers: { origin: ORIGIN }, body: { token: 'not-the-admin-token-at-all' }, status: 401 },
      { headers: { origin: ORIGIN }, body: {}, status: 401 },
      { headers: {}, body: { token: TOKEN }, status: 403 },
      { headers: { origin: 'https://evil.example' }, body: { token: TOKEN }, status: 403 },
    ];
    for (const { headers, body, status } of refused) {
      const res = await admin.call({ method: 'POST', url: '/workos-migrate/session', headers, body });
      expect(res.status, JSON.stringify({ headers, body })).toBe(status);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    // The token in a URL opens nothing.
    expect((await admin.call({ method: 'GET', url: `/workos-migrate/status?token=${TOKEN}` })).status).toBe(
      401,
    );

    const { cookie, pair } = await signIn(admin);
    expect(cookie).toMatch(/^workos_migrate_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\/workos-migrate/);
    expect(cookie).not.toMatch(/Secure/i);
    expect(cookie).not.toContain(TOKEN);
    const status = await admin.call({
      method: 'GET',
      url: '/workos-migrate/status',
      headers: { cookie: pair },
    });
    expect(status.status).toBe(200);
    expect(status.json()).toMatchObject({ users: 0 });
    // A forged or altered cookie is nobody's.
    const forged = `${pair.slice(0, -2)}${pair.endsWith('A') ? 'B' : 'A'}A`;
    expect(
      (await admin.call({ method: 'GET', url: '/workos-migrate/status', headers: { cookie: forged } }))
        .status,
    ).toBe(401);

    const https = await signIn(admin, { origin: 'https://localhost', 'x-forwarded-proto': 'https' });
    expect(https.cookie).toMatch(/Secure/i);
  });

  it('refuses a cookie-authenticated state change without the CSRF token or from another origin', async () => {
    const admin = await open(adapter);
    const { pair, csrf } = await signIn(admin);
    const attempts: [string, Record<string, string>][] = [
      ['no CSRF token', { cookie: pair, origin: ORIGIN }],
      ['wrong CSRF token', { cookie: pair, origin: ORIGIN, 'x-csrf-token': `${csrf}x` }],
      ['cross-origin', { cookie: pair, origin: 'https://evil.example', 'x-csrf-token': csrf }],
      ['no origin', { cookie: pair, 'x-csrf-token': csrf }],
      ['no cookie', { origin: ORIGIN, 'x-csrf-token': csrf }],
    ];
    for (const [name, headers] of attempts) {
      const res = await admin.call({
        method: 'POST',
        url: '/workos-migrate/freeze',
        headers,
        body: { on: true },
      });
      expect(res.status, name).toBe(name === 'no cookie' ? 401 : 403);
    }
    expect(admin.migrate.flags.freeze().on).toBe(false);
    const ok = await admin.call({
      method: 'POST',
      url: '/workos-migrate/freeze',
      headers: { cookie: pair, origin: ORIGIN, 'x-csrf-token': csrf },
      body: { on: true },
    });
    expect(ok.status).toBe(200);
    expect(admin.migrate.flags.freeze().on).toBe(true);
    expect((await admin.call({ method: 'POST', url: '/signup' })).status).toBe(503);
  });

  it('shows the per-format shadow table from the overview: counts and verdicts, never a hash', async () => {
    const admin = await open(adapter);
    await bed.app.exec('TRUNCATE workos_migrate.format_checks');
    await bed.app.exec(`INSERT INTO workos_migrate.format_checks (format, matched, mismatched, other, healed)
      VALUES ('bcrypt', 3, 0, 1, 0), ('ssha', 0, 2, 0, 1)`);
    const { pair } = await signIn(admin);
    const overview = await admin.call({
      method: 'GET',
      url: '/workos-migrate/overview',
      headers: { cookie: pair },
    });
    expect(overview.status).toBe(200);
    const { formats } = overview.json().status as MigrationStatus;
    expect(formats).toEqual((await admin.migrate.status()).formats);
    expect(formats.map((f) => f.format)).toEqual(['bcrypt', 'ssha']);
    expect(formats[1]).toMatchObject({ shadowChecked: 2, mismatched: 2, healed: 1 });
    expect(overview.text).not.toContain('$2');
    expect(overview.text).not.toContain(TOKEN);
    // The page has the table, and its script fills it from status.formats.
    const page = await admin.call({ method: 'GET', url: '/workos-migrate/' });
    expect(page.text).toContain('<tbody id="formats">');
    for (const column of ['format', 'users', 'checked', 'matched', 'mismatched', 'healed', 'verdict'])
      expect(page.text).toContain(`<th>${column}</th>`);
    const script = (await admin.call({ method: 'GET', url: '/workos-migrate/assets/dashboard.js' })).text;
    expect(script).toContain("$('formats')");
    for (const field of ['shadowChecked', 'matched', 'mismatched', 'healed', 'verdict'])
      expect(script).toContain(`f.${field}`);
    await bed.app.exec('TRUNCATE workos_migrate.format_checks');
  });

  it('signs out: the cookie is cleared and the old one no longer works', async () => {
    const admin = await open(adapter);
    const { pair, csrf } = await signIn(admin);
    const out = await admin.call({
      method: 'POST',
      url: '/workos-migrate/session/end',
      headers: { cookie: pair, origin: ORIGIN, 'x-csrf-token': csrf },
      body: {},
    });
    expect(out.status).toBe(200);
    expect(setCookie(out.headers)).toMatch(/workos_migrate_session=;.*Max-Age=0/);
    expect(
      (await admin.call({ method: 'GET', url: '/workos-migrate/status', headers: { cookie: pair } })).status,
    ).toBe(401);
  });
});
