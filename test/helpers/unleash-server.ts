// A real Unleash server (the pinned unleash-server in .ci/unleash) as a child process, for opt-in integration
// tests (WORKOS_MIGRATE_UNLEASH_SERVER=1), plus a few admin-API helpers.
//
// Needs `npm ci --prefix .ci/unleash` once (.ci/run does it). Usage:
//   let server: UnleashServer;
//   beforeAll(async () => { server = await startUnleashServer(); }, 90_000);
//   afterAll(() => server?.close());
//   await ensureRolloutFlag(server, 'my-flag', 30);
//   new Unleash({ url: server.apiUrl, customHeaders: { Authorization: server.clientToken }, ... });
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from './db.js';

const UNLEASH_DIR = fileURLToPath(new URL('../../.ci/unleash/', import.meta.url));
const SERVER_SCRIPT = path.join(UNLEASH_DIR, 'server.mjs');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export const UNLEASH_PROJECT = 'default';
export const UNLEASH_ENVIRONMENT = 'development';

export interface UnleashServer {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** `url + '/api'`: what unleash-client's `url` option wants. */
  apiUrl: string;
  /** Backend (client) token for project `default`, environment `development`: `Authorization` header value. */
  clientToken: string;
  /** Admin token (`*:*.<secret>`): `Authorization` header value, no `Bearer`. */
  adminToken: string;
  /** The database Unleash uses (created for this server unless one was passed in). */
  databaseUrl: string;
  /** Milliseconds from spawn to READY (includes migrating a fresh database). */
  startupMs: number;
  /** Stops the server (SIGTERM, SIGKILL after 10 s), waits for it to exit, drops the database it created. */
  close(): Promise<void>;
}

export interface StartUnleashServerOptions {
  /** Database for Unleash; by default a fresh one from createTestDatabase(), dropped on close(). */
  databaseUrl?: string;
  /** Unleash log level written to the test's stderr: debug, info, warn (default), error. */
  logLevel?: string;
  timeoutMs?: number;
}

export async function startUnleashServer(options: StartUnleashServerOptions = {}): Promise<UnleashServer> {
  if (!existsSync(path.join(UNLEASH_DIR, 'node_modules', 'unleash-server', 'package.json'))) {
    throw new Error('unleash-server is not installed: run `npm ci --prefix .ci/unleash` first');
  }
  const ownDatabase: TestDatabase | undefined = options.databaseUrl ? undefined : await createTestDatabase();
  const databaseUrl = options.databaseUrl ?? (ownDatabase as TestDatabase).url;
  const adminToken = `*:*.${randomBytes(16).toString('hex')}`;
  const clientToken = `${UNLEASH_PROJECT}:${UNLEASH_ENVIRONMENT}.${randomBytes(16).toString('hex')}`;

  const startedAt = performance.now();
  const child = spawn(process.execPath, [SERVER_SCRIPT], {
    cwd: UNLEASH_DIR,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      INIT_ADMIN_API_TOKENS: adminToken,
      INIT_CLIENT_API_TOKENS: clientToken,
      LOG_LEVEL: options.logLevel ?? 'warn',
      // If this process dies (even SIGKILL), the child's stdin closes and the server stops.
      EXIT_ON_STDIN_END: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });

  const logs: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
    if (options.logLevel) process.stderr.write(`${line}\n`);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

  let url: string;
  try {
    url = await waitForReady(child, options.timeoutMs ?? START_TIMEOUT_MS, logs);
  } catch (error) {
    await stopChild(child, exited);
    await ownDatabase?.drop();
    throw error;
  }
  const startupMs = Math.round(performance.now() - startedAt);

  let closing: Promise<void> | undefined;
  return {
    url,
    apiUrl: `${url}/api`,
    clientToken,
    adminToken,
    databaseUrl,
    startupMs,
    close() {
      closing ??= (async () => {
        await stopChild(child, exited);
        await ownDatabase?.drop();
      })();
      return closing;
    },
  };
}

function waitForReady(child: ChildProcess, timeoutMs: number, logs: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      cleanup();
      reject(new Error(`Unleash server ${reason}\n--- server log (stderr) ---\n${logs.join('\n')}`));
    };
    const onLine = (line: string) => {
      const match = /^READY (\S+)$/.exec(line.trim());
      if (!match?.[1]) return;
      cleanup();
      resolve(match[1]);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited before it was ready (code ${code}, signal ${signal})`);
    const onError = (error: Error) => fail(`could not be started: ${error.message}`);
    const timer = setTimeout(() => fail(`was not ready within ${timeoutMs} ms`), timeoutMs);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const cleanup = () => {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    lines.on('line', onLine);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM'); // Unleash's own graceful shutdown: stop HTTP, scheduler, close the DB pool
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  child.stdin?.destroy();
}

// --- Admin API (documented endpoints under /api/admin/projects/{project}/features) ---

interface FeatureStrategy {
  id: string;
  name: string;
  parameters?: Record<string, string>;
  constraints?: unknown[];
  [key: string]: unknown;
}

export interface RolloutOptions {
  /** Hash group; Unleash's UI default is the flag name. */
  groupId?: string;
  /** `default` (userId, then sessionId, then random), `userId`, `sessionId`, `random` or a context field. */
  stickiness?: string;
}

type AdminTarget = Pick<UnleashServer, 'url' | 'adminToken'>;

async function adminRequest(
  server: AdminTarget,
  method: string,
  pathname: string,
  body?: unknown,
  allowedStatuses: number[] = [],
): Promise<{ status: number; data: unknown }> {
  const response = await fetch(`${server.url}/api/admin${pathname}`, {
    method,
    headers: {
      Authorization: server.adminToken,
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok && !allowedStatuses.includes(response.status)) {
    throw new Error(`Unleash admin API ${method} ${pathname}: HTTP ${response.status} ${text}`);
  }
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, data };
}

const featurePath = (name: string) => `/projects/${UNLEASH_PROJECT}/features/${encodeURIComponent(name)}`;
const strategiesPath = (name: string) =>
  `${featurePath(name)}/environments/${UNLEASH_ENVIRONMENT}/strategies`;

function checkPercent(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new RangeError(`rollout percent must be an integer 0-100, got ${percent}`);
  }
}

async function getStrategies(server: AdminTarget, name: string): Promise<FeatureStrategy[]> {
  const { data } = await adminRequest(server, 'GET', strategiesPath(name));
  return data as FeatureStrategy[];
}

/** PUT replaces a strategy: send everything it has, with new parameters. */
async function updateStrategy(
  server: AdminTarget,
  name: string,
  strategy: FeatureStrategy,
  parameters: Record<string, string>,
): Promise<void> {
  const { id, featureName: _feature, environment: _env, projectId: _project, ...rest } = strategy;
  await adminRequest(server, 'PUT', `${strategiesPath(name)}/${id}`, {
    ...rest,
    name: 'flexibleRollout',
    constraints: strategy.constraints ?? [],
    parameters,
  });
}

/**
 * Makes `name` (project `default`) a flag whose only strategy in `development` is a flexibleRollout at
 * `percent`, and enables it there. Creates the flag if missing; other strategies in that environment are
 * removed so that the percentage alone decides.
 */
export async function ensureRolloutFlag(
  server: AdminTarget,
  name: string,
  percent: number,
  { groupId = name, stickiness = 'default' }: RolloutOptions = {},
): Promise<void> {
  checkPercent(percent);
  const existing = await adminRequest(server, 'GET', featurePath(name), undefined, [404]);
  if (existing.status === 404) {
    await adminRequest(server, 'POST', `/projects/${UNLEASH_PROJECT}/features`, {
      name,
      type: 'release',
      description: 'created by test/helpers/unleash-server.ts',
    });
  }
  const parameters = { rollout: String(percent), stickiness, groupId };
  const strategies = await getStrategies(server, name);
  const rollout = strategies.find((strategy) => strategy.name === 'flexibleRollout');
  if (rollout) {
    await updateStrategy(server, name, rollout, parameters);
  } else {
    const body = { name: 'flexibleRollout', constraints: [], parameters };
    await adminRequest(server, 'POST', strategiesPath(name), body);
  }
  for (const other of strategies.filter((strategy) => strategy !== rollout)) {
    await adminRequest(server, 'DELETE', `${strategiesPath(name)}/${other.id}`);
  }
  await setFlagEnabled(server, name, true);
}

/** Turns the flag on or off in environment `development`. */
export async function setFlagEnabled(server: AdminTarget, name: string, on: boolean): Promise<void> {
  await adminRequest(
    server,
    'POST',
    `${featurePath(name)}/environments/${UNLEASH_ENVIRONMENT}/${on ? 'on' : 'off'}`,
  );
}

/** Changes the rollout of the flag's flexibleRollout strategy in `development` (see ensureRolloutFlag). */
export async function setRolloutPercent(server: AdminTarget, name: string, percent: number): Promise<void> {
  checkPercent(percent);
  const strategy = (await getStrategies(server, name)).find((entry) => entry.name === 'flexibleRollout');
  if (!strategy) throw new Error(`flag ${name} has no flexibleRollout strategy in ${UNLEASH_ENVIRONMENT}`);
  await updateStrategy(server, name, strategy, {
    stickiness: 'default',
    groupId: name,
    ...strategy.parameters,
    rollout: String(percent),
  });
}
