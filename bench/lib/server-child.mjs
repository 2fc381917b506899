// A server child of bench/lib/plugin-server.mjs (Fastify with or without the plugin), for the benches
// that drive it (plugin-overhead, idle-cost): its port, its CPU time on demand, and an idempotent stop().
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { install } from 'workos-migrate/drizzle';
import {
  connect,
  createDatabase,
  nameChild,
  serverVersion,
  startEmulatorChild,
  USERS_DDL,
  usersMapping,
} from './common.mjs';
import { DURABLE, startPostgres } from './postgres.mjs';

const SERVER = fileURLToPath(new URL('./plugin-server.mjs', import.meta.url));

/** A child's stdout as JSON messages, one a line: `next()` answers the next one (rejects once it exited). */
export function jsonLines(child, exited, label) {
  const lines = createInterface({ input: child.stdout });
  const messages = [];
  let notify = () => {};
  lines.on('line', (line) => {
    messages.push(JSON.parse(line));
    notify();
  });
  return () =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (messages.length > 0) resolve(messages.shift());
      };
      notify = check;
      check();
      exited.then(({ code, signal }) => reject(new Error(`${label} exited (${code ?? signal})`)));
    });
}

/** The benches' app: a fresh database in PostgreSQL (durable defaults) with the install applied, and the emulator. */
export async function startPluginBed(h, name) {
  const pg = await startPostgres({ settings: DURABLE });
  h.defer(() => pg.stop());
  const dbUrl = await createDatabase(pg.url, name);
  const { client, db } = await connect(h, dbUrl, 2);
  const version = await serverVersion(client);
  await client.unsafe(USERS_DDL('users'));
  await install(db, await usersMapping('users'));
  const emulator = await startEmulatorChild(h, []);
  return { dbUrl, client, db, version, emulator };
}

/** Spawns a server child; resolves with its port and an idempotent stop(). */
export async function startServer(h, options) {
  const child = spawn(process.execPath, [SERVER, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  h.track(child.pid);
  nameChild(child.pid, `server ${options.mode}`);
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.stdin.end('stop\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    h.untrack(child.pid);
  };
  h.defer(stop);
  const next = jsonLines(child, exited, 'server child');
  const info = await next();
  /** CPU time (µs) the server process used so far. */
  const cpu = async () => {
    const answer = next();
    child.stdin.write('cpu\n');
    return (await answer).cpuMicros;
  };
  return { ...info, stop, cpu };
}
