import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EmulatorOptions, RunningEmulator } from '../../emulator/index.js';
import { MISREAD_HASH_TYPES, SIGN_IN_STEPS } from '../../emulator/options.js';
import {
  addCommand,
  type CliCommand,
  type CommonFlags,
  EXIT_OK,
  jsonLine,
  quote,
  UsageError,
} from '../conventions.js';
import {
  DEFAULT_EMULATOR_HOST,
  DEFAULT_EMULATOR_PORT,
  EMAIL_TAKEN_MODES,
  type EmulatorFlags,
  parseEmulatorFlags,
} from '../parse.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const emulatorCommand: CliCommand = {
  register(program, ctx) {
    addCommand(program, 'emulator', 'run a local WorkOS User Management API for rehearsals and tests')
      .option(
        '--host <host>',
        'address to bind (loopback unless you mean to share it)',
        DEFAULT_EMULATOR_HOST,
      )
      .option('--port <port>', 'port to listen on; 0 picks a free one', String(DEFAULT_EMULATOR_PORT))
      .option(
        '--api-key <key>',
        'accepted API key; repeatable or comma-separated (default sk_test_emulator)',
        collect,
      )
      .option(
        '--client-id <id>',
        'accepted client id; repeatable or comma-separated (default client_emulator)',
        collect,
      )
      .option('--rate-limit-writes <N/duration>', 'user writes allowed per window, or off (default 500/10s)')
      .option('--rate-limit-reads <N/duration>', 'user reads allowed per window, or off (default 1000/10s)')
      .option(
        '--rate-limit-auth <N/duration>',
        'authentications per email per window, or off (default 10/60s)',
      )
      .option('--no-rate-limit', 'turn every rate limit off')
      .option('--latency <ms>', 'added latency per request: MIN-MAX or one number, in ms (e.g. 50-150)')
      .option('--fault-rate <p>', 'probability 0..1 of answering 500/502/503 without applying the request')
      .option('--drop-rate <p>', 'probability 0..1 of dropping the connection without applying the request')
      .option('--email-taken <mode>', `how a duplicate email is refused: ${EMAIL_TAKEN_MODES.join(' | ')}`)
      .option(
        '--require-email-verification',
        'authenticate refuses unverified users (the default, as in WorkOS)',
      )
      .option(
        '--no-require-email-verification',
        'let unverified users sign in (an environment with verification off)',
      )
      .option(
        '--sign-in-step <key=step>',
        `answer a sign-in step for a user id, email or domain; repeatable (${SIGN_IN_STEPS.join(' | ')})`,
        collect,
      )
      .option(
        '--misread-hash-type <type>',
        `read imported hashes of this type differently at sign-in, so correct passwords fail; repeatable (${MISREAD_HASH_TYPES.join(' | ')})`,
        collect,
      )
      .option('--no-events', 'do not record user.* events (for memory-bound benchmarks)')
      .option(
        '--data <file>',
        'keep state in FILE across restarts (holds password hashes; written with mode 0600)',
      )
      .action(
        ctx.action(async (flags: EmulatorFlags & CommonFlags) => {
          const options = parseEmulatorFlags(flags);
          if (options.dataFile) await checkDataFile(options.dataFile);
          // Listen for signals before starting, so one sent during startup still stops us cleanly.
          const stopped = ctx.shutdownSignal();

          // Loaded here, not at the top: other commands and --help should not pay for the emulator.
          const { startEmulator } = await import('../../emulator/index.js');
          let emulator: RunningEmulator;
          try {
            emulator = await startEmulator(options);
          } catch (error) {
            throw listenError(error, options);
          }

          const sdkOptions = { ...emulator.sdkOptions, clientId: emulator.clientId };
          if (flags.json) {
            const { url, port, apiKey, clientId } = emulator;
            ctx.io.stdout(jsonLine({ url, port, apiKey, clientId, sdkOptions }));
          } else {
            ctx.io.stdout(humanBanner(emulator));
          }
          // Warnings go to stderr in both modes: stdout stays one JSON document with --json.
          if (options.host && !LOOPBACK.has(options.host)) {
            ctx.io.stderr(
              `warning: --host ${options.host} makes the emulator reachable from other machines with a well-known API key\n`,
            );
          }
          if (options.dataFile) {
            ctx.io.stderr(
              `warning: ${options.dataFile} holds password hashes; it is written with mode 0600, keep it out of version control\n`,
            );
          }

          const signal = await stopped;
          await emulator.close();
          if (!flags.json) ctx.io.stdout(`Emulator stopped (${signal}).\n`);
          return EXIT_OK;
        }),
      );
  },
};

function humanBanner(emulator: RunningEmulator): string {
  const { url, apiKey, clientId, sdkOptions } = emulator;
  const sdk = `new WorkOS('${apiKey}', { apiHostname: '${sdkOptions.apiHostname}', port: ${sdkOptions.port}, https: false, clientId: '${clientId}' })`;
  return [
    `WorkOS emulator listening on ${url}`,
    `  API key:   ${apiKey}`,
    `  Client id: ${clientId}`,
    '',
    'Node SDK:',
    `  ${sdk}`,
    '',
    'Environment:',
    `  WORKOS_API_URL=${url}`,
    `  WORKOS_API_KEY=${apiKey}`,
    `  WORKOS_CLIENT_ID=${clientId}`,
    '',
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/** Catch a wrong --data path here with a clear line, rather than as an I/O error from deep inside. */
async function checkDataFile(file: string): Promise<void> {
  const dir = await stat(dirname(file)).catch(() => undefined);
  if (!dir?.isDirectory()) {
    throw new UsageError(
      `--data ${quote(file)}: directory ${quote(dirname(file))} does not exist; create it first`,
    );
  }
  const existing = await stat(file).catch(() => undefined);
  if (existing && !existing.isFile()) {
    throw new UsageError(`--data ${quote(file)} exists and is not a regular file; pass a file path`);
  }
}

/** Turns a failed listen into a usage error naming the flag at fault; anything else stays a failure. */
function listenError(error: unknown, options: EmulatorOptions): unknown {
  const { code, path } = (error ?? {}) as NodeJS.ErrnoException;
  // A system error carrying a path came from reading or writing the data file, not from listen.
  if (path && options.dataFile) {
    return new UsageError(`--data ${quote(options.dataFile)} cannot be used: ${(error as Error).message}`);
  }
  switch (code) {
    case 'EADDRINUSE':
      return new UsageError(
        `--port ${options.port} is already in use on ${options.host}; pick another, or --port 0 for any free port`,
      );
    case 'EACCES':
      return new UsageError(
        `--port ${options.port} needs privileges on ${options.host}; pick a port above 1023`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UsageError(`--host ${options.host} is not an address of this machine; try 127.0.0.1`);
    default:
      return error;
  }
}
