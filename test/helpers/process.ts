// A long-running child process (a server, an app) whose stdout and stderr are collected together, so a
// test can wait for a line it prints.
import { type ChildProcess, spawn } from 'node:child_process';

export interface Collected {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
}

export function spawnCollecting(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Collected {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return { child, output: () => output };
}
