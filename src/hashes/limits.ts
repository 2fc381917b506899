/**
 * Bounds on what this library passes on to WorkOS. Conversion never computes a hash, but WorkOS (and the
 * emulator) will at every login, so a work factor beyond these is refused as `cost_out_of_range` rather than
 * imported. Every bound is far above what any framework's default has ever been.
 */
export const HASH_LIMITS = Object.freeze({
  /** Longer inputs are not password hashes; nothing beyond this is parsed. */
  maxInputChars: 4096,
  /** Shortest digest accepted in any format (WorkOS's verifier is assumed to reject shorter ones). */
  minDigestBytes: 16,
  maxDigestBytes: 1024,
  maxSaltBytes: 1024,
  /** bcrypt: cost 20 is about a minute per login already. */
  bcryptMinCost: 4,
  bcryptMaxCost: 20,
  /** PBKDF2: Django 5.2 uses 1,000,000; .NET 7+ Identity 100,000. */
  pbkdf2MaxIterations: 10_000_000,
  /** scrypt: log2(N) at most 20, memory (128 * N * r) at most 1 GiB, total work (x p) at most 4 GiB. */
  scryptMaxLn: 20,
  scryptMaxR: 64,
  scryptMaxP: 64,
  scryptMaxMemoryBytes: 2 ** 30,
  scryptMaxWorkBytes: 2 ** 32,
  /** Argon2: memory at most 1 GiB, passes at most 64, memory x passes at most 8 GiB, lanes at most 64. */
  argon2MaxMemoryKiB: 2 ** 20,
  argon2MaxTime: 64,
  argon2MaxParallelism: 64,
  argon2MaxWorkKiB: 2 ** 23,
  argon2MinSaltBytes: 8,
  /** Firebase scrypt: rounds (r) and memory cost (log2 N), memory at most 1 GiB. */
  firebaseMaxRounds: 64,
  firebaseMaxMemCost: 20,
});
