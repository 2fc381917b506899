import type { IncomingMessage } from 'node:http';
import type { ApiContext } from './context.js';
import { ApiError, type ApiResult, bearerMatches, isJsonObject } from './http.js';
import type { ScriptedFault } from './options.js';
import { applyRuntimeSettings, EmulatorOptionError, type ResolvedSettings } from './settings.js';
import type { StoredUser } from './store.js';
import type {
  EmulatorControl,
  EmulatorRuntimeSettings,
  RequestCounters,
  SeedUser,
  StoredUserView,
} from './types.js';
import { createUser } from './users-api.js';

/** The view the control plane gives of a user: never the hash, the password or a token. */
function view(user: StoredUser): StoredUserView {
  return {
    user: structuredClone(user.wire),
    hasPassword: user.password !== null,
    passwordType: user.password?.type ?? null,
  };
}

export function createControl(deps: {
  ctx: ApiContext;
  settings: ResolvedSettings;
  counters: () => RequestCounters;
  resetCounters: () => void;
  addScript: (fault: ScriptedFault) => void;
  clearScripts: () => void;
}): EmulatorControl {
  const { ctx } = deps;
  const find = (key: string): StoredUser | undefined =>
    ctx.store.get(key) ?? ctx.store.getByExternalId(key) ?? ctx.store.getByEmail(key);
  return {
    reset() {
      ctx.store.clear();
      ctx.authkit.requests.clear();
      ctx.authkit.codes.clear();
      ctx.authkit.refreshTokens.clear();
      deps.resetCounters();
      deps.clearScripts();
    },
    async seedUsers(seeds: SeedUser[]) {
      const created: StoredUserView[] = [];
      for (const seed of seeds) {
        const { last_sign_in_at, organization_ids, ...body } = seed;
        const user = await createUser(ctx, body, {
          lastSignInAt: last_sign_in_at ?? null,
          organizationIds: organization_ids ?? [],
        });
        created.push(view(user));
      }
      return created;
    },
    getUser(key) {
      const user = find(key);
      return user ? view(user) : undefined;
    },
    listUsers: () => ctx.store.all().map(view),
    userCount: () => ctx.store.size,
    counters: () => structuredClone(deps.counters()),
    resetCounters: deps.resetCounters,
    configure: (change: EmulatorRuntimeSettings) => applyRuntimeSettings(deps.settings, change),
    script: deps.addScript,
    clearScripts: deps.clearScripts,
  };
}

function optionError(error: unknown): ApiResult | null {
  if (error instanceof EmulatorOptionError || error instanceof TypeError) {
    return { status: 422, body: { code: 'invalid_request_parameters', message: (error as Error).message } };
  }
  return null;
}

/**
 * The control plane under `/_emulator/`, for rehearsals driven from another process (the CLI,
 * a shell script). It needs the same API key as the API and never returns secrets.
 */
export async function handleControlRequest(
  control: EmulatorControl,
  settings: ResolvedSettings,
  req: IncomingMessage,
  url: URL,
  readBody: (req: IncomingMessage) => Promise<string>,
): Promise<ApiResult | null> {
  const method = req.method ?? 'GET';
  const path = url.pathname.replace(/\/+$/, '');
  const text = await readBody(req);
  if (!bearerMatches(req.headers.authorization, settings.apiKeys)) {
    return { status: 401, body: { code: 'unauthorized', message: 'Invalid API key.' } };
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    return {
      status: 422,
      body: { code: 'invalid_request_parameters', message: 'The body is not valid JSON.' },
    };
  }
  try {
    if (method === 'POST' && path === '/_emulator/reset') {
      control.reset();
      return { status: 200, body: { ok: true } };
    }
    if (method === 'GET' && path === '/_emulator/users') {
      return { status: 200, body: { users: control.listUsers() } };
    }
    if (method === 'POST' && path === '/_emulator/users') {
      const seeds = isJsonObject(body) ? body.users : undefined;
      if (!Array.isArray(seeds)) {
        return {
          status: 422,
          body: { code: 'invalid_request_parameters', message: 'Expected { "users": [...] }.' },
        };
      }
      return { status: 201, body: { users: await control.seedUsers(seeds as SeedUser[]) } };
    }
    if (method === 'GET' && path.startsWith('/_emulator/users/')) {
      const key = decodeURIComponent(path.slice('/_emulator/users/'.length));
      const found = control.getUser(key);
      return found
        ? { status: 200, body: found }
        : { status: 404, body: { code: 'entity_not_found', message: `No user for '${key}'.` } };
    }
    if (method === 'GET' && path === '/_emulator/counters') return { status: 200, body: control.counters() };
    if (method === 'DELETE' && path === '/_emulator/counters') {
      control.resetCounters();
      return { status: 200, body: { ok: true } };
    }
    if (method === 'PATCH' && path === '/_emulator/settings') {
      if (!isJsonObject(body)) {
        return {
          status: 422,
          body: { code: 'invalid_request_parameters', message: 'Expected a settings object.' },
        };
      }
      control.configure(body as EmulatorRuntimeSettings);
      return { status: 200, body: { ok: true } };
    }
    if (method === 'POST' && path === '/_emulator/faults') {
      if (!isJsonObject(body)) {
        return {
          status: 422,
          body: { code: 'invalid_request_parameters', message: 'Expected a fault object.' },
        };
      }
      control.script(body as unknown as ScriptedFault);
      return { status: 201, body: { ok: true } };
    }
    if (method === 'DELETE' && path === '/_emulator/faults') {
      control.clearScripts();
      return { status: 200, body: { ok: true } };
    }
    return { status: 404, body: { code: 'not_found', message: `No control route for ${method} ${path}.` } };
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, body: error.body };
    const answer = optionError(error);
    if (answer) return answer;
    throw error;
  }
}
