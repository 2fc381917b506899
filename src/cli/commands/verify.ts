import type { WorkOS } from '@workos-inc/node';
import { classifyWorkosError, createWorkosClient } from '../../workos/client.js';
import { type CliCommand, EXIT_FAILED, EXIT_OK, jsonLine, UsageError } from '../conventions.js';
import { addEngineCommand, type EngineFlags, withSetup } from '../engine.js';
import { parseCount } from '../parse.js';
import { formatVerify, type VerifyCheck, verify } from '../verify.js';

interface VerifyFlags extends EngineFlags {
  sample?: string;
  full?: boolean;
  out?: string;
  loginTest?: string;
}

const DEFAULT_SAMPLE = 100;

/**
 * Reads a password without echoing it: raw mode on a terminal, else the first line of stdin (for
 * scripts: `printf '%s\n' "$PW" | workos-migrate verify --login-test ...`). Never logged or kept.
 */
export function readPassword(prompt: string, write: (text: string) => void): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    write(prompt);
    return new Promise((resolve, reject) => {
      let value = '';
      const finish = (error?: Error) => {
        stdin.setRawMode(false);
        stdin.pause();
        stdin.off('data', onData);
        write('\n');
        if (error) reject(error);
        else resolve(value);
      };
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') return finish();
          if (char === '\u0003') return finish(new UsageError('--login-test cancelled'));
          if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
          else value += char;
        }
      };
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', onData);
    });
  }
  return new Promise((resolve) => {
    let buffer = '';
    const done = () => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.pause();
      resolve(buffer.split(/\r?\n/)[0] ?? '');
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (buffer.includes('\n')) done();
    };
    stdin.on('data', onData);
    stdin.on('end', done);
    stdin.resume();
  });
}

export const verifyCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(
      program,
      'verify',
      'check the migration: API and key, column, trigger, synced count, read-back diff, WorkOS-only users',
    )
      .option('--sample <n>', `compare N random synced users with WorkOS (default ${DEFAULT_SAMPLE})`)
      .option('--full', 'compare every synced user (pages through all WorkOS users)')
      .option(
        '--out <file>',
        'write every drift entry to FILE as JSON lines (the report keeps the first 1,000)',
      )
      .option('--login-test <email>', 'ask for that user’s password (not echoed) and sign in through WorkOS')
      .action(
        ctx.action(async (flags: VerifyFlags) => {
          if (flags.full && flags.sample !== undefined) {
            throw new UsageError('--sample and --full exclude each other; drop one of them');
          }
          const sample = flags.sample === undefined ? DEFAULT_SAMPLE : parseCount('--sample', flags.sample);
          const email = flags.loginTest?.trim();
          if (flags.out !== undefined && !flags.out.trim())
            throw new UsageError('--out needs a file name, e.g. --out drift.jsonl');
          if (flags.loginTest !== undefined && !email)
            throw new UsageError('--login-test needs an email address');
          return withSetup(flags, async (setup) => {
            const { config, resolved } = await setup.engineConfig({ needsWorkos: true });
            if (email && !resolved.workos.clientId) {
              throw new UsageError(
                '--login-test needs the WorkOS client id: set WORKOS_CLIENT_ID or workos.clientId',
              );
            }
            const workos = createWorkosClient({
              apiKey: resolved.workos.apiKey,
              clientId: resolved.workos.clientId,
              ...(resolved.workos.apiUrl ? { apiUrl: resolved.workos.apiUrl } : {}),
              timeoutMs: 15_000,
            });
            // Asked first, so the prompt does not wait behind a long scan.
            const password = email
              ? await readPassword(`Password for ${email} (not echoed): `, (t) => ctx.io.stderr(t))
              : undefined;
            if (email && !password)
              throw new UsageError('--login-test needs a password (typed, or on standard input)');
            const report = await verify(config.db, resolved, workos, {
              sample,
              full: flags.full === true,
              ...(flags.out ? { out: flags.out } : {}),
              ...(email && password
                ? {
                    loginTest: (client: WorkOS) =>
                      loginTest(client, resolved.workos.clientId, email, password),
                  }
                : {}),
            });
            ctx.io.stdout(flags.json ? jsonLine(report) : formatVerify(report));
            return report.ok ? EXIT_OK : EXIT_FAILED;
          });
        }),
      );
  },
};

async function loginTest(
  workos: WorkOS,
  clientId: string,
  email: string,
  password: string,
): Promise<VerifyCheck> {
  try {
    const result = await workos.userManagement.authenticateWithPassword({ clientId, email, password });
    return { name: 'login', ok: true, detail: `${email} signed in through WorkOS as ${result.user.id}` };
  } catch (error) {
    const failure = classifyWorkosError(error);
    return {
      name: 'login',
      ok: false,
      detail: `${email} could not sign in through WorkOS: ${failure.code ?? failure.kind} (${failure.message})`,
    };
  }
}
