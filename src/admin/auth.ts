import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Constant-time equality of two strings: the time does not depend on where they differ or on a length mismatch. */
export function constantTimeEquals(given: string, expected: string): boolean {
  const expectedBytes = Buffer.from(expected);
  const givenBytes = Buffer.from(given);
  // Compare equal lengths always, so a wrong length answers in the same time as a wrong byte.
  const padded = Buffer.alloc(expectedBytes.length);
  givenBytes.copy(padded, 0, 0, expectedBytes.length);
  return timingSafeEqual(padded, expectedBytes) && givenBytes.length === expectedBytes.length;
}

/**
 * The admin bearer check. The scheme is matched case-insensitively (RFC 7235 §2.1: `bearer`, `BEARER`
 * and `Bearer` are one scheme); the token itself is compared in constant time.
 */
export function bearerTokenMatches(header: string | undefined, token: string): boolean {
  const match = /^bearer +(\S+) *$/i.exec(header ?? '');
  return constantTimeEquals(match?.[1] ?? '', token);
}

const SESSION_MS = 12 * 60 * 60 * 1000;

export interface AdminSession {
  /** Sent in the `X-CSRF-Token` header of every state-changing request made with the cookie. */
  csrfToken: string;
  expiresAt: number;
  nonce: string;
}

/**
 * Dashboard sessions: a cookie signed with a key derived from the admin token (so rotating the token
 * ends every session, and no server-side store is needed across instances). Sign-out revokes the
 * session in this process and clears the cookie.
 */
export class SessionKeys {
  private readonly key: Buffer;
  private readonly revoked = new Map<string, number>();

  constructor(adminToken: string) {
    this.key = createHmac('sha256', adminToken).update('workos-migrate dashboard session v1').digest();
  }

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.key).update(`${purpose}.${value}`).digest('base64url');
  }

  issue(now = Date.now()): { cookieValue: string; session: AdminSession } {
    const nonce = randomBytes(18).toString('base64url');
    const expiresAt = now + SESSION_MS;
    const body = `${expiresAt}.${nonce}`;
    return {
      cookieValue: `${body}.${this.mac('session', body)}`,
      session: { nonce, expiresAt, csrfToken: this.mac('csrf', nonce) },
    };
  }

  verify(cookieValue: string | undefined, now = Date.now()): AdminSession | null {
    const parts = (cookieValue ?? '').split('.');
    if (parts.length !== 3) return null;
    const [expires = '', nonce = '', signature = ''] = parts;
    if (!constantTimeEquals(signature, this.mac('session', `${expires}.${nonce}`))) return null;
    const expiresAt = Number(expires);
    if (!Number.isSafeInteger(expiresAt) || expiresAt <= now || this.revoked.has(nonce)) return null;
    return { nonce, expiresAt, csrfToken: this.mac('csrf', nonce) };
  }

  revoke(session: AdminSession, now = Date.now()): void {
    for (const [nonce, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(nonce);
    this.revoked.set(session.nonce, session.expiresAt);
  }
}

/** A secret-free shape of an email for display: first character and domain, `a***@example.com`. */
export function maskEmail(email: string | null): string | null {
  if (email === null) return null;
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***${email.slice(at)}`;
}
