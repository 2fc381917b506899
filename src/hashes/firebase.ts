/**
 * Firebase's modified scrypt. A Firebase Auth export holds each user's `passwordHash` and `salt` (base64,
 * standard or URL-safe depending on the tool that exported them); the signer key, salt separator, rounds and
 * memory cost are per project (Firebase console, "Password hash parameters"). WorkOS takes all six in one
 * `$firebase-scrypt$` string, which is also accepted here as already formed.
 */
import type { Buffer } from 'node:buffer';
import { decodeBase64 } from './base64.js';
import { emitFirebaseScrypt } from './emit.js';
import { HASH_LIMITS } from './limits.js';
import { converted, isFailure, readCount, unsupported } from './result.js';
import type { Conversion, FirebaseStoredHash, HashOptions, UnsupportedHash } from './types.js';

const format = 'firebase-scrypt';

interface Fields {
  hash: Buffer;
  salt: Buffer;
  signerKey: Buffer;
  saltSeparator: Buffer;
  rounds: number;
  memCost: number;
}

export function convertFirebaseExport(stored: FirebaseStoredHash, options: HashOptions): Conversion {
  const project = options.firebase;
  if (project === undefined || project === null) {
    return unsupported(
      format,
      'firebase_parameters_missing',
      "This is a Firebase scrypt hash, which can only be imported together with the Firebase project's password hash parameters (signer key, salt separator, rounds, memory cost: Firebase console > Authentication > Users > Password hash parameters); pass them as hashOptions.firebase.",
    );
  }
  const hash = decodeBase64(stored.hash.trim(), 'standard-or-url');
  const salt = decodeBase64(stored.salt.trim(), 'standard-or-url');
  if (!hash || !salt) {
    return unsupported(format, 'malformed', "This Firebase export entry's hash or salt is not valid base64.");
  }
  const invalid = (what: string) =>
    unsupported(
      format,
      'firebase_parameters_invalid',
      `hashOptions.firebase ${what}; correct it from the Firebase console's password hash parameters.`,
    );
  if (typeof project !== 'object') return invalid('must be an object');
  const signerKey =
    typeof project.signerKey === 'string' ? decodeBase64(project.signerKey.trim(), 'standard-or-url') : null;
  if (!signerKey) return invalid('has a signerKey that is not a base64 string');
  const saltSeparator =
    typeof project.saltSeparator === 'string'
      ? decodeBase64(project.saltSeparator.trim(), 'standard-or-url')
      : null;
  if (!saltSeparator) return invalid('has a saltSeparator that is not a base64 string');
  if (!Number.isSafeInteger(project.rounds) || project.rounds < 1)
    return invalid('has a rounds value that is not a positive whole number');
  if (!Number.isSafeInteger(project.memCost) || project.memCost < 1)
    return invalid('has a memCost value that is not a positive whole number');
  const fields = checkFields({
    hash,
    salt,
    signerKey,
    saltSeparator,
    rounds: String(project.rounds),
    memCost: String(project.memCost),
  });
  if (isFailure(fields)) return fields;
  return converted(format, 'firebase-scrypt', emitFirebaseScrypt(fields));
}

/** An already-formed `$firebase-scrypt$hash=..$salt=..$sk=..$ss=..$r=..$m=..` (fields in any order). */
export function convertFirebaseString(text: string): Conversion {
  const prefix = '$firebase-scrypt$';
  const shape =
    'This looks like a $firebase-scrypt$ string but does not have the fields hash, salt, sk, ss, r and m exactly once each, so it was probably truncated or altered.';
  const values = new Map<string, string>();
  for (const field of text.slice(prefix.length).split('$')) {
    const eq = field.indexOf('=');
    const name = eq > 0 ? field.slice(0, eq) : '';
    if (!['hash', 'salt', 'sk', 'ss', 'r', 'm'].includes(name) || values.has(name)) {
      return unsupported(format, 'malformed', shape);
    }
    values.set(name, field.slice(eq + 1));
  }
  if (values.size !== 6) return unsupported(format, 'malformed', shape);
  const decoded = ['hash', 'salt', 'sk', 'ss'].map((name) =>
    decodeBase64(values.get(name) ?? '', 'standard-or-url'),
  );
  const [hash, salt, signerKey, saltSeparator] = decoded;
  if (!hash || !salt || !signerKey || !saltSeparator) {
    return unsupported(
      format,
      'malformed',
      'This $firebase-scrypt$ string has a field that is not valid base64.',
    );
  }
  const fields = checkFields({
    hash,
    salt,
    signerKey,
    saltSeparator,
    rounds: values.get('r'),
    memCost: values.get('m'),
  });
  if (isFailure(fields)) return fields;
  return converted(format, 'firebase-scrypt', emitFirebaseScrypt(fields));
}

function checkFields(input: {
  hash: Buffer;
  salt: Buffer;
  signerKey: Buffer;
  saltSeparator: Buffer;
  rounds: string | undefined;
  memCost: string | undefined;
}): Fields | UnsupportedHash {
  const rounds = readCount(format, input.rounds, 1, HASH_LIMITS.firebaseMaxRounds, 'Firebase rounds');
  if (isFailure(rounds)) return rounds;
  const memCost = readCount(format, input.memCost, 1, HASH_LIMITS.firebaseMaxMemCost, 'Firebase memory cost');
  if (isFailure(memCost)) return memCost;
  if (128 * rounds * 2 ** memCost > HASH_LIMITS.scryptMaxMemoryBytes) {
    return unsupported(
      format,
      'cost_out_of_range',
      `These Firebase rounds and memory cost need more than ${HASH_LIMITS.scryptMaxMemoryBytes / 2 ** 30} GiB of memory per login, more than this library passes on to WorkOS; they are refused rather than computed.`,
    );
  }
  if (input.salt.length === 0 || input.salt.length > HASH_LIMITS.maxSaltBytes) {
    return unsupported(format, 'malformed', 'This Firebase hash has an empty or oversized salt.');
  }
  if (
    input.signerKey.length < HASH_LIMITS.minDigestBytes ||
    input.signerKey.length > HASH_LIMITS.maxDigestBytes
  ) {
    return unsupported(
      format,
      'firebase_parameters_invalid',
      `The Firebase signer key must decode to ${HASH_LIMITS.minDigestBytes} to ${HASH_LIMITS.maxDigestBytes} bytes; check it was copied whole from the Firebase console.`,
    );
  }
  if (input.hash.length < HASH_LIMITS.minDigestBytes) {
    return unsupported(
      format,
      'malformed',
      `This Firebase hash is shorter than ${HASH_LIMITS.minDigestBytes} bytes, so it was probably truncated.`,
    );
  }
  // The stored hash is the signer key encrypted with a stream cipher: it can't be longer than the key.
  if (input.hash.length > input.signerKey.length) {
    return unsupported(
      format,
      'firebase_parameters_invalid',
      "This Firebase hash is longer than the signer key it encrypts, so the signer key is not this project's; check hashOptions.firebase.",
    );
  }
  return { ...input, rounds, memCost };
}
