import { ConfigError } from '../core/errors.js';

const ADMIN_OPTIONS = ['prefix', 'token', 'metrics'];

/** The admin options as both adapters take them; a wrong one throws a ConfigError naming it. */
export function validateAdminOptions(admin: unknown): void {
  if (admin === undefined) return;
  if (typeof admin !== 'object' || admin === null) throw new ConfigError('admin', 'must be an object');
  const unknown = Object.keys(admin).find((key) => !ADMIN_OPTIONS.includes(key));
  if (unknown !== undefined) {
    throw new ConfigError(`admin.${unknown}`, `is not an option (known: ${ADMIN_OPTIONS.join(', ')})`);
  }
  const { token, prefix, metrics } = admin as Record<string, unknown>;
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) {
    throw new ConfigError('admin.token', 'must be a string of at least 16 characters (a random secret)');
  }
  if (
    prefix !== undefined &&
    (typeof prefix !== 'string' || !/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/.test(prefix))
  ) {
    throw new ConfigError('admin.prefix', `must be a path such as /workos-migrate (got ${String(prefix)})`);
  }
  if (metrics !== undefined) {
    const registry = (metrics as { registry?: { registerMetric?: unknown } } | null)?.registry;
    if (
      typeof metrics !== 'object' ||
      metrics === null ||
      (registry !== undefined && typeof registry?.registerMetric !== 'function')
    ) {
      throw new ConfigError('admin.metrics', 'must be { registry?: a prom-client Registry }');
    }
  }
}
