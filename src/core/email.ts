/**
 * The whitespace trimmed from both ends of an email, the same set in JavaScript and in SQL (ASCII
 * space, tab, newline, carriage return, form feed, vertical tab): the dry run, the import, the
 * duplicate checks and the email index all compare exactly the same string.
 */
const EDGE_WHITESPACE = ' \t\n\r\f\v';

/** The email without surrounding whitespace (case kept: that is what WorkOS is sent). */
export function trimEmail(email: string): string {
  let start = 0;
  let end = email.length;
  while (start < end && EDGE_WHITESPACE.includes(email.charAt(start))) start++;
  while (end > start && EDGE_WHITESPACE.includes(email.charAt(end - 1))) end--;
  return email.slice(start, end);
}

/** How emails are compared everywhere: WorkOS treats them case-insensitively; stray whitespace is data-entry noise. */
export function normaliseEmail(email: string): string {
  return trimEmail(email).toLowerCase();
}

/**
 * The SQL every lookup by email compares (`normaliseEmail` on the database side), given a quoted
 * column reference. `install` creates an index on exactly this expression, so the lookup is served.
 */
export function emailLookupSql(column: string): string {
  return `lower(btrim(${column}::text, E' \\t\\n\\r\\f\\v'))`;
}
