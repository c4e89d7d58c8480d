import { z } from 'zod';
import { statusTitle } from '../../platform/errors.js';
import type { AnyRoute, AuthMode } from './types.js';

type JsonSchema = Record<string, unknown>;

/**
 * Converts zod schemas to JSON Schema (2020-12, what OpenAPI 3.1 and AsyncAPI 3 accept) and collects
 * every `$defs` entry (named `.meta({ id })` schemas and recursive ones) into one shared
 * `components.schemas` map, because a `#/$defs/...` reference means nothing once the schema is
 * embedded inside a larger document.
 */
export class SchemaCollector {
  readonly schemas: Record<string, JsonSchema> = {};
  private anonymous = 0;

  /** `io: 'input'` documents what a client must send (before defaults and transforms). */
  convert(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
    // Types JSON Schema cannot express (dates, Buffers, custom) become `{}` instead of throwing, so one
    // odd field never takes the whole document down.
    const raw = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
    const { $schema: _drop, $defs, ...root } = raw;
    const renames = new Map<string, string>();
    for (const name of Object.keys(($defs as Record<string, JsonSchema> | undefined) ?? {})) {
      renames.set(name, name.startsWith('__schema') ? `Schema${++this.anonymous}` : this.uniqueName(name, ($defs as Record<string, JsonSchema>)[name]!));
    }
    let selfName: string | null = null;
    const rewrite = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(rewrite);
      if (!node || typeof node !== 'object') return node;
      const out: JsonSchema = {};
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string') {
          if (value === '#') {
            selfName ??= `Schema${++this.anonymous}`;
            out[key] = `#/components/schemas/${selfName}`;
          } else if (value.startsWith('#/$defs/')) {
            out[key] = `#/components/schemas/${renames.get(value.slice('#/$defs/'.length)) ?? value.slice('#/$defs/'.length)}`;
          } else {
            out[key] = value;
          }
        } else {
          out[key] = rewrite(value);
        }
      }
      return out;
    };
    for (const [name, def] of Object.entries(($defs as Record<string, JsonSchema> | undefined) ?? {})) {
      this.schemas[renames.get(name)!] = rewrite(def) as JsonSchema;
    }
    const result = rewrite(root) as JsonSchema;
    if (selfName) {
      this.schemas[selfName] = result;
      return { $ref: `#/components/schemas/${selfName}` };
    }
    return result;
  }

  private uniqueName(name: string, def: JsonSchema): string {
    const existing = this.schemas[name];
    // The same `.meta({ id })` schema used by many routes is collected once; a clash gets a suffix.
    if (!existing || JSON.stringify(existing) === JSON.stringify(def)) return name;
    let n = 2;
    while (this.schemas[`${name}${n}`]) n++;
    return `${name}${n}`;
  }
}

/** RFC 9457 problem details as `toProblem` (src/platform/errors.ts) writes them. */
export const ProblemSchema = z
  .object({
    type: z.string().describe('URI naming the problem type'),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string().describe('Stable machine-readable error code'),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('Field errors (validation)'),
  })
  .describe('RFC 9457 problem details');

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

const AUTH_TEXT: Record<AuthMode, string> = {
  none: 'No token needed',
  optional: 'Bearer token optional',
  actor: 'Bearer token of a user or guest',
  user: 'Bearer token of a signed-in user',
  admin: 'Bearer token of an admin',
  worker: 'Bearer token of a GPU worker',
};

/** `/api/v1/images/:id` → `/api/v1/images/{id}` */
export function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function operationId(route: AnyRoute): string {
  const words = route.path
    .split('/')
    .filter((s) => s && s !== 'api' && s !== 'v1')
    .map((s) => (s.startsWith(':') ? `by_${s.slice(1)}` : s))
    .join('_');
  const camel = `${route.method.toLowerCase()}_${words || 'root'}`.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''));
  return camel;
}

function parameters(collector: SchemaCollector, route: AnyRoute): JsonSchema[] {
  const out: JsonSchema[] = [];
  const pathNames = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const pathSchema = route.params ? collector.convert(route.params) : null;
  const pathProps = (pathSchema?.properties ?? {}) as Record<string, JsonSchema>;
  for (const name of pathNames) out.push({ name, in: 'path', required: true, schema: pathProps[name] ?? { type: 'string' } });
  if (route.query) {
    const query = collector.convert(route.query);
    const required = new Set((query.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((query.properties ?? {}) as Record<string, JsonSchema>)) {
      const { description, ...rest } = schema;
      out.push({ name, in: 'query', required: required.has(name), schema: rest, ...(description ? { description } : {}) });
    }
  }
  return out;
}

function requestBody(collector: SchemaCollector, route: AnyRoute): JsonSchema | undefined {
  const kind = route.bodyKind ?? (route.body ? 'json' : 'none');
  if (kind === 'none') return undefined;
  const schema = route.body ? collector.convert(route.body) : { type: 'object' };
  if (kind === 'stream') {
    // Streamed bodies are uploads parsed by busboy; a body schema, when given, documents the form fields.
    const form = route.body ? schema : { type: 'object', properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } } };
    return { required: true, content: { 'multipart/form-data': { schema: form } } };
  }
  const content: JsonSchema = { 'application/json': { schema } };
  if (kind === 'form-or-json') content['application/x-www-form-urlencoded'] = { schema };
  return { required: true, content };
}

const SUCCESS: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content', 304: 'Not Modified' };

const problemRef = { $ref: '#/components/schemas/Problem' };

function problemResponse(status: number, why: string): JsonSchema {
  return { description: `${statusTitle(status)}: ${why}`, content: { 'application/problem+json': { schema: problemRef } } };
}

function responses(collector: SchemaCollector, route: AnyRoute): JsonSchema {
  const out: Record<string, JsonSchema> = {};
  for (const [status, schema] of Object.entries(route.responses ?? {})) {
    const code = Number(status);
    if (code >= 400) {
      out[status] = problemResponse(code, 'see detail and code');
    } else if (schema) {
      out[status] = { description: SUCCESS[code] ?? 'Success', content: { 'application/json': { schema: collector.convert(schema, 'output') } } };
    } else {
      out[status] = { description: SUCCESS[code] ?? 'Success' };
    }
  }
  if (!Object.keys(out).some((s) => Number(s) < 400)) out['200'] = { description: 'Success' };
  const bodyKind = route.bodyKind ?? (route.body ? 'json' : 'none');
  if (route.query || route.params || bodyKind !== 'none') {
    out['400'] ??= problemResponse(400, 'malformed request');
    out['422'] ??= problemResponse(422, 'validation failed; `errors` lists every bad field');
  }
  if (bodyKind !== 'none') out['413'] ??= problemResponse(413, 'body too large');
  if (bodyKind === 'json' || bodyKind === 'form-or-json') out['415'] ??= problemResponse(415, 'unsupported content-type');
  if (route.auth !== 'none') out['401'] ??= problemResponse(401, 'missing, malformed or expired token');
  if (route.auth !== 'none' && route.auth !== 'optional') out['403'] ??= problemResponse(403, `this route needs: ${AUTH_TEXT[route.auth as AuthMode]}`);
  if (route.rateLimit) out['429'] ??= problemResponse(429, 'rate limited; see retry-after');
  out.default = problemResponse(500, 'any other error');
  return out;
}

/** OpenAPI 3.1 document for every route in the router, schemas generated from the routes' zod schemas. */
export function buildOpenApi(routes: readonly AnyRoute[], info: OpenApiInfo): JsonSchema {
  const collector = new SchemaCollector();
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const route of routes) {
    route.tags.forEach((t: string) => tags.add(t));
    const auth = route.auth as AuthMode;
    const op: JsonSchema = {
      operationId: operationId(route),
      summary: route.summary,
      tags: route.tags,
      'x-auth': auth,
      description: AUTH_TEXT[auth],
    };
    if (auth === 'optional') op.security = [{}, { bearer: [] }];
    else if (auth !== 'none') op.security = [{ bearer: [] }];
    else op.security = [];
    const params = parameters(collector, route);
    if (params.length) op.parameters = params;
    const body = requestBody(collector, route);
    if (body) op.requestBody = body;
    op.responses = responses(collector, route);
    if (route.rateLimit) op['x-rate-limit'] = route.rateLimit.name;
    (paths[toOpenApiPath(route.path)] ??= {})[route.method.toLowerCase()] = op;
  }
  collector.schemas.Problem = collector.convert(ProblemSchema, 'output');
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas: collector.schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access, guest or worker token from /api/v1/auth/* or `npm run token:worker`' },
      },
    },
  };
}
