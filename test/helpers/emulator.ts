// A running emulator plus an SDK client pointed at it, with every response checked against the OpenAPI spec.
// Usage:
//   let t: TestEmulator;
//   beforeAll(async () => { t = await startTestEmulator(); });
//   afterAll(() => t.close()); // closes, then fails the file if any response broke the spec
import { WorkOS } from '@workos-inc/node';
import { type EmulatorOptions, type RunningEmulator, startEmulator } from 'workos-migrate/emulator';
import { createResponseValidator } from './openapi.js';

export interface TestEmulator {
  emulator: RunningEmulator;
  /** SDK client for the emulator, with the SDK's own retries off (`maxRetries: 0`). */
  workos: WorkOS;
  /** One message per response that did not validate against the spec. */
  violations: string[];
  /** Throws listing every violation so far, if any. */
  assertConformant(): void;
  /** Closes the emulator, then throws if any response violated the spec. */
  close(): Promise<void>;
}

export async function startTestEmulator(options: EmulatorOptions = {}): Promise<TestEmulator> {
  const validate = createResponseValidator();
  const violations: string[] = [];
  const callerOnResponse = options.onResponse;
  const emulator = await startEmulator({
    ...options,
    rateLimits: options.rateLimits ?? false,
    onResponse(record) {
      const violation = validate(record);
      if (violation) violations.push(violation);
      callerOnResponse?.(record);
    },
  });
  const workos = new WorkOS(emulator.apiKey, {
    ...emulator.sdkOptions,
    clientId: emulator.clientId,
    maxRetries: 0,
  });

  function assertConformant(): void {
    if (violations.length === 0) return;
    throw new Error(
      `${violations.length} emulator response(s) do not conform to the WorkOS OpenAPI spec:\n- ${violations.join('\n- ')}`,
    );
  }

  let closed = false;
  return {
    emulator,
    workos,
    violations,
    assertConformant,
    async close() {
      if (!closed) {
        closed = true;
        await emulator.close();
      }
      assertConformant();
    },
  };
}
