import type { ApiContext, ApiRequest } from './context.js';
import { type ApiResult, invalidParameters } from './http.js';
import type { StoredEvent } from './store.js';
import { cursorsFor, listParams } from './users-api.js';

function parseInstant(value: string | null, field: string): number | undefined {
  if (value === null || value === '') return undefined;
  const instant = Date.parse(value);
  if (Number.isNaN(instant)) {
    throw invalidParameters(`${field} must be an ISO-8601 timestamp.`, [{ code: 'invalid_value', field }]);
  }
  return instant;
}

export async function listEvents(ctx: ApiContext, req: ApiRequest): Promise<ApiResult> {
  const params = listParams(req.query);
  // `events` is a comma-separated list (OpenAPI form style, explode: false).
  const types = (req.query.get('events') ?? '')
    .split(',')
    .map((type) => type.trim())
    .filter(Boolean);
  const rangeStart = parseInstant(req.query.get('range_start'), 'range_start');
  const rangeEnd = parseInstant(req.query.get('range_end'), 'range_end');
  const filtered = types.length > 0 || rangeStart !== undefined || rangeEnd !== undefined;
  const filter = (event: StoredEvent): boolean => {
    if (types.length > 0 && !types.includes(event.event)) return false;
    const at = Date.parse(event.created_at);
    if (rangeStart !== undefined && at < rangeStart) return false;
    if (rangeEnd !== undefined && at > rangeEnd) return false;
    return true;
  };
  const page = ctx.store.eventsPage(cursorsFor(params), filtered ? filter : undefined);
  const last = page.items[page.items.length - 1];
  // Event lists carry only `after`: the cursor to poll from next, kept even at the end of the list.
  return {
    status: 200,
    body: { object: 'list', data: page.items, list_metadata: { after: last ? last.id : null } },
  };
}
