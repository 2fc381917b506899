// The example app's browser sign-in, identifier-first: the email first, then either the app's own
// password form (legacy) or a redirect to AuthKit, and AuthKit's callback. Both end in the app's own
// session cookie. This is what a real app adds for the AuthKit cutover (workos-migrate: signIn,
// completeSignIn); the password form is the app's as it always was, now behind login().
import { eq } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PendingSignIn } from 'workos-migrate';
import type { AppDatabase } from './app.js';
import { verifyPassword } from './passwords.js';
import { users } from './schema.js';

export interface SignInPagesOptions {
  orm: AppDatabase;
  /** Signs a session value for a local user id (the app's own session). */
  sign(id: number): string;
  /** The local user id of a signed session value, or null. */
  verify(value: string): number | null;
  /** The app's public origin, e.g. `https://app.example.com`; default the address it listens on. */
  publicUrl?: string | undefined;
}

/** The cookie only this browser sends back to the callback: the callback counts only for it. */
const PENDING_COOKIE = 'wm_pending';
const SESSION_COOKIE = 'app_session';

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}
input,button{padding:.5rem;font-size:1rem}.error{color:#8a1212}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function emailStep(error: string | null): string {
  return page(
    'Sign in to Example',
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/sign-in"><label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required>
<button type="submit">Continue</button></form>`,
  );
}

function passwordStep(email: string, error: string | null): string {
  return page(
    'Enter your password',
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/sign-in/password">
<label for="email">Email</label><input id="email" name="email" type="email" readonly value="${escapeHtml(email)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>`,
  );
}

function cookie(
  name: string,
  value: string,
  options: { path: string; maxAge: number; secure: boolean },
): string {
  return `${name}=${value}; Path=${options.path}; HttpOnly; SameSite=Lax; Max-Age=${options.maxAge}${options.secure ? '; Secure' : ''}`;
}

function readCookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

export async function registerSignInPages(app: FastifyInstance, options: SignInPagesOptions): Promise<void> {
  const { orm } = options;
  // Browser forms post urlencoded; this parser is scoped to these routes (the JSON API is unchanged).
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
  const origin = () => {
    if (options.publicUrl) return options.publicUrl;
    const address = app.server.address();
    if (!address || typeof address === 'string')
      throw new Error('publicUrl is required before the app listens');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  };
  const secure = () => origin().startsWith('https:');
  const startSession = (reply: FastifyReply, id: number, via: string) =>
    reply
      .header(
        'set-cookie',
        cookie(SESSION_COOKIE, options.sign(id), { path: '/', maxAge: 3600, secure: secure() }),
      )
      .redirect(`/account?via=${encodeURIComponent(via)}`, 303);
  const html = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(body);

  app.get('/sign-in', async (_request, reply) => html(reply, 200, emailStep(null)));

  app.post<{ Body: { email?: string } }>('/sign-in', async (request, reply) => {
    const email = (request.body?.email ?? '').trim();
    if (!email) return html(reply, 400, emailStep('Enter your email.'));
    // workos-migrate: the cutover rule picks the side for this email.
    const route = await request.workosMigrate.signIn({
      email,
      redirectUri: new URL('/auth/callback', origin()).toString(),
    });
    if (route.side === 'legacy') return html(reply, 200, passwordStep(email, null));
    // The state and PKCE verifier stay with this browser only (httpOnly, sent to /auth only).
    const pending = Buffer.from(JSON.stringify(route.pending)).toString('base64url');
    reply.header(
      'set-cookie',
      cookie(PENDING_COOKIE, pending, { path: '/auth', maxAge: 600, secure: secure() }),
    );
    return reply.redirect(route.url, 303);
  });

  app.post<{ Body: { email?: string; password?: string } }>('/sign-in/password', async (request, reply) => {
    const email = request.body?.email ?? '';
    // workos-migrate: login() checks legacy or WorkOS by the same rule.
    const result = await request.workosMigrate.login({
      email,
      password: request.body?.password ?? '',
      verifyLegacy: ({ password, passwordHash }) => verifyPassword(password, passwordHash),
      ipAddress: request.ip,
    });
    if (!result.ok) {
      const why =
        result.reason === 'invalid-credentials'
          ? 'Incorrect email or password.'
          : `Could not sign you in (${result.reason}).`;
      return html(reply, 401, passwordStep(email, why));
    }
    return startSession(reply, Number(result.localUserId), `password (${result.side})`);
  });

  app.get<{ Querystring: { code?: string; state?: string } }>('/auth/callback', async (request, reply) => {
    const stored = readCookie(request, PENDING_COOKIE);
    let pending: PendingSignIn | undefined;
    try {
      pending = stored
        ? (JSON.parse(Buffer.from(stored, 'base64url').toString('utf8')) as PendingSignIn)
        : undefined;
    } catch {
      pending = undefined; // a mangled cookie is no pending sign-in: the state check refuses it
    }
    reply.header('set-cookie', cookie(PENDING_COOKIE, '', { path: '/auth', maxAge: 0, secure: secure() }));
    // workos-migrate: exchange the code, check the state and who WorkOS signed in.
    const result = await request.workosMigrate.completeSignIn({
      code: request.query.code ?? '',
      state: request.query.state ?? '',
      pending,
      ipAddress: request.ip,
    });
    if (!result.ok) return html(reply, 401, emailStep(`Could not sign you in (${result.reason}).`));
    return startSession(reply, Number(result.localUserId), `AuthKit (${result.authenticationMethod})`);
  });

  app.get<{ Querystring: { via?: string } }>('/account', async (request, reply) => {
    const session = readCookie(request, SESSION_COOKIE);
    const id = session ? options.verify(session) : null;
    if (id === null) return reply.redirect('/sign-in', 303);
    const [user] = await orm.select({ email: users.email }).from(users).where(eq(users.id, id));
    if (!user) return reply.redirect('/sign-in', 303);
    return html(
      reply,
      200,
      page(
        'Your account',
        `<p>Signed in as <strong id="signed-in-email">${escapeHtml(user.email ?? '')}</strong> (user ${id}).</p>
<p id="signed-in-via">via ${escapeHtml(request.query.via ?? 'a session')}</p>`,
      ),
    );
  });
}
