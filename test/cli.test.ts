import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/conventions.js';
import {
  parseDuration,
  parseEmailTakenMode,
  parseEmulatorFlags,
  parseHost,
  parseLatency,
  parseList,
  parsePort,
  parseProbability,
  parseRateLimit,
} from '../src/cli/parse.js';

// The CLI is exercised through the built binary (`npm test` builds first), as a user runs it.
const BIN = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Started {
  child: ChildProcess;
  /** Resolves with the first complete stdout line; rejects if the process exits first. */
  firstLine: Promise<string>;
  finished: Promise<Finished>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(args: string[]): Started {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  const finished = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve(stdout.slice(0, nl));
    });
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    finished.then(
      (f) => reject(new Error(`exited ${f.code} before printing a line; stderr: ${f.stderr}`)),
      reject,
    );
  });
  firstLine.catch(() => {}); // observed by the tests that need it
  return { child, firstLine, finished };
}

const run = (args: string[]): Promise<Finished> => start(args).finished;

/** The convention: exactly one line on stderr, prefixed with the program name. */
function expectOneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^workos-migrate: /);
  return lines[0] ?? '';
}

describe('workos-migrate binary', () => {
  it('--help exits 0 and lists the emulator command', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('emulator');
    expect(r.stderr).toBe('');
  });

  it('--version prints the package version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('emulator --help exits 0 and documents the flags', async () => {
    const r = await run(['emulator', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--port',
      '--api-key',
      '--rate-limit-writes',
      '--no-rate-limit',
      '--latency',
      '--json',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('an unknown command exits 2 with one line', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(expectOneErrorLine(r.stderr)).toContain("'frobnicate'");
    expect(r.stdout).toBe('');
  });

  it('no command exits 2 with one line', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(expectOneErrorLine(r.stderr)).toContain('--help');
  });

  it('an unknown option exits 2 with one line naming it and a suggestion', async () => {
    const r = await run(['emulator', '--portt', '1']);
    expect(r.code).toBe(2);
    const line = expectOneErrorLine(r.stderr);
    expect(line).toContain('--portt');
    expect(line).toContain('--port');
    expect(line).toContain('workos-migrate emulator --help');
  });

  it('a flag without its value exits 2 with one line', async () => {
    const r = await run(['emulator', '--port']);
    expect(r.code).toBe(2);
    expect(expectOneErrorLine(r.stderr)).toContain('--port');
  });

  it.each([
    [['--port', 'abc'], '--port'],
    [['--port', '70000'], '--port'],
    [['--latency', '5-1'], '--latency'],
    [['--email-taken', 'nope'], '--email-taken'],
    [['--fault-rate', '2'], '--fault-rate'],
    [['--rate-limit-writes', '10'], '--rate-limit-writes'],
    [['--no-rate-limit', '--rate-limit-reads', '5/1s'], '--no-rate-limit'],
  ])('emulator %j exits 2 with one line naming %s', async (args, flag) => {
    const r = await run(['emulator', ...args]);
    expect(r.code).toBe(2);
    expect(expectOneErrorLine(r.stderr)).toContain(flag);
    expect(r.stdout).toBe('');
  });

  it('emulator --port 0 --json serves the API with the key, refuses without it, stops on SIGTERM', async () => {
    const e = start(['emulator', '--port', '0', '--json']);
    const info = JSON.parse(await e.firstLine) as {
      url: string;
      port: number;
      apiKey: string;
      clientId: string;
      sdkOptions: { apiHostname: string; port: number; https: boolean; clientId: string };
    };
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.port).toBeGreaterThan(0);
    expect(info.url).toBe(`http://127.0.0.1:${info.port}`);
    expect(info.apiKey).toBe('sk_test_emulator');
    expect(info.sdkOptions).toEqual({
      apiHostname: '127.0.0.1',
      port: info.port,
      https: false,
      clientId: info.clientId,
    });

    const ok = await fetch(`${info.url}/user_management/users`, {
      headers: { Authorization: `Bearer ${info.apiKey}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ object: 'list', data: [] });
    const refused = await fetch(`${info.url}/user_management/users`);
    expect(refused.status).toBe(401);
    await refused.body?.cancel();

    e.child.kill('SIGTERM');
    const r = await e.finished;
    expect(r.code).toBe(0);
    // One JSON document on stdout, nothing else.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('emulator in human mode prints the URL, key, SDK snippet and env lines; SIGINT exits 0', async () => {
    const e = start(['emulator', '--port', '0', '--api-key', 'sk_a,sk_b', '--client-id', 'client_x']);
    const first = await e.firstLine;
    const url = /http:\/\/127\.0\.0\.1:(\d+)/.exec(first);
    expect(url).not.toBeNull();
    const port = url?.[1];
    // The banner is written in one go; give the pipe a moment to deliver all of it.
    await new Promise((r) => setTimeout(r, 100));
    e.child.kill('SIGINT');
    const r = await e.finished;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('sk_a');
    expect(r.stdout).toContain(
      `new WorkOS('sk_a', { apiHostname: '127.0.0.1', port: ${port}, https: false, clientId: 'client_x' })`,
    );
    expect(r.stdout).toContain(`WORKOS_API_URL=http://127.0.0.1:${port}`);
    expect(r.stderr).toBe('');
  });

  it('a port already in use exits 2 naming --port', async () => {
    const first = start(['emulator', '--port', '0', '--json']);
    const { port } = JSON.parse(await first.firstLine) as { port: number };
    const r = await run(['emulator', '--port', String(port)]);
    expect(r.code).toBe(2);
    expect(expectOneErrorLine(r.stderr)).toContain(`--port ${port}`);
    first.child.kill('SIGTERM');
    expect((await first.finished).code).toBe(0);
  });
});

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parse.ts', () => {
  it('parsePort', () => {
    expect(parsePort('--port', '0')).toBe(0);
    expect(parsePort('--port', '8484')).toBe(8484);
    expect(parsePort('--port', '65535')).toBe(65535);
    expect(usageMessage(() => parsePort('--port', 'abc'))).toBe(
      '--port must be an integer between 0 and 65535 (got "abc")',
    );
    for (const bad of ['', '-1', '65536', '1.5', '0x10', '1e3']) {
      expect(usageMessage(() => parsePort('--port', bad))).toMatch(/^--port /);
    }
  });

  it('parseHost', () => {
    expect(parseHost('--host', '127.0.0.1')).toBe('127.0.0.1');
    expect(parseHost('--host', '::1')).toBe('::1');
    expect(parseHost('--host', 'localhost')).toBe('localhost');
    for (const bad of ['', 'http://localhost', 'localhost:8484', 'a b']) {
      expect(usageMessage(() => parseHost('--host', bad))).toMatch(/^--host /);
    }
  });

  it('parseList: repeatable and comma-separated, deduplicated', () => {
    expect(parseList('--api-key', undefined)).toBeUndefined();
    expect(parseList('--api-key', 'a')).toEqual(['a']);
    expect(parseList('--api-key', ['a,b', 'c', 'a'])).toEqual(['a', 'b', 'c']);
    expect(usageMessage(() => parseList('--api-key', ['a,,b']))).toMatch(/^--api-key /);
    expect(usageMessage(() => parseList('--api-key', ['a b']))).toMatch(/^--api-key /);
  });

  it('parseDuration', () => {
    expect(parseDuration('--d', '500ms')).toBe(500);
    expect(parseDuration('--d', '10s')).toBe(10_000);
    expect(parseDuration('--d', '1m')).toBe(60_000);
    expect(parseDuration('--d', '1h')).toBe(3_600_000);
    expect(parseDuration('--d', '1.5s')).toBe(1500);
    expect(parseDuration('--d', 's')).toBe(1000);
    for (const bad of ['', '10', '0s', '10x', '-1s', 'ms10']) {
      expect(usageMessage(() => parseDuration('--d', bad))).toMatch(/^--d must be a duration/);
    }
  });

  it('parseRateLimit', () => {
    expect(parseRateLimit('--rate-limit-writes', '500/10s')).toEqual({ limit: 500, windowMs: 10_000 });
    expect(parseRateLimit('--rate-limit-auth', '10/60s')).toEqual({ limit: 10, windowMs: 60_000 });
    expect(parseRateLimit('--rate-limit-reads', '100/1m')).toEqual({ limit: 100, windowMs: 60_000 });
    expect(parseRateLimit('--rate-limit-reads', '20/500ms')).toEqual({ limit: 20, windowMs: 500 });
    expect(parseRateLimit('--rate-limit-reads', '5/s')).toEqual({ limit: 5, windowMs: 1000 });
    expect(parseRateLimit('--rate-limit-reads', 'off')).toBe(false);
    expect(usageMessage(() => parseRateLimit('--rate-limit-writes', '0/10s'))).toContain('off');
    for (const bad of ['10', '10/', '/10s', 'a/10s', '10/10', '1.5/10s']) {
      expect(usageMessage(() => parseRateLimit('--rate-limit-writes', bad))).toMatch(/^--rate-limit-writes /);
    }
  });

  it('parseLatency', () => {
    expect(parseLatency('--latency', '50-150')).toEqual({ min: 50, max: 150 });
    expect(parseLatency('--latency', '100')).toEqual({ min: 100, max: 100 });
    expect(parseLatency('--latency', '0')).toEqual({ min: 0, max: 0 });
    expect(parseLatency('--latency', '10ms-20ms')).toEqual({ min: 10, max: 20 });
    expect(usageMessage(() => parseLatency('--latency', '5-1'))).toBe(
      '--latency MIN must not exceed MAX (got "5-1"); write it as 1-5',
    );
    for (const bad of ['', 'abc', '-5', '1-', '5s', '1-2-3']) {
      expect(usageMessage(() => parseLatency('--latency', bad))).toMatch(/^--latency /);
    }
  });

  it('parseProbability', () => {
    expect(parseProbability('--fault-rate', '0')).toBe(0);
    expect(parseProbability('--fault-rate', '0.05')).toBe(0.05);
    expect(parseProbability('--fault-rate', '.5')).toBe(0.5);
    expect(parseProbability('--fault-rate', '1')).toBe(1);
    for (const bad of ['', '1.01', '-0.1', 'abc', '0x1', '5%', 'NaN', 'Infinity']) {
      expect(usageMessage(() => parseProbability('--fault-rate', bad))).toMatch(/^--fault-rate must be/);
    }
  });

  it('parseEmailTakenMode', () => {
    for (const mode of ['user_creation_error', 'email_not_available', 'conflict'] as const) {
      expect(parseEmailTakenMode('--email-taken', mode)).toBe(mode);
    }
    expect(usageMessage(() => parseEmailTakenMode('--email-taken', 'nope'))).toBe(
      '--email-taken must be one of user_creation_error, email_not_available, conflict (got "nope")',
    );
  });

  it('parseEmulatorFlags: defaults bind loopback on 8484 and leave the rest to the emulator', () => {
    expect(parseEmulatorFlags({})).toEqual({ host: '127.0.0.1', port: 8484 });
    expect(parseEmulatorFlags({ host: '127.0.0.1', port: '8484', rateLimit: true, events: true })).toEqual({
      host: '127.0.0.1',
      port: 8484,
    });
  });

  it('parseEmulatorFlags: every flag', () => {
    expect(
      parseEmulatorFlags({
        host: '0.0.0.0',
        port: '0',
        apiKey: ['k1,k2'],
        clientId: ['c1'],
        rateLimitWrites: '50/1s',
        rateLimitReads: 'off',
        rateLimitAuth: '3/1m',
        latency: '1-2',
        faultRate: '0.1',
        dropRate: '0.2',
        emailTaken: 'conflict',
        requireEmailVerification: true,
        events: false,
        data: '/tmp/emulator.json',
      }),
    ).toEqual({
      host: '0.0.0.0',
      port: 0,
      apiKeys: ['k1', 'k2'],
      clientIds: ['c1'],
      rateLimits: {
        writes: { limit: 50, windowMs: 1000 },
        reads: false,
        authenticatePerEmail: { limit: 3, windowMs: 60_000 },
      },
      faults: { latencyMs: { min: 1, max: 2 }, errorRate: 0.1, dropRate: 0.2 },
      emailTaken: 'conflict',
      requireEmailVerification: true,
      events: false,
      dataFile: '/tmp/emulator.json',
    });
    expect(parseEmulatorFlags({ rateLimit: false }).rateLimits).toBe(false);
    expect(usageMessage(() => parseEmulatorFlags({ rateLimit: false, rateLimitAuth: '1/1s' }))).toBe(
      '--no-rate-limit cannot be combined with --rate-limit-auth; drop one of them',
    );
  });
});
