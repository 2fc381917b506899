// workos-migrate/hashes: detect a stored password hash's format and convert it to one of WorkOS's six
// import types, or say why not. Synchronous and pure; knows nothing of WorkOS's API or the database.
export { analyze } from './analyze.js';
export { detect, toWorkOS } from './convert.js';
export { HASH_LIMITS } from './limits.js';
export { WORKOS_HASH_RANGES } from './ranges.js';
export {
  type AnalysisReasonCode,
  type Conversion,
  type ConvertedHash,
  type FirebaseHashParameters,
  type FirebaseStoredHash,
  HASH_FORMATS,
  type HashAnalysis,
  type HashFormat,
  type HashOptions,
  type HashParameterRange,
  UNSUPPORTED_CODES,
  UNVERIFIABLE_CODES,
  type UnsupportedCode,
  type UnsupportedHash,
  WORKOS_PASSWORD_HASH_TYPES,
  type WorkosHashRanges,
  type WorkosPasswordHashType,
} from './types.js';
