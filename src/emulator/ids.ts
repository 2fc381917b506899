import { randomUUID } from 'node:crypto';
import { monotonicFactory } from 'ulid';

// Monotonic ULIDs sort in creation order even within one millisecond, which is what the
// list endpoints' cursors rely on.
const nextUlid = monotonicFactory();

export function newId(
  prefix:
    | 'user'
    | 'event'
    | 'password_reset'
    | 'email_verification'
    | 'auth_factor'
    | 'org'
    | 'conn'
    | 'radar_challenge'
    | 'session'
    | 'authorization',
): string {
  return `${prefix}_${nextUlid()}`;
}

export function newRequestId(): string {
  return randomUUID();
}
