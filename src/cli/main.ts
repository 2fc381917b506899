import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { emulatorCommand } from './commands/emulator.js';
import { freezeCommand, rolloutCommand } from './commands/flags.js';
import { importCommand } from './commands/import.js';
import { installCommand, uninstallCommand } from './commands/install.js';
import { confirmDeletesCommand, retryCommand, statusCommand } from './commands/status.js';
import { verifyCommand } from './commands/verify.js';
import { workerCommand } from './commands/worker.js';
import {
  type CliCommand,
  type CliContext,
  type CliIo,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  errorLine,
  PROGRAM_NAME,
  processIo,
  UsageError,
} from './conventions.js';

/** Every subcommand, in help order. A new command is one file in commands/ and one line here. */
const COMMANDS: readonly CliCommand[] = [
  installCommand,
  importCommand,
  workerCommand,
  statusCommand,
  verifyCommand,
  freezeCommand,
  rolloutCommand,
  retryCommand,
  confirmDeletesCommand,
  uninstallCommand,
  emulatorCommand,
];

function packageVersion(): string {
  // src/cli/ and dist/cli/ are both two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, onSignal);
      // A second signal while shutting down should still stop the process, not be swallowed.
      for (const s of signals) process.once(s, () => process.exit(EXIT_FAILED));
      resolve(signal);
    };
    for (const s of signals) process.on(s, onSignal);
  });
}

/** Builds the program. Exposed for tests and for listing commands; `main` is the entry point. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command(PROGRAM_NAME)
    .description('Move a Fastify/Express + Drizzle app’s users to WorkOS User Management without downtime.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    // Commander must throw rather than exit, and its messages are re-worded into one line in
    // `main`, so its own error output is silenced here; help and version still go to stdout.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout(text),
      writeErr: () => {},
      outputError: () => {},
    });
  for (const command of COMMANDS) command.register(program, ctx);
  return program;
}

/** Runs the CLI on `argv` (as in process.argv) and resolves with the exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = EXIT_OK;
  const ctx: CliContext = {
    io,
    action:
      (fn) =>
      async (...args) => {
        exitCode = (await fn(...args)) ?? EXIT_OK;
      },
    shutdownSignal,
  };

  let program: Command;
  try {
    program = buildProgram(ctx);
  } catch (error) {
    io.stderr(errorLine(error instanceof Error ? error.message : String(error)));
    return EXIT_FAILED;
  }
  // Commander's errors do not say which command raised them; remember the last one dispatched
  // so the line can point at the right `--help`.
  let active: Command = program;
  for (const cmd of allCommands(program)) {
    cmd.hook('preSubcommand', (_parent, sub) => {
      active = sub;
    });
  }

  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help, `help [command]` and --version end with a CommanderError of exit code 0.
      if (error.exitCode === 0) return EXIT_OK;
      const help = `see "${commandPath(active)} --help"`;
      if (error.code === 'commander.help') {
        // A command that needs a subcommand got none, or `help <unknown>`.
        const unknown = active.args.length > 1 ? active.args.at(-1) : undefined;
        const what = unknown === undefined ? 'missing command' : `unknown command '${unknown}'`;
        io.stderr(errorLine(`${what}; ${help} for the list of commands`));
      } else {
        const message = error.message
          .replace(/^error:\s*/, '')
          .replace(/\n\(/g, ' (')
          .replace(/\.$/, '');
        io.stderr(errorLine(`${message}; ${help}`));
      }
      return EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      io.stderr(errorLine(error.message));
      return EXIT_USAGE;
    }
    io.stderr(errorLine(error instanceof Error ? error.message : String(error)));
    return EXIT_FAILED;
  }
}
