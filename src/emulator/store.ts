import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { newId } from './ids.js';
import type { StoredPassword } from './passwords.js';
import type { WireUser } from './types.js';

export interface StoredUser {
  wire: WireUser;
  password: StoredPassword | null;
  organizationIds: string[];
}

/** What a successful sign-in's `authentication.*_succeeded` event carries (the spec's payload). */
export interface AuthenticationEventData {
  type: 'password' | 'oauth';
  status: 'succeeded';
  ip_address: string | null;
  user_agent: string | null;
  user_id: string;
  email: string;
}

export type StoredEvent = {
  object: 'event';
  id: string;
  created_at: string;
  context: Record<string, never>;
} & (
  | { event: 'user.created' | 'user.updated' | 'user.deleted'; data: WireUser }
  | {
      event: 'authentication.password_succeeded' | 'authentication.oauth_succeeded';
      data: AuthenticationEventData;
    }
);

export interface StoredPasswordReset {
  id: string;
  userId: string;
  email: string;
  /** sha256 of the token: the token itself is returned once and never kept. */
  tokenDigest: string;
  expiresAt: number;
  createdAt: string;
  used: boolean;
}

interface Snapshot {
  version: 1;
  users: StoredUser[];
  events: StoredEvent[];
  resets: StoredPasswordReset[];
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function digestToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Index of the first element whose id is >= `id` (or > `id` when `strict`), in an ascending array. */
function lowerBound<T>(sorted: readonly T[], idOf: (item: T) => string, id: string, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const value = idOf(sorted[mid] as T);
    if (value < id || (strict && value === id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const identity = (id: string): string => id;

export interface PageParams {
  ascending: boolean;
  limit: number;
  /** Continue in display order after this id. */
  forwardFrom?: string | undefined;
  /** Go back towards the start of the display order, before this id. */
  backwardFrom?: string | undefined;
}

export interface Page<T> {
  items: T[];
  hasBefore: boolean;
  hasAfter: boolean;
}

/**
 * One page of an ascending array, shown ascending or descending. Cursors are located by
 * comparison, so a cursor whose object was deleted still works. No copy of the whole array.
 */
export function pageOf<T>(ascending: readonly T[], idOf: (item: T) => string, params: PageParams): Page<T> {
  const n = ascending.length;
  // Display position of the first element strictly after / at-or-after a cursor.
  const after = (cursor: string): number =>
    params.ascending
      ? lowerBound(ascending, idOf, cursor, true)
      : n - lowerBound(ascending, idOf, cursor, false);
  const atOrAfter = (cursor: string): number =>
    params.ascending
      ? lowerBound(ascending, idOf, cursor, false)
      : n - lowerBound(ascending, idOf, cursor, true);
  let start = 0;
  let end = Math.min(n, params.limit);
  if (params.forwardFrom !== undefined) {
    start = after(params.forwardFrom);
    end = Math.min(n, start + params.limit);
  } else if (params.backwardFrom !== undefined) {
    end = atOrAfter(params.backwardFrom);
    start = Math.max(0, end - params.limit);
  }
  const items = params.ascending
    ? ascending.slice(start, end)
    : ascending.slice(n - end, n - start).reverse();
  return { items, hasBefore: start > 0, hasAfter: end < n };
}

/**
 * The emulator's state. Ids are monotonic ULIDs, so ascending id order is creation order and
 * cursors can be located by comparison even after the cursor's own object was deleted.
 */
export class EmulatorStore {
  private readonly users = new Map<string, StoredUser>();
  private sortedIds: string[] = [];
  private readonly byEmail = new Map<string, string>();
  private readonly byExternalId = new Map<string, string>();
  private events: StoredEvent[] = [];
  private readonly resets = new Map<string, StoredPasswordReset>();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: { recordEvents: boolean; dataFile?: string | undefined }) {
    if (options.dataFile) this.load(options.dataFile);
  }

  get size(): number {
    return this.users.size;
  }

  get(id: string): StoredUser | undefined {
    return this.users.get(id);
  }

  getByEmail(email: string): StoredUser | undefined {
    const id = this.byEmail.get(normaliseEmail(email));
    return id === undefined ? undefined : this.users.get(id);
  }

  getByExternalId(externalId: string): StoredUser | undefined {
    const id = this.byExternalId.get(externalId);
    return id === undefined ? undefined : this.users.get(id);
  }

  all(): StoredUser[] {
    return this.sortedIds.map((id) => this.users.get(id) as StoredUser);
  }

  knowsOrganization(organizationId: string): boolean {
    for (const user of this.users.values()) if (user.organizationIds.includes(organizationId)) return true;
    return false;
  }

  insert(user: StoredUser): void {
    this.users.set(user.wire.id, user);
    const last = this.sortedIds[this.sortedIds.length - 1];
    if (last === undefined || last < user.wire.id) this.sortedIds.push(user.wire.id);
    else this.sortedIds.splice(lowerBound(this.sortedIds, identity, user.wire.id, false), 0, user.wire.id);
    this.index(user.wire);
    this.recordEvent('user.created', user.wire);
  }

  /** Replaces a user's wire object; the caller has checked uniqueness of the new email / external id. */
  replace(user: StoredUser, next: WireUser, event = true): void {
    this.unindex(user.wire);
    user.wire = next;
    this.index(next);
    if (event) this.recordEvent('user.updated', next);
    else this.changed();
  }

  setPassword(user: StoredUser, password: StoredPassword | null): void {
    user.password = password;
    this.changed();
  }

  remove(user: StoredUser): void {
    this.users.delete(user.wire.id);
    const at = lowerBound(this.sortedIds, identity, user.wire.id, false);
    if (this.sortedIds[at] === user.wire.id) this.sortedIds.splice(at, 1);
    this.unindex(user.wire);
    for (const [id, reset] of this.resets) if (reset.userId === user.wire.id) this.resets.delete(id);
    this.recordEvent('user.deleted', user.wire);
  }

  /**
   * A page of users in display order. `forward` continues in display order from the cursor,
   * `backward` goes back towards the start. Answers the page and whether objects exist on
   * either side of it.
   */
  /** A page of all users, or of `candidates` (ascending by id) when a filter chose them. */
  page(params: PageParams, candidates?: StoredUser[]): Page<StoredUser> {
    if (!candidates) {
      const page = pageOf(this.sortedIds, identity, params);
      return { ...page, items: page.items.map((id) => this.users.get(id) as StoredUser) };
    }
    return pageOf(candidates, (user) => user.wire.id, params);
  }

  eventsPage(params: PageParams, filter?: (event: StoredEvent) => boolean): Page<StoredEvent> {
    // Events are appended in id order, so the array itself is ascending.
    return pageOf(filter ? this.events.filter(filter) : this.events, (event) => event.id, params);
  }

  addReset(reset: StoredPasswordReset): void {
    this.resets.set(reset.id, reset);
    this.changed();
  }

  findResetByToken(token: string): StoredPasswordReset | undefined {
    const digest = digestToken(token);
    for (const reset of this.resets.values()) if (reset.tokenDigest === digest) return reset;
    return undefined;
  }

  getReset(id: string): StoredPasswordReset | undefined {
    return this.resets.get(id);
  }

  markResetUsed(reset: StoredPasswordReset): void {
    reset.used = true;
    this.changed();
  }

  clear(): void {
    this.users.clear();
    this.sortedIds = [];
    this.byEmail.clear();
    this.byExternalId.clear();
    this.events = [];
    this.resets.clear();
    this.changed();
  }

  /** Writes pending state now (used on close). */
  flush(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    if (this.options.dataFile) this.save(this.options.dataFile);
  }

  private index(wire: WireUser): void {
    this.byEmail.set(normaliseEmail(wire.email), wire.id);
    if (wire.external_id !== null) this.byExternalId.set(wire.external_id, wire.id);
  }

  private unindex(wire: WireUser): void {
    const email = normaliseEmail(wire.email);
    if (this.byEmail.get(email) === wire.id) this.byEmail.delete(email);
    if (wire.external_id !== null && this.byExternalId.get(wire.external_id) === wire.id) {
      this.byExternalId.delete(wire.external_id);
    }
  }

  private recordEvent(event: 'user.created' | 'user.updated' | 'user.deleted', data: WireUser): void {
    this.push({ event, data: structuredClone(data) });
  }

  /** A successful sign-in, as WorkOS records it in its events. */
  recordAuthentication(data: AuthenticationEventData): void {
    const event =
      data.type === 'password' ? 'authentication.password_succeeded' : 'authentication.oauth_succeeded';
    this.push({ event, data });
  }

  private push(event: Pick<StoredEvent, 'event' | 'data'>): void {
    if (this.options.recordEvents) {
      this.events.push({
        object: 'event',
        id: newId('event'),
        created_at: new Date().toISOString(),
        context: {},
        ...event,
      } as StoredEvent);
    }
    this.changed();
  }

  private changed(): void {
    const file = this.options.dataFile;
    if (!file || this.saveTimer) return;
    // Coalesce bursts of writes into one file write.
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save(file);
    }, 100);
    this.saveTimer.unref();
  }

  private save(file: string): void {
    const snapshot: Snapshot = {
      version: 1,
      users: this.all(),
      events: this.events,
      resets: [...this.resets.values()],
    };
    const temporary = `${file}.${process.pid}.tmp`;
    // Mode 0600: the file holds imported password hashes.
    writeFileSync(temporary, JSON.stringify(snapshot), { mode: 0o600 });
    renameSync(temporary, file);
  }

  private load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const snapshot = JSON.parse(text) as Snapshot;
    if (snapshot.version !== 1) throw new Error(`emulator data file ${file} has an unknown version`);
    for (const user of snapshot.users) {
      this.users.set(user.wire.id, user);
      this.index(user.wire);
    }
    this.sortedIds = [...this.users.keys()].sort();
    this.events = snapshot.events;
    for (const reset of snapshot.resets) this.resets.set(reset.id, reset);
  }
}
