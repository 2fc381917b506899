/** `detect` and `toWorkOS`: the module's two entry points for one stored value. */
import { convertArgon2 } from './argon2.js';
import { convertAspnetIdentity } from './aspnet.js';
import { convertBcrypt } from './bcrypt.js';
import { identify } from './detect.js';
import { convertFirebaseExport, convertFirebaseString } from './firebase.js';
import { HASH_LIMITS } from './limits.js';
import {
  convertAtlassianPbkdf2,
  convertDjangoPbkdf2,
  convertPasslibPbkdf2,
  convertPbkdf2Phc,
  convertWerkzeugPbkdf2,
} from './pbkdf2.js';
import { resolveRanges } from './ranges.js';
import { unsupported } from './result.js';
import { convertDjangoScrypt, convertScryptPhc, convertWerkzeugScrypt } from './scrypt.js';
import { convertSsha } from './ssha.js';
import type { Conversion, FirebaseStoredHash, HashFormat, HashOptions } from './types.js';
import { explainUnsupported, isNativelyUnsupported } from './unsupported.js';

/**
 * The format of a stored password hash, from its prefix and structure (no parameter is validated: use
 * `toWorkOS` for that). A `{ hash, salt }` object is a Firebase export entry. Never throws.
 *
 * `options` is accepted for symmetry with `toWorkOS`; detection does not depend on it today (a bare hex
 * value's format follows its length, and `bareHexFormat` only refines the reason `toWorkOS` gives).
 */
export function detect(stored: string | FirebaseStoredHash, options?: HashOptions): HashFormat {
  void options;
  try {
    return identify(stored).format;
  } catch {
    return 'unknown';
  }
}

/**
 * Converts a stored password hash to what WorkOS's Create/Update User accepts (`password_hash` and
 * `password_hash_type`), or says why it cannot. Synchronous and pure; never throws; computes no hash.
 */
export function toWorkOS(stored: string | FirebaseStoredHash, options?: HashOptions): Conversion {
  try {
    return convert(stored, options && typeof options === 'object' ? options : {});
  } catch {
    // Every parser is written not to throw; this is a last guard so one odd row never stops a migration.
    return unsupported('unknown', 'malformed', 'The stored value could not be read as a password hash.');
  }
}

function convert(stored: unknown, options: HashOptions): Conversion {
  const id = identify(stored);
  if (id.kind === 'empty') return explainUnsupported('empty');
  if (id.kind === 'invalid') {
    const what =
      id.why === 'too_long'
        ? `The stored value is longer than ${HASH_LIMITS.maxInputChars} characters, far beyond any password hash format; check that the mapped column holds password hashes.`
        : id.why === 'firebase_shape'
          ? 'The stored value is an object but not a Firebase export entry with string hash and salt fields.'
          : 'The stored value is neither a string nor a Firebase export entry ({ hash, salt }); check the mapped column.';
    return unsupported('unknown', 'malformed', what);
  }
  if (id.format === 'unusable') return explainUnsupported('unusable');
  if (options.pepper === true) {
    return unsupported(
      id.format,
      'peppered',
      "The app mixes a secret pepper into its password hashes (hashOptions.pepper, e.g. Devise's config.pepper), which WorkOS cannot add when it verifies a password.",
    );
  }
  if (id.kind === 'firebase') return convertFirebaseExport(id.stored, options);

  const { text, format } = id;
  const ranges = resolveRanges(options);
  switch (format) {
    case 'bcrypt':
      return convertBcrypt(text, format);
    case 'django-bcrypt':
      return convertBcrypt(text.slice('bcrypt$'.length), format);
    case 'argon2':
      return convertArgon2(text, format, ranges);
    case 'django-argon2':
      return convertArgon2(text.slice('argon2'.length), format, ranges);
    case 'scrypt':
      return convertScryptPhc(text);
    case 'django-scrypt':
      return convertDjangoScrypt(text);
    case 'werkzeug-scrypt':
      return convertWerkzeugScrypt(text);
    case 'pbkdf2':
      return convertPbkdf2Phc(text, ranges);
    case 'passlib-pbkdf2':
      return convertPasslibPbkdf2(text, ranges);
    case 'django-pbkdf2-sha256':
    case 'django-pbkdf2-sha1':
      return convertDjangoPbkdf2(text, ranges);
    case 'werkzeug-pbkdf2':
      return convertWerkzeugPbkdf2(text, ranges);
    case 'atlassian-pbkdf2':
      return convertAtlassianPbkdf2(text, ranges);
    case 'aspnet-identity-v2':
    case 'aspnet-identity-v3':
      return convertAspnetIdentity(text, ranges);
    case 'ssha':
      return convertSsha(text);
    case 'firebase-scrypt':
      return convertFirebaseString(text);
    default:
      if (isNativelyUnsupported(format)) return explainUnsupported(format, { bareHex: id.bareHex, options });
      return explainUnsupported('unknown');
  }
}
