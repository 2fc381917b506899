// The server process of bench/plugin-overhead.mjs: one Fastify app, with or without the workos-migrate
// plugin, on a loopback port. Started with one JSON argument; prints `{ "port": N }` once listening, and
// closes the app (plugin worker and flags included) when it receives `stop` on stdin or its stdin closes.
// On `cpu` it prints `{ "cpuMicros": N }`, the CPU time (user + system) it has used so far.
//
// Routes (the same in both modes; without the plugin the route config is ignored):
//   GET /hot      -> {"ok":true,"n":1}
//   GET /guarded  -> {"ok":true,"n":1}, with `config: { workosMigrate: { freeze: true } }`

import { createInterface } from 'node:readline';
import Fastify from 'fastify';
import { engineConfig, usersMapping } from './common.mjs';

const options = JSON.parse(process.argv[2]);
const app = Fastify({ logger: false });
let client = null;

if (options.mode === 'with') {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const { default: workosMigrate } = await import('workos-migrate/fastify');
  client = postgres(options.dbUrl, { max: 5, onnotice: () => {} });
  const config = engineConfig(await usersMapping('users'), drizzle(client), options.emulator, undefined);
  await app.register(workosMigrate, {
    ...config,
    worker: options.worker ? {} : false,
    // bench/dashboard-polling.mjs: the admin routes the dashboard polls.
    ...(options.adminToken ? { admin: { token: options.adminToken } } : {}),
  });
}

const body = { ok: true, n: 1 };
app.get('/hot', async () => body);
app.get('/guarded', { config: { workosMigrate: { freeze: true } } }, async () => body);

await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(
  `${JSON.stringify({
    port: app.server.address().port,
    plugin: options.mode === 'with',
    worker: options.mode === 'with' ? app.workosMigrate.worker.running : false,
  })}\n`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await app.close();
  await client?.end({ timeout: 5 });
  process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'stop') void stop();
  // CPU time this process used so far (µs), to tell CPU per request apart from the machine's noise.
  if (line.trim() === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpuMicros: user + system })}\n`);
  }
});
lines.on('close', () => void stop());
