// The worker process of bench/worker-rss.mjs: runs only `createWorkosMigrate(...).worker` and samples
// its own memory. Started by the benchmark with one JSON argument; prints one JSON line when running,
// and one with the figures after it receives `stop` on stdin (or its stdin closes: the parent died).

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createWorkosMigrate } from 'workos-migrate';
import { engineConfig, usersMapping } from './common.mjs';

const options = JSON.parse(process.argv[2]);
const { default: postgres } = await import('postgres');
const { drizzle } = await import('drizzle-orm/postgres-js');

const peak = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
const timeline = [];
const t0 = Date.now();
const sample = () => {
  const m = process.memoryUsage();
  for (const key of Object.keys(peak)) if (m[key] > peak[key]) peak[key] = m[key];
  return m;
};
const sampler = setInterval(sample, options.sampleMs ?? 100);
const every = setInterval(() => {
  const m = sample();
  timeline.push({ t: Date.now() - t0, rss: m.rss, heapUsed: m.heapUsed });
}, options.timelineMs ?? 5000);

const client = postgres(options.dbUrl, { max: options.pool ?? 40, onnotice: () => {} });
const engine = createWorkosMigrate(
  engineConfig(await usersMapping('users'), drizzle(client), options.emulator, options.worker),
);
await engine.worker.start();
process.stdout.write(`${JSON.stringify({ started: true, rss: sample().rss })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await engine.worker.stop();
  sample();
  clearInterval(sampler);
  clearInterval(every);
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (name) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  await client.end({ timeout: 5 });
  process.stdout.write(`${JSON.stringify({ peak, vmHwm: kb('VmHWM'), vmRss: kb('VmRSS'), timeline })}\n`);
  process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'stop') void stop();
});
lines.on('close', () => void stop());
