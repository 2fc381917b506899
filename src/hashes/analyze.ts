/** Preflight over a whole column: what converts, what doesn't, and why. */
import { toWorkOS } from './convert.js';
import type { AnalysisReasonCode, FirebaseStoredHash, HashAnalysis, HashOptions } from './types.js';

const NO_PASSWORD_EXAMPLE =
  "No password is stored (empty, or Django's unusable-password marker): the user has nothing to import and signs in another way or sets a password through a reset.";

export function analyze(
  hashes: Iterable<string | FirebaseStoredHash | null | undefined>,
  options?: HashOptions,
): HashAnalysis {
  const result: HashAnalysis = {
    total: 0,
    convertible: 0,
    unsupported: 0,
    noPassword: 0,
    formats: {},
    types: {},
    reasons: {},
  };
  const reason = (code: AnalysisReasonCode, example: string) => {
    const entry = result.reasons[code];
    if (entry) entry.count++;
    else result.reasons[code] = { count: 1, example };
  };
  for (const stored of hashes) {
    result.total++;
    const conversion =
      stored === null || stored === undefined ? toWorkOS('', options) : toWorkOS(stored, options);
    result.formats[conversion.format] = (result.formats[conversion.format] ?? 0) + 1;
    if (conversion.ok) {
      result.convertible++;
      result.types[conversion.passwordHashType] = (result.types[conversion.passwordHashType] ?? 0) + 1;
    } else if (conversion.code === 'empty' || conversion.code === 'unusable_password') {
      result.noPassword++;
      reason('no_password', NO_PASSWORD_EXAMPLE);
    } else {
      result.unsupported++;
      reason(conversion.code, conversion.reason);
    }
  }
  return result;
}
