/** How emails are compared everywhere: WorkOS treats them case-insensitively; stray spaces are data-entry noise. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The SQL every lookup by email compares (`normaliseEmail` on the database side), given a quoted
 * column reference. `install` creates an index on exactly this expression, so the lookup is served.
 */
export function emailLookupSql(column: string): string {
  return `lower(trim(${column}::text))`;
}
