// Validates emulator responses against WorkOS's official OpenAPI spec (`@workos/openapi-spec`), with no
// tolerated exceptions: an answer must match the schema the spec gives its operation and status.
//
// The one thing added to the spec is what it leaves out of every operation but WorkOS answers on every
// route (workos-api.md "Errors", docs/reference/rate-limits), each with an exact shape:
//   401 `{ message, code? }`, 404 `{ message, code? }` (absent entity or route),
//   429 `{ code: 'rate_limit_exceeded', message }`, 500/502/503/504 `{ code, message }`.
// Nothing else falls back: a code the spec does not list for that operation and status (e.g. a top-level
// `external_id_already_used` on create, 409 on create, an OAuth shape where the spec has none) is a violation.
// A record the emulator marks as a deliberate deviation (`deviation`, e.g. the non-default `emailTaken`
// modes that imitate other servers) is not WorkOS's answer and is not checked. No body is valid only where
// the spec's response has no content. Control-plane paths (`/_emulator/`) are skipped.
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
  /** Set by the emulator when this answer departs from WorkOS on purpose (a non-default mode). */
  deviation?: string | null;
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

const MESSAGE_AND_CODE = {
  type: 'object',
  properties: { message: { type: 'string' }, code: { type: 'string' } },
  required: ['message'],
};
/** What every route can answer besides its own responses, by status (see the top of the file). */
const API_WIDE: Record<number, object> = {
  401: MESSAGE_AND_CODE,
  404: MESSAGE_AND_CODE,
  429: {
    type: 'object',
    properties: { code: { const: 'rate_limit_exceeded' }, message: { type: 'string' } },
    required: ['code', 'message'],
  },
  ...Object.fromEntries(
    [500, 502, 503, 504].map((status) => [
      status,
      {
        type: 'object',
        properties: { code: { type: 'string' }, message: { type: 'string' } },
        required: ['code', 'message'],
      },
    ]),
  ),
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
  for (const [status, schema] of Object.entries(API_WIDE)) ajv.addSchema(schema, `api-wide-${status}`);

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
    if (record.deviation) return null;
    const op = findOperation(spec, method, path);
    const label = `${method} ${path} -> ${status}${op ? ` (${op.operationId}, ${op.template})` : ''}`;

    // An API-wide answer of the exact shape is valid on any route, listed or not.
    const apiWide = API_WIDE[status]
      ? validatorFor(spec, `api-wide-${status}`, { $ref: `api-wide-${status}` })
      : null;
    if (apiWide && body !== undefined && apiWide(body)) return null;
    const listed = op ? op.responses[String(status)] : undefined;
    if (apiWide && !isObject(listed)) {
      return body === undefined
        ? `${label}: the response has no body, but the ${status} answer has one`
        : `${label}: not the API-wide ${status} answer: ${formatErrors(spec, apiWide.errors)}`;
    }
    if (!op) return `${label}: no operation in the OpenAPI spec matches this path`;
    const response = listed;
    if (!isObject(response)) return `${label}: the spec defines no ${status} response for this operation`;
    const content = isObject(response.content) ? response.content : undefined;
    const json = content && isObject(content['application/json']) ? content['application/json'] : undefined;
    if (body === undefined) {
      return content ? `${label}: the response has no body, but the spec expects one` : null;
    }
    if (!json || !('schema' in json)) return `${label}: the spec defines no body for this response`;
    const pointer = ['paths', op.template, op.method.toLowerCase(), 'responses', String(status)]
      .map(pointerEscape)
      .join('/');
    const ref = `${SPEC_ID}#/${pointer}/content/application~1json/schema`;
    const validate = validatorFor(spec, ref, { $ref: ref });
    return validate(body) ? null : `${label}: ${formatErrors(spec, validate.errors)}`;
  };
}
