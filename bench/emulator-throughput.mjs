// Emulator throughput: create-user and get-user requests per second and latency percentiles.
//
//   npm run build && node bench/emulator-throughput.mjs [--runs 3] [--creates 5000] [--gets 10000] [--concurrency 32]
//
// The emulator runs in a child process (the CLI, as users run it) so the load generator does not
// share its event loop; rate limits and events are off because this measures the server, not the
// limiter or memory growth. Each run gets a fresh emulator and a warm-up that is not measured.
// Prints a markdown table and writes it to bench/results/emulator-throughput.md.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BIN = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
const RESULT_FILE = fileURLToPath(new URL('./results/emulator-throughput.md', import.meta.url));

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    creates: { type: 'string', default: '5000' },
    gets: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '1000' },
  },
});
const RUNS = Number(args.runs);
const CREATES = Number(args.creates);
const GETS = Number(args.gets);
const CONCURRENCY = Number(args.concurrency);
const WARMUP = Number(args.warmup);

/** Spawns a server that prints one JSON line `{ url, ... }` once listening; resolves with it and a stop function. */
function startChild(argv) {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const info = JSON.parse(out.slice(0, nl));
      const stop = async () => {
        child.kill('SIGTERM');
        const { code, signal } = await exited;
        if (code !== 0) throw new Error(`${argv[0]} exited with ${code ?? signal}`);
      };
      resolve({ info, stop });
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`${argv[0]} exited (${code ?? signal}) before it started`)),
    );
  });
}

const startEmulator = () =>
  startChild([BIN, 'emulator', '--port', '0', '--json', '--no-rate-limit', '--no-events']);

// The harness ceiling on this machine: a bare node:http server answering a user-sized JSON body.
// The emulator's figures read best as a fraction of this one, on a small or shared machine.
const BARE_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ object: 'user', id: 'user_01HZZZZZZZZZZZZZZZZZZZZZZZ', email: 'bench@example.com',
  email_verified: true, first_name: 'Bench', last_name: 'User', profile_picture_url: null, last_sign_in_at: null,
  locale: null, external_id: 'bench_1', metadata: {}, created_at: new Date().toISOString(), updated_at: new Date().toISOString() });
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: 'http://127.0.0.1:' + server.address().port, apiKey: 'none' })));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
`;

/** One JSON request over the keep-alive agent; resolves with status and parsed body. */
function request(agent, base, apiKey, method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: {
          Authorization: `Bearer ${apiKey}`,
          ...(payload
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `n` requests with `concurrency` in flight; every answer must be 2xx or the bench is void. */
async function phase(n, concurrency, send) {
  const latencies = new Float64Array(n);
  const results = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      const res = await send(i);
      latencies[i] = performance.now() - t0;
      if (res.status < 200 || res.status > 299) {
        throw new Error(`request ${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
      }
      results[i] = res.body;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  return {
    rps: n / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    results,
  };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function bareRun(run) {
  const { info, stop } = await startChild(['-e', BARE_SERVER]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const post = (i) =>
    request(agent, info.url, info.apiKey, 'POST', '/user_management/users', {
      email: `bench-${run}-${i}@example.com`,
      first_name: 'Bench',
      last_name: `User ${i}`,
      email_verified: true,
      external_id: `bench_${run}_${i}`,
    });
  try {
    await phase(WARMUP, CONCURRENCY, post);
    return await phase(CREATES, CONCURRENCY, post);
  } finally {
    agent.destroy();
    await stop();
  }
}

async function oneRun(run) {
  const { info, stop } = await startEmulator();
  // Enough sockets for the concurrency, kept alive, as an SDK client in production would.
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const call = (method, path, body) => request(agent, info.url, info.apiKey, method, path, body);
  // No password: hashing cost is not what this measures.
  const create = (tag) => (i) =>
    call('POST', '/user_management/users', {
      email: `bench-${run}-${tag}-${i}@example.com`,
      first_name: 'Bench',
      last_name: `User ${i}`,
      email_verified: true,
      external_id: `bench_${run}_${tag}_${i}`,
    });
  try {
    // Warm-up (JIT, sockets), not measured.
    const warm = await phase(WARMUP, CONCURRENCY, create('warm'));
    await phase(WARMUP, CONCURRENCY, (i) =>
      call('GET', `/user_management/users/${warm.results[i % WARMUP].id}`),
    );

    const creates = await phase(CREATES, CONCURRENCY, create('m'));
    const ids = creates.results.map((u) => u.id);
    const gets = await phase(GETS, CONCURRENCY, () =>
      call('GET', `/user_management/users/${ids[Math.floor(Math.random() * ids.length)]}`),
    );
    return { creates, gets };
  } finally {
    agent.destroy();
    await stop();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const fmtInt = (x) => Math.round(x).toLocaleString('en-US');
const fmtMs = (x) => x.toFixed(2);

async function main() {
  if (!existsSync(BIN)) {
    console.error('emulator-throughput: dist/cli/bin.js is missing; run `npm run build` first');
    process.exitCode = 2;
    return;
  }
  const loadBefore = os.loadavg()[0];
  const runs = [];
  for (let r = 1; r <= RUNS; r++) {
    const result = { ...(await oneRun(r)), bare: await bareRun(r) };
    runs.push(result);
    console.error(
      `run ${r}/${RUNS}: create ${fmtInt(result.creates.rps)} req/s, get ${fmtInt(result.gets.rps)} req/s, bare server ${fmtInt(result.bare.rps)} req/s`,
    );
  }

  const row = (label, n, pick) => {
    const phases = runs.map(pick);
    return `| ${label} | ${n.toLocaleString('en-US')} | ${CONCURRENCY} | ${fmtInt(median(phases.map((p) => p.rps)))} | ${fmtMs(median(phases.map((p) => p.p50)))} | ${fmtMs(median(phases.map((p) => p.p99)))} | ${phases.map((p) => fmtInt(p.rps)).join(', ')} |`;
  };
  const cpus = os.cpus();
  const markdown = [
    '# Emulator throughput',
    '',
    '| operation | requests | concurrency | requests/s | p50 ms | p99 ms | requests/s per run |',
    '|---|--:|--:|--:|--:|--:|---|',
    row('create user `POST /user_management/users`', CREATES, (r) => r.creates),
    row('get user `GET /user_management/users/:id`', GETS, (r) => r.gets),
    row('baseline: bare `node:http` server, same POST (harness ceiling)', CREATES, (r) => r.bare),
    '',
    `Median of ${RUNS} runs (each figure's median taken separately). Each run starts a fresh`,
    '`workos-migrate emulator --port 0 --json --no-rate-limit --no-events` child process, warms up',
    `with ${WARMUP} creates and ${WARMUP} gets, then measures. Client: \`node:http\` with a keep-alive`,
    `Agent of ${CONCURRENCY} sockets in the parent process; gets pick random ids among the users created`,
    'in that run. Users are created without a password (no hashing). Every answer was checked to be 2xx.',
    'The baseline row is a bare `node:http` server in a child process answering the same POST with a',
    'user-sized JSON body: the most this client and machine can carry, for reading the rows above.',
    '',
    `- CPU: ${cpus[0]?.model ?? 'unknown'} (${cpus.length} cores)`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node: ${process.version}`,
    `- Load average (1 min) before / after: ${loadBefore.toFixed(2)} / ${os.loadavg()[0]?.toFixed(2)}`,
    `- Date: ${new Date().toISOString()}`,
    '',
  ].join('\n');

  process.stdout.write(markdown);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(RESULT_FILE, markdown);
}

await main();
