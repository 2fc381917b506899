// The emulator's access-token key: RS256 as WorkOS signs them, with the public key served as a JWKS
// (`GET /sso/jwks/{clientId}`) so the SDK's `loadSealedSession(...).authenticate()` verifies emulator
// sessions as it verifies WorkOS's. One key pair per running emulator, made on first use. The JWKS
// entry carries a self-signed certificate (`x5c`, `x5t#S256`) because the spec requires both; it is
// built here with a minimal DER writer, since Node can parse certificates but not make them.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

export interface SigningKey {
  kid: string;
  /** `header.payload.signature`, RS256. */
  signJwt(payload: Record<string, unknown>): string;
  /** The JWKS entry of the public key. */
  jwk: Record<string, unknown>;
}

function der(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else {
    const bytes: number[] = [];
    for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}

const sequence = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
// A positive INTEGER: a leading zero byte when the high bit is set.
const integer = (value: Buffer) =>
  der(0x02, (value[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
// sha256WithRSAEncryption (1.2.840.113549.1.1.11), with its NULL parameters.
const SHA256_WITH_RSA = sequence(Buffer.from('06092a864886f70d01010b', 'hex'), Buffer.from([0x05, 0x00]));
// commonName (2.5.4.3) = the given text, as a one-attribute Name.
const commonName = (text: string) =>
  sequence(der(0x31, sequence(Buffer.from('0603550403', 'hex'), der(0x0c, Buffer.from(text, 'utf8')))));
const utcTime = (date: Date) =>
  der(0x17, Buffer.from(`${date.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`, 'ascii'));

function selfSignedCertificate(publicKey: KeyObject, privateKey: KeyObject): Buffer {
  const name = commonName('workos-migrate emulator');
  const now = Date.now();
  const tbs = sequence(
    der(0xa0, integer(Buffer.from([2]))), // v3
    integer(randomBytes(8)),
    SHA256_WITH_RSA,
    name,
    sequence(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 365 * 24 * 3600 * 1000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  return sequence(tbs, SHA256_WITH_RSA, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

export function createSigningKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `key_${randomBytes(12).toString('hex')}`;
  const certificate = selfSignedCertificate(publicKey, privateKey);
  const { n, e } = publicKey.export({ format: 'jwk' });
  return {
    kid,
    signJwt(payload) {
      const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
      const body = base64url(JSON.stringify(payload));
      const signature = sign('sha256', Buffer.from(`${header}.${body}`), privateKey);
      return `${header}.${body}.${base64url(signature)}`;
    },
    jwk: {
      alg: 'RS256',
      kty: 'RSA',
      use: 'sig',
      x5c: [certificate.toString('base64')],
      n,
      e,
      kid,
      'x5t#S256': createHash('sha256').update(certificate).digest('base64url'),
    },
  };
}

/** Made on first use: generating an RSA key takes a moment, and most emulator runs sign nothing. */
export function lazySigningKey(): () => SigningKey {
  let key: SigningKey | null = null;
  return () => {
    key ??= createSigningKey();
    return key;
  };
}
