import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerOptions } from '../../core/config.js';
import { createWorkosMigrate } from '../../signin/engine.js';
import { withoutPrefix } from '../config.js';
import { type CliCommand, EXIT_OK, jsonLine, UsageError } from '../conventions.js';
import { addEngineCommand, type EngineFlags, stderrLogger, withSetup } from '../engine.js';
import { count } from '../format.js';
import { parseCount } from '../parse.js';

interface WorkerFlags extends EngineFlags {
  rate?: string;
  concurrency?: string;
}

export const workerCommand: CliCommand = {
  register(program, ctx) {
    addEngineCommand(
      program,
      'worker',
      'run the sync worker until SIGINT/SIGTERM (for deployments that keep it out of the app)',
    )
      .option('--rate <n>', 'WorkOS write rate ceiling per second (default: worker.ratePerSecond, 50)')
      .option('--concurrency <n>', 'syncs in flight at most (default: worker.concurrency, 32)')
      .action(
        ctx.action(async (flags: WorkerFlags) => {
          const worker: WorkerOptions = {};
          if (flags.rate !== undefined) worker.ratePerSecond = parseCount('--rate', flags.rate);
          if (flags.concurrency !== undefined)
            worker.concurrency = parseCount('--concurrency', flags.concurrency);
          const stopped = ctx.shutdownSignal();
          return withSetup(flags, async (setup) => {
            // Without a logger in the config, the engine's info/warn/error lines go to stderr.
            const errors: { last: string | null } = { last: null };
            const base = stderrLogger((text) => ctx.io.stderr(text), ['info', 'warn', 'error']);
            const logger = setup.config.logger ?? {
              ...base,
              error: (obj: object, msg?: string) => {
                errors.last = msg ?? errors.last;
                base.error(obj, msg);
              },
            };
            const { config } = await setup.engineConfig({ needsWorkos: true, worker, logger });
            const migrate = createWorkosMigrate(config);
            await migrate.worker.start();
            const { description } = await setup.database();
            if (!flags.json) ctx.io.stdout(`Worker running on ${description}; Ctrl+C stops it.\n`);

            // Returns the signal, or null when the worker stopped by itself (WorkOS refused the key).
            const died = (async () => {
              while (migrate.worker.running) await sleep(500);
              return null;
            })();
            const signal = await Promise.race([stopped, died]);
            await migrate.worker.stop();
            if (signal === null) {
              throw new UsageError(
                errors.last
                  ? withoutPrefix(errors.last)
                  : 'the worker stopped by itself; see the log lines above',
              );
            }
            const counters = migrate.worker.counters;
            if (flags.json) ctx.io.stdout(jsonLine({ stopped: signal, ...counters }));
            else
              ctx.io.stdout(
                `Worker stopped (${signal}): ${count(counters.processed)} users processed, ${count(counters.writes)} WorkOS writes, ` +
                  `${count(counters.rateLimited)} 429s, ${count(counters.deadLettered)} dead-lettered.\n`,
              );
            return EXIT_OK;
          });
        }),
      );
  },
};
