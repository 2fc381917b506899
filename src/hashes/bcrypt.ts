/** bcrypt in modular crypt form: `$2a$`, `$2b$`, `$2y$` (Devise, Laravel, node, PHP) and Django's `bcrypt$`. */
import { emitBcrypt } from './emit.js';
import { HASH_LIMITS } from './limits.js';
import { converted, isFailure, readCount, unsupported } from './result.js';
import type { Conversion } from './types.js';

/** 22 characters of salt and 31 of digest, in bcrypt's own base64 alphabet. */
const BODY = /^[./A-Za-z0-9]{53}$/;

/** `text` is the modular crypt string (`$2b$12$...`), with any Django prefix already removed. */
export function convertBcrypt(text: string, format: 'bcrypt' | 'django-bcrypt'): Conversion {
  const parts = text.split('$');
  const variant = parts[1];
  if (parts.length !== 4 || parts[0] !== '') {
    return unsupported(
      format,
      'malformed',
      'This looks like a bcrypt hash but does not have the form $2b$<cost>$<53 characters>, so it was probably truncated or altered.',
    );
  }
  if (variant === '2x' || variant === '2') {
    return unsupported(
      format,
      'unsupported_variant',
      'This is a bcrypt hash of the $2x$ or $2$ variant (old implementations with known bugs); WorkOS accepts only $2a$, $2b$ and $2y$.',
    );
  }
  if (variant !== '2a' && variant !== '2b' && variant !== '2y') {
    return unsupported(format, 'malformed', 'This looks like a bcrypt hash but has an unknown variant.');
  }
  const cost = readCount(
    format,
    parts[2],
    HASH_LIMITS.bcryptMinCost,
    HASH_LIMITS.bcryptMaxCost,
    'bcrypt cost',
  );
  if (isFailure(cost)) return cost;
  if (parts[2]?.length !== 2) {
    return unsupported(format, 'malformed', 'This bcrypt hash does not write its cost as two digits.');
  }
  if (!BODY.test(parts[3] ?? '')) {
    return unsupported(
      format,
      'malformed',
      'This bcrypt hash does not have exactly 53 characters of salt and digest after the cost, so it was probably truncated (check the column length) or altered.',
    );
  }
  return converted(format, 'bcrypt', emitBcrypt(text));
}
