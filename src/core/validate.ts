import { trimEmail } from './email.js';

/** RFC 5321's limit on an address in a mail path; longer ones are not deliverable. */
export const EMAIL_MAX_LENGTH = 254;
/** WorkOS's limit on `external_id`. */
export const EXTERNAL_ID_MAX_LENGTH = 64;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export type LocalUserProblem = 'missing_email' | 'invalid_email' | 'external_id_too_long';

/**
 * The one check of a local user before it goes to WorkOS, used by the import (the reconciler
 * dead-letters with `reason`) and by the dry run (which counts the same reasons), so the dry run
 * predicts exactly what the import refuses. Answers the email to send (trimmed) or the first problem.
 */
export function checkLocalUser(
  user: { id: string; email: string | null },
  externalIdPrefix: string,
): { ok: true; email: string } | { ok: false; reason: LocalUserProblem; message: string } {
  const email = trimEmail(user.email ?? '');
  if (!email) {
    return {
      ok: false,
      reason: 'missing_email',
      message: `local user ${user.id} has no email; add one, then run retry`,
    };
  }
  if (email.length > EMAIL_MAX_LENGTH || !EMAIL_PATTERN.test(email)) {
    return {
      ok: false,
      reason: 'invalid_email',
      message: `local user ${user.id} has an email WorkOS will not accept${email.length > EMAIL_MAX_LENGTH ? ` (longer than ${EMAIL_MAX_LENGTH} characters)` : ''}; fix it, then run retry`,
    };
  }
  if (externalIdPrefix.length + user.id.length > EXTERNAL_ID_MAX_LENGTH) {
    return {
      ok: false,
      reason: 'external_id_too_long',
      message: `external_id for local user ${user.id} is longer than ${EXTERNAL_ID_MAX_LENGTH} characters; shorten externalIdPrefix`,
    };
  }
  return { ok: true, email };
}
