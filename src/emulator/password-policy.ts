import type { PasswordPolicyOptions } from './options.js';

// A short sample of the passwords every breach list starts with; enough to rehearse the
// `password_strength_error` path a weak legacy password takes when it is moved at login.
const COMMON_PASSWORDS = [
  'password',
  'password1',
  'password123',
  '12345678',
  '123456789',
  '1234567890',
  'qwerty123',
  'qwertyuiop',
  'iloveyou',
  'letmein1',
  'welcome1',
  'admin123',
  'abc12345',
  'football',
  'baseball',
  'sunshine',
  'princess',
  'trustno1',
];

export interface PasswordPolicy {
  minLength: number;
  common: Set<string>;
}

export function resolvePasswordPolicy(options: PasswordPolicyOptions = {}): PasswordPolicy {
  const minLength = options.minLength ?? 8;
  if (!Number.isInteger(minLength) || minLength < 1) {
    throw new TypeError('passwordPolicy.minLength must be a positive integer');
  }
  return {
    minLength,
    common: new Set((options.commonPasswords ?? COMMON_PASSWORDS).map((value) => value.toLowerCase())),
  };
}

/** The reasons a plaintext password is refused, in the `errors[]` shape of `password_strength_error`. */
export function passwordWeaknesses(
  policy: PasswordPolicy,
  password: string,
): { code: string; message: string }[] {
  const problems: { code: string; message: string }[] = [];
  if (password.length < policy.minLength) {
    problems.push({
      code: 'password_too_short',
      message: `Password must be at least ${policy.minLength} characters.`,
    });
  }
  if (policy.common.has(password.toLowerCase())) {
    problems.push({ code: 'password_too_common', message: 'Password is too common.' });
  }
  return problems;
}
