export { bearerTokenMatches, maskEmail } from './auth.js';
export {
  type AdminHandler,
  type AdminOptions,
  type AdminRequest,
  type AdminResponse,
  createAdminHandler,
  SESSION_COOKIE,
} from './handler.js';
export type { MetricsOptions, MetricsRegistry } from './metrics.js';
export { validateAdminOptions } from './options.js';
