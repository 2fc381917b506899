#!/usr/bin/env node
// Starts the pinned unleash-server (package.json here) for opt-in integration tests; used by
// test/helpers/unleash-server.ts, also runnable by hand:
//
//   npm ci --prefix .ci/unleash
//   DATABASE_URL=postgres://user:pw@127.0.0.1:5432/unleash HTTP_PORT=4242 \
//     INIT_ADMIN_API_TOKENS='*:*.admin-secret' INIT_CLIENT_API_TOKENS='default:development.client-secret' \
//     node .ci/unleash/server.mjs
//
// Environment (all read by unleash-server itself, defaults set here):
//   DATABASE_URL            required; an empty database is migrated on first start (about 3-4 s).
//   HTTP_HOST, HTTP_PORT    default 127.0.0.1 and 0 (a free port chosen by the OS).
//   INIT_ADMIN_API_TOKENS   e.g. `*:*.<secret>`; INIT_CLIENT_API_TOKENS e.g. `default:development.<secret>`.
//                           Tokens are sent as the plain `Authorization` header value, without `Bearer`.
//   DATABASE_SSL            default false (a local test server has no TLS).
//   LOG_LEVEL               default warn; Unleash's log goes to stderr.
//   EXIT_ON_STDIN_END=1     shut down when stdin closes, i.e. when the parent process is gone (even killed).
//
// stdout gets exactly one line, `READY <url>`, once the server listens. Shuts down on SIGINT/SIGTERM.
const defaults = {
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: '0',
  CHECK_VERSION: 'false',
  SEND_TELEMETRY: 'false',
  DATABASE_SSL: 'false',
  LOG_LEVEL: 'warn',
  // Inherited NODE_ENV=test (Vitest) changes Unleash's behaviour; run it like production.
  NODE_ENV: 'production',
  TZ: 'UTC',
  // Scarf analytics in swagger-ui-dist: never phone home from tests.
  SCARF_ANALYTICS: 'false',
};
if (process.env.NODE_ENV === 'test') delete process.env.NODE_ENV;
for (const [key, value] of Object.entries(defaults)) process.env[key] ??= value;

if (!process.env.DATABASE_URL) {
  console.error('server.mjs: DATABASE_URL is required');
  process.exit(2);
}

if (process.env.EXIT_ON_STDIN_END === '1') {
  // Set up first so that it also covers start-up (migrations). SIGTERM: before start() returns it simply ends
  // the process; afterwards it runs Unleash's own graceful shutdown (stop HTTP, scheduler, DB pool; exit).
  const stop = () => process.kill(process.pid, 'SIGTERM');
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

const LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'];
const minLevel = Math.max(0, LEVELS.indexOf(process.env.LOG_LEVEL));
// Unleash's default log4js console appender writes to stdout; keep stdout for the READY line only.
const getLogger = (category) =>
  Object.fromEntries(
    LEVELS.map((level, index) => [
      level,
      index < minLevel
        ? () => {}
        : (message, ...args) => console.error(`[unleash ${level}] ${category}: ${message}`, ...args),
    ]),
  );

// unleash-server reads part of its environment when its modules load: import it only after the defaults.
const { start } = await import('unleash-server');

const startedAt = performance.now();
const unleash = await start({
  databaseUrl: process.env.DATABASE_URL,
  db: { ssl: JSON.parse(process.env.DATABASE_SSL) },
  server: { host: process.env.HTTP_HOST, port: Number(process.env.HTTP_PORT) },
  versionCheck: { enable: false },
  // API tokens only (INIT_*_API_TOKENS): no default admin user, no bcrypt work at start-up.
  authentication: { createAdminUser: false },
  getLogger,
});

const address = unleash.server.address();
const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
console.error(`[unleash] listening after ${Math.round(performance.now() - startedAt)} ms`);
console.log(`READY http://${host}:${address.port}`);
