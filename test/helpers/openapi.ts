// Validates emulator responses against WorkOS's official OpenAPI spec (`@workos/openapi-spec`).
//
// The spec is the reference, but it is incomplete, so a few documented fallbacks apply (the real shapes are
// recorded in /work/shared/workos-api.md):
// 1. A 4xx/5xx status the spec does not list for the operation (it omits 401, 409, most 429s, all 5xx, ...)
//    is checked against the generic WorkOS error shape `{ message: string, code?: string, errors?: [...] }`,
//    or, on authenticate only, the OAuth shape `{ error: string, error_description: string }`.
// 2. A 4xx/5xx status the spec does list, whose body carries a `code` (or OAuth `error`) that the spec's schema
//    does not enumerate (e.g. 400 `external_id_already_used` / `email_not_available` on create, 429
//    `rate_limit_exceeded` on password reset, where the spec only lists `daily_quota_exceeded`), is checked
//    against the same generic shape instead of failing the spec's `oneOf`/`const`.
// 3. No body (`undefined`) is valid when the spec's response has no content, or for 200/202/204 on DELETE.
// Success bodies and errors with enumerated codes get no leniency. Control-plane paths (`/_emulator/`) are skipped.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

export interface ResponseRecord {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

type Json = Record<string, unknown>;

interface Operation {
  template: string;
  segments: string[];
  method: string;
  operationId: string;
  responses: Json;
}

interface Spec {
  document: Json;
  ajv: Ajv2020;
  operations: Operation[];
  compiled: Map<string, ValidateFunction>;
  /** Built on first need, to name a `oneOf` branch: only for error messages. */
  pointers?: Map<object, string>;
}

const SPEC_ID = 'workos-spec';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

const GENERIC_ERROR = {
  type: 'object',
  properties: {
    message: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: { type: 'object' } },
  },
  required: ['message'],
};
const OAUTH_ERROR = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
  required: ['error', 'error_description'],
};

let cached: Spec | undefined;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function loadSpec(): Spec {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const document = parse(readFileSync(require.resolve('@workos/openapi-spec/spec'), 'utf8')) as Json;
  // strict: false tolerates OpenAPI's `example`, `x-*`, `discriminator`, `deprecated`, ...
  const ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true, logger: false });
  addFormats.default(ajv);
  // Registered whole, so the spec's own `#/components/schemas/...` refs resolve inside it.
  ajv.addSchema(document, SPEC_ID);
  ajv.addSchema(GENERIC_ERROR, 'generic-error');
  ajv.addSchema(OAUTH_ERROR, 'oauth-error');

  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths as Json)) {
    if (!isObject(item)) continue;
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!isObject(op) || !isObject(op.responses)) continue;
      operations.push({
        template,
        segments: template.split('/'),
        method: method.toUpperCase(),
        operationId: typeof op.operationId === 'string' ? op.operationId : `${method} ${template}`,
        responses: op.responses,
      });
    }
  }
  cached = { document, ajv, operations, compiled: new Map() };
  return cached;
}

function pointerEscape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** 1 for a literal segment, 0 for a `{param}`; -1 when the segment does not match. */
function segmentScore(templateSegment: string, segment: string): number {
  if (/^\{[^}]+\}$/.test(templateSegment)) return segment.length > 0 ? 0 : -1;
  return templateSegment === segment ? 1 : -1;
}

/** The operation whose template matches, preferring literal segments over parameters, leftmost first. */
function findOperation(spec: Spec, method: string, path: string): Operation | undefined {
  const segments = path.split('/');
  let best: { op: Operation; scores: number[] } | undefined;
  for (const op of spec.operations) {
    if (op.method !== method || op.segments.length !== segments.length) continue;
    const scores = op.segments.map((t, i) => segmentScore(t, segments[i] ?? ''));
    if (scores.includes(-1)) continue;
    if (!best || isPreferred(scores, best.scores)) best = { op, scores };
  }
  return best?.op;
}

function isPreferred(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return false;
}

function validatorFor(spec: Spec, key: string, schema: object): ValidateFunction {
  let validate = spec.compiled.get(key);
  if (!validate) {
    validate = spec.ajv.compile(schema);
    spec.compiled.set(key, validate);
  }
  return validate;
}

/** The `const` values of `properties[prop]` anywhere in a response schema (its oneOf/allOf branches). */
function enumeratedConsts(schema: unknown, prop: string, into = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) {
    for (const item of schema) enumeratedConsts(item, prop, into);
  } else if (isObject(schema)) {
    const properties = schema.properties;
    if (isObject(properties) && isObject(properties[prop]) && typeof properties[prop].const === 'string') {
      into.add(properties[prop].const);
    }
    for (const keyword of ['oneOf', 'anyOf', 'allOf']) enumeratedConsts(schema[keyword], prop, into);
  }
  return into;
}

function formatErrors(spec: Spec, errors: ErrorObject[] | null | undefined, prefix = '', depth = 0): string {
  const list = errors ?? [];
  // A failed `oneOf` (e.g. the 93 event types) reports every branch; when the data's `const` properties
  // select exactly one branch, report only that branch's errors.
  const oneOf = list.find((e) => e.keyword === 'oneOf' && Array.isArray(e.schema));
  const branch = oneOf && depth < 4 ? selectBranch(spec, oneOf) : undefined;
  if (oneOf && branch) {
    const validate = validatorFor(spec, branch, { $ref: branch });
    if (!validate(oneOf.data))
      return formatErrors(spec, validate.errors, prefix + oneOf.instancePath, depth + 1);
  }
  // Otherwise lead with the oneOf failure itself: its branches' errors are mostly noise.
  const ordered = oneOf ? [oneOf, ...list.filter((e) => e !== oneOf)] : list;
  const shown = ordered
    .slice(0, 8)
    .map((e) => `${prefix}${e.instancePath || '/'} ${e.message ?? e.keyword}${params(e)}`);
  if (list.length > shown.length) shown.push(`... and ${list.length - shown.length} more`);
  return shown.join('; ');
}

function params(error: ErrorObject): string {
  const p = error.params as Json;
  if (error.keyword === 'const' && 'allowedValue' in p) return ` (${JSON.stringify(p.allowedValue)})`;
  if (error.keyword === 'additionalProperties') return ` (${String(p.additionalProperty)})`;
  return '';
}

/** The ref of the only `oneOf` branch whose `const` properties all equal the data's, if exactly one does. */
function selectBranch(spec: Spec, error: ErrorObject): string | undefined {
  const data = error.data;
  if (!isObject(data)) return undefined;
  const matching = (error.schema as unknown[]).flatMap((branch, index) => {
    const properties = isObject(branch) && isObject(branch.properties) ? branch.properties : {};
    const consts = Object.entries(properties).filter(([, s]) => isObject(s) && 'const' in s);
    const selected = consts.length > 0 && consts.every(([key, s]) => isObject(s) && data[key] === s.const);
    return selected ? [index] : [];
  });
  const pointer = pointerOf(spec, error.schema as object);
  return matching.length === 1 && pointer !== undefined ? `${SPEC_ID}#${pointer}/${matching[0]}` : undefined;
}

/** The JSON pointer of a node of the spec document, found by identity (ajv hands out the original objects). */
function pointerOf(spec: Spec, node: object): string | undefined {
  if (!spec.pointers) {
    spec.pointers = new Map();
    const walk = (value: unknown, pointer: string) => {
      if (typeof value !== 'object' || value === null || spec.pointers?.has(value)) return;
      spec.pointers?.set(value, pointer);
      for (const [key, child] of Object.entries(value)) walk(child, `${pointer}/${pointerEscape(key)}`);
    };
    walk(spec.document, '');
  }
  return spec.pointers.get(node);
}

export function createResponseValidator(): (record: ResponseRecord) => string | null {
  const spec = loadSpec();
  return (record) => {
    const { path, status, body } = record;
    const method = record.method.toUpperCase();
    if (path.startsWith('/_emulator/') || path === '/_emulator') return null;
    const op = findOperation(spec, method, path);
    const label = `${method} ${path} -> ${status}${op ? ` (${op.operationId}, ${op.template})` : ''}`;
    const isError = status >= 400;

    if (!op && !isError) return `${label}: no operation in the OpenAPI spec matches this path`;
    const response = op ? op.responses[String(status)] : undefined;
    const content = isObject(response) && isObject(response.content) ? response.content : undefined;
    const json = content && isObject(content['application/json']) ? content['application/json'] : undefined;

    if (body === undefined) {
      const emptyAllowed =
        (isObject(response) && !content) || (method === 'DELETE' && [200, 202, 204].includes(status));
      return emptyAllowed ? null : `${label}: the response has no body, but the spec expects one`;
    }

    if (op && json && 'schema' in json) {
      const schema = json.schema;
      const useGeneric = isError && isObject(body) && hasUnlistedCode(schema, body);
      if (!useGeneric) {
        const pointer = ['paths', op.template, op.method.toLowerCase(), 'responses', String(status)]
          .map(pointerEscape)
          .join('/');
        const ref = `${SPEC_ID}#/${pointer}/content/application~1json/schema`;
        const validate = validatorFor(spec, ref, { $ref: ref });
        return validate(body) ? null : `${label}: ${formatErrors(spec, validate.errors)}`;
      }
    } else if (isObject(response)) {
      // The spec lists this status without JSON content: a body is unexpected, unless it is an error.
      if (!isError) return `${label}: the spec defines no body for this response`;
    } else if (!isError) {
      return `${label}: the spec defines no ${status} response for this operation`;
    }

    // Fallback error shapes (see the comment at the top of the file).
    const generic = validatorFor(spec, 'generic-error', { $ref: 'generic-error' });
    if (generic(body)) return null;
    if (op?.template === '/user_management/authenticate') {
      const oauth = validatorFor(spec, 'oauth-error', { $ref: 'oauth-error' });
      if (oauth(body)) return null;
    }
    return `${label}: not a WorkOS error body (generic fallback): ${formatErrors(spec, generic.errors)}`;
  };
}

/** True when the body's `code`/`error` is a string the spec's schema does not enumerate (but enumerates others). */
function hasUnlistedCode(schema: unknown, body: Json): boolean {
  for (const prop of ['code', 'error']) {
    const value = body[prop];
    if (typeof value !== 'string') continue;
    const listed = enumeratedConsts(schema, prop);
    if (listed.size > 0 && !listed.has(value)) return true;
  }
  return false;
}
