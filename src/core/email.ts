/** How emails are compared everywhere: WorkOS treats them case-insensitively; stray spaces are data-entry noise. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
