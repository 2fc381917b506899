import type { Command } from 'commander';

/** The command's work succeeded. */
export const EXIT_OK = 0;
/** The work itself failed, wholly or in part (some users did not make it). */
export const EXIT_FAILED = 1;
/** Usage or configuration error: unknown command, unknown or bad flag, bad value, port in use. */
export const EXIT_USAGE = 2;

export const PROGRAM_NAME = 'workos-migrate';

/**
 * A bad flag, value or configuration. The message is the whole line the user sees (without the
 * program prefix), so it names the option and says what to do, e.g.
 * `--port must be an integer between 0 and 65535 (got "abc")`.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where a command writes. Injected so that `main` can run in-process in tests. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Flags every command has. */
export interface CommonFlags {
  json?: boolean;
}

export interface CliContext {
  io: CliIo;
  /**
   * Wraps a command's action: the action returns its exit code (or nothing for EXIT_OK) and
   * throws UsageError for bad values; `main` turns whatever it throws into one stderr line.
   */
  action<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>): (...args: A) => Promise<void>;
  /**
   * Starts listening for SIGINT/SIGTERM at once (call it before starting a server so an early
   * signal is not lost) and resolves with the first one. Listeners are removed once it fires.
   */
  shutdownSignal(): Promise<NodeJS.Signals>;
}

/** One subcommand. Adding a command = one file exporting this + one line in main.ts's list. */
export interface CliCommand {
  register(program: Command, ctx: CliContext): void;
}

/** A subcommand with the options every command shares (`--json`). */
export function addCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--json', 'print one JSON document on stdout instead of text');
}

/** The one line written to stderr for any error: newlines folded so it stays one line. */
export function errorLine(message: string): string {
  const folded = message.replace(/\s*\n\s*/g, ' ').trim();
  return `${PROGRAM_NAME}: ${folded}\n`;
}

/** One JSON document on one line, as `--json` promises. */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** `"value"` for error messages, so empty strings and spaces stay visible. */
export function quote(value: string): string {
  return JSON.stringify(value);
}

/** Whether stderr is a terminal (progress bars redraw in place) and how wide it is. */
export function stderrTerminal(io: CliIo): { tty: boolean; columns: number | undefined } {
  if (io !== processIo) return { tty: false, columns: undefined };
  // A pseudo-terminal may report 0 columns (e.g. under `script`): fall back to $COLUMNS, then 80.
  const columns = process.stderr.columns || Number(process.env.COLUMNS) || 80;
  return { tty: process.stderr.isTTY === true, columns };
}
