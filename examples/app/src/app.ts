// The example app: the routes of a typical legacy app, with the migration plugin registered. Only the
// lines marked "workos-migrate" are what a real app adds; the rest is the app as it always was.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { WorkosMigrateConfig, WorkosOnlyUser } from 'workos-migrate';
import workosMigrate from 'workos-migrate/fastify';
import { hashPassword, verifyPassword } from './passwords.js';
import { users } from './schema.js';
import { registerSignInPages } from './sign-in.js';

/** Either Drizzle driver the app runs on: postgres.js (DATABASE_URL) or PGlite (embedded). */
export type AppDatabase = PgDatabase<PgQueryResultHKT>;

export interface AppOptions {
  db: AppDatabase;
  /** The workos-migrate config without `db` (users mapping, WorkOS settings, flags, worker). */
  migration: Omit<WorkosMigrateConfig, 'db' | 'worker'> & { worker?: WorkosMigrateConfig['worker'] | false };
  /** Bearer token of the admin routes (status, freeze, rollout). */
  adminToken: string;
  /** Signs session tokens. Random per process when absent. */
  sessionSecret?: string;
  /** Fastify's logger: a level, and a file for the JSON lines (stdout when absent). */
  logger?: boolean | { level: string; file?: string };
  /** The app's public origin for AuthKit's redirect back (`/auth/callback`); default its listening address. */
  publicUrl?: string;
}

interface SessionUser {
  id: number;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  const orm = options.db;
  const secret = options.sessionSecret ?? randomBytes(32).toString('hex');

  const authkit = options.migration.authkit && {
    // workos-migrate: a user who signed up on AuthKit gets a local row (no password: WorkOS holds it).
    onWorkosOnlyUser: async ({ workosUser, tx }: WorkosOnlyUser) => {
      const [row] = await (tx as unknown as AppDatabase)
        .insert(users)
        .values({
          email: workosUser.email,
          firstName: workosUser.firstName,
          lastName: workosUser.lastName,
          emailVerified: workosUser.emailVerified,
        })
        .returning({ id: users.id });
      return row?.id ?? null;
    },
    ...options.migration.authkit,
  };
  // workos-migrate: mirror users into WorkOS, guard signups, move logins, admin routes.
  await app.register(workosMigrate, {
    ...options.migration,
    ...(authkit ? { authkit } : {}),
    db: orm,
    admin: { token: options.adminToken },
  });

  const sign = (id: number) => `${id}.${createHmac('sha256', secret).update(String(id)).digest('base64url')}`;
  /** The user id of a signed session value (`<id>.<mac>`), or null. */
  const verify = (value: string): number | null => {
    const token = /^(\d+)\.([\w-]+)$/.exec(value);
    if (!token) return null;
    const expected = Buffer.from(sign(Number(token[1])));
    const given = Buffer.from(value);
    return expected.length === given.length && timingSafeEqual(expected, given) ? Number(token[1]) : null;
  };
  const sessionOf = (request: FastifyRequest): SessionUser | null => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    const id = token ? verify(token[1] as string) : null;
    return id === null ? null : { id };
  };
  const requireSession = async (request: FastifyRequest) => {
    const session = sessionOf(request);
    if (!session) throw Object.assign(new Error('Sign in first.'), { statusCode: 401 });
    return session;
  };

  app.get('/healthz', async () => ({ ok: true }));

  // The browser sign-in (identifier-first, AuthKit's callback), in its own scope for its form parser.
  if (authkit) {
    await app.register(async (scope) =>
      registerSignInPages(scope, { orm, sign, verify, publicUrl: options.publicUrl }),
    );
  }

  app.post<{ Body: { email?: string; password?: string; firstName?: string; lastName?: string } }>(
    '/signup',
    // workos-migrate: this route answers 503 while signups are frozen.
    { config: { workosMigrate: { freeze: true } } },
    async (request, reply) => {
      const { email, password, firstName, lastName } = request.body ?? {};
      if (typeof email !== 'string' || !EMAIL.test(email))
        return reply.code(400).send({ error: 'invalid_email' });
      if (typeof password !== 'string' || password.length < 8)
        return reply.code(400).send({ error: 'weak_password', message: 'At least 8 characters.' });
      const taken = await orm
        .select({ id: users.id })
        .from(users)
        .where(sql`lower(${users.email}) = ${email.toLowerCase()}`);
      if (taken.length > 0) return reply.code(409).send({ error: 'email_taken' });
      const [created] = await orm
        .insert(users)
        .values({
          email,
          firstName: firstName ?? null,
          lastName: lastName ?? null,
          passwordHash: await hashPassword(password),
        })
        .returning({ id: users.id });
      return reply.code(201).send({ id: created?.id });
    },
  );

  app.post<{ Body: { email?: string; password?: string } }>('/login', async (request, reply) => {
    const { email, password } = request.body ?? {};
    if (typeof email !== 'string' || typeof password !== 'string')
      return reply.code(400).send({ error: 'invalid_request' });
    // workos-migrate: the cutover rule picks the side; the legacy check is the app's own code.
    const result = await request.workosMigrate.login({
      email,
      password,
      verifyLegacy: ({ password: given, passwordHash }) => verifyPassword(given, passwordHash),
      ipAddress: request.ip,
    });
    const body = { side: result.side, reason: result.reason, fellBack: result.fellBack };
    // A step WorkOS asks for (verify the email, MFA, ...): a real app continues the flow with
    // result.pendingAuthenticationToken; this example only says which step it is.
    if (!result.ok && result.pendingAuthenticationToken !== undefined)
      return reply.code(403).send({ error: 'sign_in_step', ...body });
    if (!result.ok) return reply.code(401).send({ error: 'invalid_credentials', ...body });
    // The app keeps its own session; with AuthKit, use result.accessToken / refreshToken instead.
    return { ...body, userId: Number(result.localUserId), session: sign(Number(result.localUserId)) };
  });

  app.get('/me', async (request) => {
    const session = await requireSession(request);
    const [user] = await orm
      .select({
        id: users.id,
        email: users.email,
        firstName: users.firstName,
        lastName: users.lastName,
        plan: users.plan,
        workosUserId: users.workosUserId,
      })
      .from(users)
      .where(eq(users.id, session.id));
    if (!user) throw Object.assign(new Error('No such user.'), { statusCode: 404 });
    return user;
  });

  app.patch<{ Body: { firstName?: string; lastName?: string; plan?: string } }>('/me', async (request) => {
    const session = await requireSession(request);
    const { firstName, lastName, plan } = request.body ?? {};
    await orm
      .update(users)
      .set({
        ...(typeof firstName === 'string' ? { firstName } : {}),
        ...(typeof lastName === 'string' ? { lastName } : {}),
        ...(typeof plan === 'string' ? { plan } : {}),
      })
      .where(eq(users.id, session.id));
    return { ok: true };
  });

  app.post<{ Body: { email?: string } }>('/me/email', async (request, reply) => {
    const session = await requireSession(request);
    const email = request.body?.email;
    if (typeof email !== 'string' || !EMAIL.test(email))
      return reply.code(400).send({ error: 'invalid_email' });
    await orm.update(users).set({ email, emailVerified: false }).where(eq(users.id, session.id));
    return { ok: true };
  });

  app.post<{ Body: { password?: string } }>('/me/password', async (request, reply) => {
    const session = await requireSession(request);
    const password = request.body?.password;
    if (typeof password !== 'string' || password.length < 8)
      return reply.code(400).send({ error: 'weak_password', message: 'At least 8 characters.' });
    await orm
      .update(users)
      .set({ passwordHash: await hashPassword(password) })
      .where(eq(users.id, session.id));
    return { ok: true };
  });

  app.delete('/me', async (request, reply) => {
    const session = await requireSession(request);
    await orm.delete(users).where(eq(users.id, session.id));
    return reply.code(204).send();
  });

  return app;
}
