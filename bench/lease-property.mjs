// The long version of test/lease-property.test.ts: many more random interleavings of local writes,
// 429s with a Retry-After longer than the lease, dropped connections, unanswered and slow answers.
//
//   npm run build && node bench/lease-property.mjs [--runs 40]
//
// Runs the same property through vitest (LEASE_PROPERTY_RUNS=<runs>) so there is one definition of it,
// and writes the outcome to bench/results/lease-property.md.

import { spawnSync } from 'node:child_process';
import { commandLine, flags, machineLines, ROOT, writeResult } from './lib/common.mjs';

const options = flags({ runs: 40 });
const startedAt = Date.now();
const child = spawnSync('npx', ['vitest', 'run', 'test/lease-property.test.ts'], {
  cwd: ROOT,
  env: { ...process.env, LEASE_PROPERTY_RUNS: String(options.runs) },
  encoding: 'utf8',
});
const seconds = (Date.now() - startedAt) / 1000;
const output = `${child.stdout}\n${child.stderr}`;
const passed = child.status === 0;
const failure = passed
  ? ''
  : output
      .split('\n')
      .filter((line) => /Counterexample|Error|expected/i.test(line))
      .slice(0, 20)
      .join('\n');
const markdown = [
  '# Lease property, long version',
  '',
  `Command: \`${commandLine()}\``,
  '',
  ...machineLines(),
  '',
  '| runs | outcome | wall time (s) |',
  '|---:|---|---:|',
  `| ${options.runs} | ${passed ? 'every interleaving ended with WorkOS equal to the local rows' : '**counterexample found**'} | ${seconds.toFixed(1)} |`,
  '',
  ...(failure ? ['```', failure, '```', ''] : []),
].join('\n');
await writeResult('lease-property', markdown);

process.exitCode = passed ? 0 : 1;
