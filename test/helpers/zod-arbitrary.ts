import fc from 'fast-check';
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

/**
 * fast-check arbitraries driven by a zod schema (through its JSON Schema, so every schema the docs can show
 * is covered): `shaped` values follow the schema's types, enums, patterns and ranges (so handlers are reached),
 * `malformed` ones are shaped values with one thing broken (a field dropped, retyped or added, the whole value
 * replaced by something nasty), and `payload` mixes both with arbitrary JSON.
 */
export interface SchemaArbitraries {
  shaped: fc.Arbitrary<unknown>;
  malformed: fc.Arbitrary<unknown>;
  payload: fc.Arbitrary<unknown>;
}

/** Values that have broken parsers elsewhere: prototype keys, huge and odd numbers, odd strings, deep nesting. */
export const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    '',
    ' ',
    '\u0000',
    '\ud800',
    '‮evil',
    '💥'.repeat(50),
    'a'.repeat(70_000),
    '__proto__',
    'constructor',
    -1,
    0,
    -0,
    1e308,
    -1e308,
    2 ** 53 + 1,
    0.5,
    '1e400',
    '0x10',
    ' 12 ',
    'NaN',
    'true',
    [],
    {},
    [[[[[[[[[[]]]]]]]]]],
    JSON.parse('{"__proto__":{"polluted":true}}'),
    { constructor: { prototype: { polluted: true } } },
    { toString: 'x', valueOf: 'y', hasOwnProperty: 1 },
  ),
  fc.constant(null).map(() => deepArray(3000)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
);

function deepArray(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const json: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

export function schemaArbitraries(schema: z.ZodType): SchemaArbitraries {
  let root: JsonSchema;
  try {
    root = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  } catch {
    root = {};
  }
  const defs = (root.$defs as Record<string, JsonSchema> | undefined) ?? {};
  const shaped = fromJsonSchema(root, defs, root, 0);
  const malformed = shaped.chain((v) => mutate(v));
  return { shaped, malformed, payload: fc.oneof({ weight: 4, arbitrary: shaped }, { weight: 4, arbitrary: malformed }, { weight: 1, arbitrary: json }, { weight: 1, arbitrary: nasty }) };
}

function mutate(value: unknown): fc.Arbitrary<unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value)) {
    const keys = Object.keys(value);
    const options: fc.Arbitrary<unknown>[] = [
      // An unknown field (schemas are strict: must be a 422, never a crash).
      fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', 'toString'), nasty).map(([k, v]) => Object.defineProperty({ ...value }, k, { value: v, enumerable: true, configurable: true, writable: true })),
      nasty,
    ];
    if (keys.length) {
      options.push(fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(value).filter(([key]) => key !== k))));
      options.push(fc.tuple(fc.constantFrom(...keys), nasty).map(([k, v]) => ({ ...value, [k]: v })));
    }
    return fc.oneof(...options);
  }
  if (Array.isArray(value)) {
    return fc.oneof(nasty, fc.constant([...value, ...value, ...value]), fc.tuple(nasty).map(([v]) => [...value, v]));
  }
  return nasty;
}

function fromJsonSchema(node: JsonSchema, defs: Record<string, JsonSchema>, root: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  const next = (n: unknown) => fromJsonSchema((n as JsonSchema) ?? {}, defs, root, depth + 1);
  if (typeof node.$ref === 'string') {
    const ref = node.$ref;
    const target = ref === '#' ? root : defs[ref.replace('#/$defs/', '')];
    return target ? next(target) : json;
  }
  if ('const' in node) return fc.constant(node.const);
  if (Array.isArray(node.enum)) return fc.constantFrom(...(node.enum as unknown[]));
  const union = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union) && union.length) return fc.oneof(...union.map(next));
  if (Array.isArray(node.allOf) && node.allOf.length) return next(node.allOf[0]);
  const type = Array.isArray(node.type) ? (node.type as string[]) : node.type ? [node.type as string] : [];
  if (type.length > 1) return fc.oneof(...type.map((t) => next({ ...node, type: t })));
  switch (type[0]) {
    case 'string':
      return stringArb(node);
    case 'integer': {
      const min = num(node.minimum) ?? (num(node.exclusiveMinimum) !== undefined ? num(node.exclusiveMinimum)! + 1 : -1000);
      const max = num(node.maximum) ?? (num(node.exclusiveMaximum) !== undefined ? num(node.exclusiveMaximum)! - 1 : Math.max(min, 0) + 1000);
      return fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max: Math.min(Math.max(min, max), Number.MAX_SAFE_INTEGER) });
    }
    case 'number': {
      const min = num(node.minimum) ?? num(node.exclusiveMinimum) ?? -1000;
      const max = num(node.maximum) ?? num(node.exclusiveMaximum) ?? Math.max(min, 0) + 1000;
      return fc.double({ min, max: Math.max(min, max), noNaN: true });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const items = node.prefixItems ? fc.tuple(...(node.prefixItems as unknown[]).map(next)) : null;
      if (items) return items;
      const minLength = num(node.minItems) ?? 0;
      return fc.array(next(node.items ?? {}), { minLength, maxLength: Math.min(num(node.maxItems) ?? minLength + 4, minLength + 4) });
    }
    case 'object': {
      const props = (node.properties as Record<string, JsonSchema> | undefined) ?? {};
      const required = new Set((node.required as string[] | undefined) ?? []);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = next(v);
      const names = Object.keys(props);
      const base = names.length
        ? fc.record(model, { requiredKeys: names.filter((k) => required.has(k)) as never[] })
        : typeof node.additionalProperties === 'object'
          ? fc.dictionary(fc.string({ maxLength: 8 }), next(node.additionalProperties), { maxKeys: 3 })
          : fc.constant({});
      return base;
    }
    default:
      return json;
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function stringArb(node: JsonSchema): fc.Arbitrary<string> {
  const minLength = num(node.minLength) ?? 0;
  const maxLength = Math.min(num(node.maxLength) ?? minLength + 24, minLength + 64);
  switch (node.format) {
    case 'uuid':
      return fc.uuid();
    case 'email':
      return fc.emailAddress();
    case 'uri':
    case 'url':
      return fc.webUrl();
    case 'date-time':
      return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString());
    default:
  }
  if (typeof node.pattern === 'string') {
    try {
      return fc.stringMatching(new RegExp(node.pattern)).filter((s) => s.length <= Math.max(maxLength, 256));
    } catch {
      // a pattern JavaScript cannot compile: fall back to plain strings
    }
  }
  return fc.string({ minLength, maxLength, unit: fc.constantFrom('a', 'b', 'z', '0', '9', '_', '-', ' ', 'é', '/', '%') });
}
