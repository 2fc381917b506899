export type * from './options.js';
export { DEFAULT_API_KEY, DEFAULT_CLIENT_ID } from './options.js';
export { startEmulator } from './server.js';
export type * from './types.js';
