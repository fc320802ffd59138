import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  getNamedType,
  Kind,
  parse,
  print,
  typeFromAST,
  visit,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  type DefinitionNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

/**
 * Random GraphQL requests built from the committed schema (schema/schema.graphql): random
 * fields with arguments of the right and the wrong types, aliases, fragments (nested,
 * duplicated, cyclic, chains of fragments spreading the next twice), inline fragments,
 * variables with declared types and values of the right and wrong types, @skip/@include,
 * deep introspection, queries, mutations and subscriptions. Every choice is drawn from
 * fast-check's `gen()`, so a failing request shrinks towards a smaller one: each choice
 * shrinks to its first, simplest alternative, and every optional feature shrinks to "off".
 */

export const SCHEMA: GraphQLSchema = buildSchema(
  readFileSync(path.join(__dirname, '../../schema/schema.graphql'), 'utf8'),
);

/** Values that exist on the server under test, so some requests reach real rows. */
export interface KnownValues {
  userIds: string[];
  /** Ids of orders, transactions, reservations, webhook events, subscriptions. */
  ids: string[];
  productIds: string[];
  /** Page cursors the server handed out. */
  cursors: string[];
  idempotencyKeys: string[];
}

export interface DocumentOptions {
  /** Deepest selection the generator nests (the server's limits are 12 data, 15 introspection). */
  maxDepth: number;
  /** Most fields in one document, fragments included. */
  maxFields: number;
  /** Longest chain of fragments each spreading the next twice. */
  maxFragmentChain: number;
}

export interface GeneratedRequest {
  query: string;
  /** Usually an object; sometimes not (a list, a string, null). */
  variables: unknown;
  /** Absent, the right one, a wrong one, or not a string. */
  operationName?: unknown;
  /** The operation kind the generator aimed at (the document may be invalid). */
  kind: 'query' | 'mutation' | 'subscription';
}

// ---------------------------------------------------------------------------------------
// Choices

/** Random choices that shrink towards "first alternative" and "feature off". */
export interface Choice {
  int(min: number, max: number): number;
  /** True with probability `percent`/100; shrinks to false. */
  chance(percent: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Any Unicode text (lone surrogates, control characters and all). */
  text(maxLength: number): string;
  /** One of `items`, each as likely as its weight. */
  weighted<T>(items: readonly T[], weight: (item: T) => number): T;
}

export function choiceFrom(g: fc.GeneratorValue): Choice {
  return {
    int: (min, max) => g(fc.integer, { min, max }),
    // Unbiased: fast-check favours the ends of a range, which would make a 5 % mistake a
    // 30 % one. Picks and integers keep the bias: their ends are the edge cases.
    chance: (percent) =>
      g(() => fc.noBias(fc.integer({ min: 0, max: 999 }))) >= 1000 - percent * 10,
    pick: (items) => items[g(fc.integer, { min: 0, max: items.length - 1 })]!,
    text: (maxLength) =>
      g(() => fc.oneof(fc.string({ maxLength }), fc.string({ unit: 'binary', maxLength }))),
    weighted: (items, weight) => {
      const weights = items.map(weight);
      const total = weights.reduce((a, b) => a + b, 0);
      let at = g(() => fc.noBias(fc.integer({ min: 0, max: total - 1 })));
      for (let i = 0; i < items.length; i++) {
        at -= weights[i]!;
        if (at < 0) return items[i]!;
      }
      return items[items.length - 1]!;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Scalar values

/** Strings that have broken parsers, databases and loggers before. */
export const NASTY_STRINGS: readonly string[] = [
  'fuzz',
  '',
  ' ',
  ' padded ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '💸💸',
  'Ω≈ç√∫',
  '\u202eevil',
  '\r\n\t',
  '"',
  '\\',
  "'; DROP TABLE orders; --",
  '%s%n%x%d',
  '${7*7}{{7*7}}',
  '__proto__',
  'constructor',
  'toString',
  'null',
  'undefined',
  'NaN',
  '-0',
  '0',
  '1e309',
  '9'.repeat(19),
  '9'.repeat(40),
  'x'.repeat(255),
  'x'.repeat(256),
  'x'.repeat(501),
  'é'.repeat(300),
  '<script>alert(1)</script>',
  '../../etc/passwd',
];

const INT32_EDGES = [0, 1, -1, 2147483647, -2147483648];
const INT_HINTS: Record<string, readonly number[]> = {
  first: [1, 20, 0, 100, 101, -1, 1000],
  amount: [1, 5, 100, 0, -1, 100_000_000, 100_000_001],
  ttlSeconds: [900, 2, 1, 86_400, 86_401, 0],
  olderThanMinutes: [15, 0, 525_600, 525_601, -1],
};

/** Out-of-range, fractional or non-numeric stand-ins for an Int (JSON). */
const WRONG_INTS: readonly unknown[] = [
  1.5,
  '12',
  2 ** 31,
  -(2 ** 31) - 1,
  1e21,
  Number.MAX_SAFE_INTEGER + 2,
  -0.0000001,
  true,
  {},
  [1],
  '',
];

/** Digits of a sequence cursor: plausible ones, the largest bigint and past it. */
const CURSOR_DIGITS = [
  '1',
  '9223372036854775808',
  '9999999999999999999',
  '9223372036854775807',
  '1000000000000000000000',
  '9223372036854775808',
  '0',
  '-1',
  '1.5',
];

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** A page cursor: one the server made, one shaped like them with edge values, or junk. */
export function cursorValue(c: Choice, known: KnownValues): string {
  switch (c.int(0, 9)) {
    case 0:
    case 1:
      return known.cursors.length ? c.pick(known.cursors) : b64('t|1');
    case 2:
    case 3:
    case 4:
    case 5:
      return b64(`t|${c.pick(CURSOR_DIGITS)}`);
    case 6:
      return b64(
        `o|${c.pick([...known.ids, '00000000-0000-0000-0000-000000000000', 'x'.repeat(36)])}`,
      );
    case 7:
      return b64(`${c.pick(['t', 'o', 'x', ''])}|${c.text(30)}|${c.text(5)}`);
    case 8:
      return c.pick(NASTY_STRINGS);
    default:
      return c.text(40);
  }
}

function stringValue(c: Choice, hint: string, known: KnownValues): string {
  if (hint === 'after') return cursorValue(c, known);
  if (c.chance(50)) {
    if (hint === 'idempotencyKey' && known.idempotencyKeys.length) {
      return c.pick(known.idempotencyKeys);
    }
    if (hint === 'productId') return c.pick(known.productIds);
    if (hint === 'userId') return c.pick(known.userIds);
    if (hint === 'name') return c.pick(Object.keys(SCHEMA.getTypeMap()));
    if (hint === 'description') return `fuzz ${c.int(0, 1000)}`;
    if (/id$/i.test(hint) && known.ids.length) return c.pick(known.ids);
  }
  return c.chance(70) ? c.pick(NASTY_STRINGS) : c.text(c.pick([8, 64, 600]));
}

function idValue(c: Choice, hint: string, known: KnownValues): unknown {
  if (c.chance(80))
    return stringValue(c, hint.endsWith('Id') || hint === 'id' ? hint : 'id', known);
  return c.pick([0, 1, -1, 2147483647]);
}

function intValue(c: Choice, hint: string): number {
  const hinted = INT_HINTS[hint];
  if (hinted && c.chance(70)) return c.pick(hinted);
  return c.chance(50) ? c.pick(INT32_EDGES) : c.int(-2147483648, 2147483647);
}

function dateValue(c: Choice): string {
  return c.pick([
    new Date(Date.now() + 86_400_000).toISOString(),
    '2030-01-01T00:00:00Z',
    '2020-01-01T00:00:00+02:00',
    '2024-02-30T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
    '+275760-09-13T00:00:00.000Z',
    '1969-12-31T23:59:59Z',
    'yesterday',
    '',
  ]);
}

// ---------------------------------------------------------------------------------------
// Values of input types, as JSON (variables) and as GraphQL literals (arguments)

function namedInput(type: GraphQLInputType): GraphQLNamedType {
  return getNamedType(type);
}

/** A JSON value meant to be valid for `type` (it may still be refused by the resolver). */
export function rightJson(
  c: Choice,
  type: GraphQLInputType,
  hint: string,
  known: KnownValues,
  depth = 0,
  nonNull = false,
): unknown {
  if (isNonNullType(type)) return rightJson(c, type.ofType, hint, known, depth, true);
  if (!nonNull && c.chance(8)) return null;
  if (isListType(type)) {
    // Input coercion accepts a single item for a list.
    if (c.chance(20)) return rightJson(c, type.ofType, hint, known, depth + 1);
    return Array.from({ length: c.int(0, 3) }, () =>
      rightJson(c, type.ofType, hint, known, depth + 1),
    );
  }
  if (isInputObjectType(type)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      const required = isNonNullType(field.type) && field.defaultValue === undefined;
      if (required || c.chance(50)) {
        value[field.name] = rightJson(c, field.type, field.name, known, depth + 1);
      }
    }
    return value;
  }
  if (isEnumType(type)) return c.pick(type.getValues()).name;
  switch (type.name) {
    case 'Int':
      return intValue(c, hint);
    case 'Boolean':
      return c.chance(50);
    case 'ID':
      return idValue(c, hint, known);
    case 'DateTime':
      return dateValue(c);
    default:
      return stringValue(c, hint, known);
  }
}

/** A JSON value of the wrong type for `type`. */
export function wrongJson(
  c: Choice,
  type: GraphQLInputType,
  hint: string,
  known: KnownValues,
): unknown {
  if (isNonNullType(type) && c.chance(30)) return null;
  const named = namedInput(type);
  if (isListType(isNonNullType(type) ? type.ofType : type) && c.chance(30)) {
    return [
      wrongJson(c, (isNonNullType(type) ? type.ofType : type) as GraphQLInputType, hint, known),
    ];
  }
  if (isInputObjectType(named)) {
    const right = rightJson(c, named, hint, known) as Record<string, unknown> | null;
    switch (c.int(0, 4)) {
      case 0:
        return { ...right, unknownField: 1 };
      case 1: {
        const fields = Object.keys(right ?? {});
        if (fields.length === 0) return 'not an object';
        const { [c.pick(fields)]: _dropped, ...rest } = right ?? {};
        return rest;
      }
      case 2: {
        const fields = Object.values(named.getFields());
        const field = c.pick(fields);
        return { ...right, [field.name]: wrongJson(c, field.type, field.name, known) };
      }
      case 3:
        return c.pick(['not an object', 42, [], true]);
      default:
        // Own `__proto__` and `constructor` keys, as JSON.parse makes them.
        return JSON.parse(
          '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}',
        );
    }
  }
  if (isEnumType(named)) return c.pick(['NOPE', 'active', 0, '', { value: 'ACTIVE' }]);
  switch (named.name) {
    case 'Int':
      return c.pick(WRONG_INTS);
    case 'Boolean':
      return c.pick(['true', 1, 0, null, {}, []]);
    case 'DateTime':
      return c.pick([0, 1e20, 'not a date', '2020-13-45T99:99:99Z', {}, true]);
    default:
      return c.pick<unknown>([42, 1.5, true, {}, ['a'], { toString: 'x' }, -0]);
  }
}

/** A GraphQL string literal (sometimes a block string). */
export function stringLiteral(c: Choice, value: string): string {
  // Block strings only for printable ASCII without quotes or backslashes: nothing to escape.
  if (/^[ !#-[\]-~]*$/.test(value) && c.chance(10)) {
    return `"""${value}"""`;
  }
  return JSON.stringify(value);
}

/** A JSON value written as a GraphQL literal; strings become enum names where `enumNames`. */
export function toLiteral(c: Choice, value: unknown, enumNames = false): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return enumNames && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value) ? value : stringLiteral(c, value);
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? String(value) : '1e999';
  }
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => toLiteral(c, v, enumNames)).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${/^[_A-Za-z][_0-9A-Za-z]*$/.test(k) ? k : 'bad_name'}: ${toLiteral(c, v, enumNames)}`).join(', ')}}`;
}

/** Literals no JSON value produces: huge and fractional numbers, an enum given as a string. */
const WRONG_LITERALS = [
  '99999999999999999999',
  '-99999999999999999999',
  '1.5',
  '1e3',
  '0x10',
  '"ACTIVE"',
  'ACTIVE',
  'true',
  '[]',
  '{}',
  '{a: 1}',
  '$undeclared',
  'null',
];

// ---------------------------------------------------------------------------------------
// Documents

const WRONG_VARIABLE_TYPES = [
  'Int',
  'Int!',
  'String',
  'String!',
  'Boolean',
  'ID!',
  '[Int]',
  '[[String!]!]',
  'DateTime',
  'CreateCheckoutInput',
  'OrderStatus',
  'Product',
  'Nope',
];

const ALIASES = ['a', 'b', 'x', 'me', 'products', 'id', '__typename', 'dup'];

interface Build {
  c: Choice;
  known: KnownValues;
  opts: DocumentOptions;
  /**
   * Valid mode: a document the schema accepts (it may still be refused by a limit or a
   * resolver), so that it runs. Otherwise every kind of mistake is made now and then.
   */
  valid: boolean;
  variables: Array<{ name: string; typeText: string; value: unknown; defaultText?: string }>;
  fragments: Array<{ name: string; on: string; text: string }>;
  /** Fragments whose bodies are being written: spreading one of them would be a cycle. */
  building: Set<string>;
  aliases: number;
  fieldsLeft: number;
}

/** A deliberate mistake, `percent` of the time, never in valid mode. */
function wrong(b: Build, percent: number): boolean {
  return !b.valid && b.c.chance(percent);
}

/** An argument's value: a variable (declared, rightly or wrongly, or not) or a literal. */
function argumentValue(b: Build, type: GraphQLInputType, hint: string): string {
  const { c } = b;
  if (c.chance(30)) {
    // Sometimes reuse a variable (duplicate names, a type used at another type's position).
    if (b.variables.length && wrong(b, 15)) return `$${c.pick(b.variables).name}`;
    const name = `v${b.variables.length}`;
    const typeText = wrong(b, 15) ? c.pick(WRONG_VARIABLE_TYPES) : String(type);
    const value = !wrong(b, 20)
      ? rightJson(c, type, hint, b.known)
      : c.chance(50)
        ? wrongJson(c, type, hint, b.known)
        : undefined;
    const defaultText = c.chance(10)
      ? toLiteral(c, rightJson(c, type, hint, b.known), isEnumType(namedInput(type)))
      : undefined;
    b.variables.push({ name, typeText, value, ...(defaultText ? { defaultText } : {}) });
    return `$${name}`;
  }
  if (wrong(b, 12)) return c.pick(WRONG_LITERALS);
  const enumNames = isEnumType(namedInput(type));
  return toLiteral(
    c,
    wrong(b, 15) ? wrongJson(c, type, hint, b.known) : rightJson(c, type, hint, b.known),
    enumNames,
  );
}

/** @skip/@include on a field, fragment spread or inline fragment (or anything, where wrong). */
function directives(b: Build, where: 'selection' | 'definition' = 'selection'): string {
  const { c } = b;
  if (where === 'definition' && b.valid) return '';
  if (!c.chance(10)) return '';
  const name = b.valid
    ? c.pick(['skip', 'include'])
    : c.pick(['skip', 'include', 'skip', 'include', 'deprecated', 'unknown', 'specifiedBy']);
  const condition = c.chance(60)
    ? String(c.chance(50))
    : argumentValue(b, SCHEMA.getDirective('skip')!.args[0]!.type, 'if');
  const repeat = wrong(b, 10) ? ` @${name}(if: ${condition})` : '';
  return ` @${name}(if: ${condition})${repeat}`;
}

function fieldsOf(type: GraphQLCompositeType): Array<GraphQLField<unknown, unknown>> {
  const fields: Array<GraphQLField<unknown, unknown>> = isObjectType(type)
    ? Object.values(type.getFields())
    : 'getFields' in type
      ? Object.values(type.getFields())
      : [];
  fields.push(TypeNameMetaFieldDef);
  if (type === SCHEMA.getQueryType()) fields.push(SchemaMetaFieldDef, TypeMetaFieldDef);
  return fields;
}

/** How deep valid documents go: under the server's data depth limit (12), so they run. */
const VALID_MAX_DEPTH = 11;

function fieldSelection(b: Build, parent: GraphQLCompositeType, depth: number): string {
  const { c } = b;
  b.fieldsLeft -= 1;
  if (wrong(b, 3)) return c.pick(['nope', 'password', '__proto__', 'constructor', '__schema']);
  // graphql-js refuses introspection nested more than three `fields`/`ofType` deep: a valid
  // document stops at leaves there.
  const deepInIntrospection = b.valid && parent.name.startsWith('__') && depth >= 3;
  const candidates = fieldsOf(parent).filter(
    (f) => !deepInIntrospection || !isCompositeType(getNamedType(f.type)),
  );
  // Fields with arguments, then fields with selections, are where the bugs have been.
  const field = c.weighted(candidates, (f) =>
    f.args.length > 0 ? 4 : isCompositeType(getNamedType(f.type)) ? 2 : 1,
  );
  // Valid: a field with arguments gets an alias of its own, so no two selections conflict.
  const alias = b.valid
    ? field.args.length > 0 || c.chance(15)
      ? `a${b.aliases++}: `
      : ''
    : c.chance(15)
      ? `${c.pick(ALIASES)}: `
      : '';
  const args: string[] = [];
  for (const arg of field.args) {
    const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
    if (required ? !wrong(b, 5) : c.chance(40)) {
      args.push(`${arg.name}: ${argumentValue(b, arg.type, arg.name)}`);
    }
  }
  if (wrong(b, 3)) {
    args.push(`${c.pick(['bogus', 'first', 'input', 'id'])}: ${c.pick(WRONG_LITERALS)}`);
  }
  const argText = args.length ? `(${args.join(', ')})` : '';
  const named = getNamedType(field.type);
  const maxDepth = b.valid ? Math.min(VALID_MAX_DEPTH, b.opts.maxDepth) : b.opts.maxDepth;
  let sub = '';
  if (isCompositeType(named)) {
    if (depth >= maxDepth || b.fieldsLeft <= 0) sub = wrong(b, 10) ? '' : ' { __typename }';
    else sub = wrong(b, 2) ? '' : ` ${selectionSet(b, named, depth + 1)}`;
  } else if (isLeafType(named) && wrong(b, 2)) {
    sub = ' { id }';
  }
  return `${alias}${field.name}${argText}${directives(b)}${sub}`;
}

/** A fragment on `type`: a new one, an existing one again, a chain, a cycle, or a missing one. */
function fragmentSpread(b: Build, type: GraphQLCompositeType, depth: number): string {
  const { c } = b;
  // A fragment being written may be spread again (a cycle: refused) only when not valid.
  const existing = b.fragments.filter(
    (f) => f.on === type.name && (!b.valid || !b.building.has(f.name)),
  );
  switch (c.int(0, 5)) {
    case 0:
    case 1: {
      const name = `F${b.fragments.length}`;
      const slot = { name, on: type.name, text: '' };
      b.fragments.push(slot);
      b.building.add(name);
      const on = wrong(b, 5) ? c.pick(Object.keys(SCHEMA.getTypeMap())) : type.name;
      slot.text = `fragment ${name} on ${on}${directives(b, 'definition')} ${selectionSet(b, type, depth)}`;
      b.building.delete(name);
      return `...${name}${directives(b)}`;
    }
    case 2:
      if (existing.length) return `...${c.pick(existing).name}${directives(b)}`;
      return b.valid ? `... on ${type.name} { __typename }` : `...Missing${c.int(0, 3)}`;
    case 3: {
      // F_0 spreads F_1 twice, F_1 spreads F_2 twice, …: 2^n paths through a linear text.
      const length = c.int(2, b.opts.maxFragmentChain);
      const base = `C${b.fragments.length}_`;
      for (let i = 0; i < length; i++) {
        b.fragments.push({
          name: `${base}${i}`,
          on: type.name,
          text: `fragment ${base}${i} on ${type.name} { ...${base}${i + 1} ...${base}${i + 1} }`,
        });
      }
      b.fragments.push({
        name: `${base}${length}`,
        on: type.name,
        text: `fragment ${base}${length} on ${type.name} { __typename }`,
      });
      b.fieldsLeft -= 2;
      return `...${base}0`;
    }
    default:
      if (existing.length) {
        const again = c.pick(existing).name;
        return `...${again} ...${again}`;
      }
      return `... on ${type.name} { __typename }`;
  }
}

function selectionSet(b: Build, type: GraphQLCompositeType, depth: number): string {
  const { c } = b;
  const count = depth < 3 ? c.int(1, 4) : c.int(1, 2);
  const selections: string[] = [];
  for (let i = 0; i < count && (i === 0 || b.fieldsLeft > 0); i++) {
    const kind = c.int(0, 9);
    if (kind === 8) {
      const on = wrong(b, 10) ? c.pick(Object.keys(SCHEMA.getTypeMap())) : type.name;
      const condition = c.chance(20) ? '' : ` on ${on}`;
      selections.push(`...${condition}${directives(b)} ${selectionSet(b, type, depth)}`);
    } else if (kind === 9) {
      selections.push(fragmentSpread(b, type, depth));
    } else {
      selections.push(fieldSelection(b, type, depth));
    }
  }
  return `{ ${selections.join(' ')} }`;
}

/** Introspection a playground would not send: `ofType`/`fields` nested past any sane depth. */
function deepIntrospection(b: Build): string {
  const { c } = b;
  let inner = 'name';
  for (let i = c.int(1, b.valid ? 2 : 22); i > 0; i--) {
    inner = c.chance(50) ? `name ofType { ${inner} }` : `name fields { type { ${inner} } }`;
  }
  return c.chance(50)
    ? `__schema { types { ${inner} } }`
    : `__type(name: ${JSON.stringify(c.pick(['Query', 'UserProfile', 'Nope']))}) { ${inner} }`;
}

function operation(b: Build, kind: GeneratedRequest['kind'], name: string | undefined): string {
  const { c } = b;
  const root =
    kind === 'query'
      ? SCHEMA.getQueryType()!
      : kind === 'mutation'
        ? SCHEMA.getMutationType()!
        : SCHEMA.getSubscriptionType()!;
  const before = b.variables.length;
  let selection: string;
  if (kind === 'query' && c.chance(8)) selection = `{ ${deepIntrospection(b)} }`;
  else if (kind === 'query') selection = selectionSet(b, root, 1);
  else {
    // Mutations and subscriptions: one root field, sometimes two (a subscription may not).
    const two = kind === 'mutation' ? c.chance(15) : wrong(b, 15);
    const fields = Array.from({ length: two ? 2 : 1 }, () =>
      fieldSelection(b, root as GraphQLObjectType, 1),
    );
    selection = `{ ${fields.join(' ')} }`;
  }
  const mine = b.variables.slice(before);
  if (wrong(b, 5)) mine.push({ name: `unused${before}`, typeText: 'Int', value: 1 });
  const defs = mine.length
    ? `(${mine.map((v) => `$${v.name}: ${v.typeText}${v.defaultText ? ` = ${v.defaultText}` : ''}`).join(', ')})`
    : '';
  if (kind === 'query' && !name && !defs && c.chance(50)) return selection;
  return `${kind}${name ? ` ${name}` : ''}${defs}${directives(b, 'definition')} ${selection}`;
}

/** A random request from the schema: the document, its variables, an operation name. */
export function graphqlRequest(
  c: Choice,
  known: KnownValues,
  opts: DocumentOptions,
): GeneratedRequest {
  const b: Build = {
    c,
    known,
    opts,
    valid: c.chance(50),
    variables: [],
    fragments: [],
    building: new Set(),
    aliases: 0,
    fieldsLeft: opts.maxFields,
  };
  const kinds = ['query', 'query', 'query', 'mutation', 'mutation', 'subscription'] as const;
  const kind = c.pick(kinds);
  const second = c.chance(8);
  const operations = [operation(b, kind, second || c.chance(40) ? 'Fuzz' : undefined)];
  const names = ['Fuzz'];
  if (second) {
    const name = wrong(b, 20) ? 'Fuzz' : 'Other';
    operations.push(operation(b, c.pick(kinds), name));
    names.push(name);
  }
  if (wrong(b, 5)) {
    b.fragments.push({
      name: 'Unused',
      on: 'Query',
      text: 'fragment Unused on Query { __typename }',
    });
  }
  const fragments = b.fragments.map((f) => f.text);
  const query = [...operations, ...(c.chance(50) ? fragments : fragments.reverse())].join('\n');

  const variables: Record<string, unknown> = {};
  for (const v of b.variables) if (v.value !== undefined) variables[v.name] = v.value;
  if (c.chance(5)) {
    // defineProperty: an own `__proto__` key, as JSON.parse on the server will see it.
    Object.defineProperty(variables, c.pick(['extra', '__proto__', 'constructor']), {
      value: c.pick([1, 'x', {}]),
      enumerable: true,
    });
  }
  const request: GeneratedRequest = {
    query,
    kind,
    variables: wrong(b, 3) ? c.pick([[], 'variables', 42, null, [variables]]) : variables,
  };
  if (b.valid) {
    // Two operations need a name to pick one; one may be named or not.
    if (second) request.operationName = c.pick(names);
  } else if (c.chance(30)) {
    request.operationName = c.pick([...names, 'Nope', 42, null, '']);
  }
  return request;
}

/**
 * The operations the project's own clients send (test/operations/*.graphql), each with the
 * fragments it spreads: real documents whose variables are then fuzzed.
 */
const CLIENT_OPERATIONS: DefinitionNode[] = (() => {
  const dir = path.join(__dirname, '../operations');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .flatMap((f) => parse(readFileSync(path.join(dir, f), 'utf8')).definitions);
})();

/**
 * One operation per field that takes arguments, reached from its root by the shortest path,
 * every argument on the way given as a variable: `query($first: Int, $after: String) { me {
 * creditTransactions(first: $first, after: $after) { __typename } } }`. A random walk of the
 * schema reaches an argument deep in it seldom, and a client operation may pass one variable
 * to two fields (MyHistory's `$after`), where the first to fail hides the other.
 */
function argumentOperations(): string[] {
  const operations: string[] = [];
  const roots = [
    ['query', SCHEMA.getQueryType()],
    ['mutation', SCHEMA.getMutationType()],
    ['subscription', SCHEMA.getSubscriptionType()],
  ] as const;
  for (const [kind, root] of roots) {
    if (!root) continue;
    const seen = new Set<string>([root.name]);
    // Breadth first: each path is the fields from the root and the variables they take.
    let frontier: Array<{ type: GraphQLObjectType; path: string[]; vars: string[] }> = [
      { type: root, path: [], vars: [] },
    ];
    for (let depth = 0; depth < 3 && frontier.length; depth++) {
      const next: typeof frontier = [];
      for (const { type, path: trail, vars } of frontier) {
        for (const field of Object.values(type.getFields())) {
          const argVars = field.args.map((a) => `$${field.name}_${a.name}: ${String(a.type)}`);
          const call = field.args.length
            ? `${field.name}(${field.args.map((a) => `${a.name}: $${field.name}_${a.name}`).join(', ')})`
            : field.name;
          const allVars = [...vars, ...argVars];
          const named = getNamedType(field.type);
          if (field.args.length) {
            let body = isCompositeType(named) ? `${call} { __typename }` : call;
            for (const outer of [...trail].reverse()) body = `${outer} { ${body} }`;
            const defs = allVars.length ? `(${allVars.join(', ')})` : '';
            operations.push(`${kind}${defs} { ${body} }`);
          }
          if (isObjectType(named) && !seen.has(named.name)) {
            seen.add(named.name);
            next.push({ type: named, path: [...trail, call], vars: allVars });
          }
        }
      }
      frontier = next;
    }
  }
  return operations;
}

/** Client operations and argument operations, each with the fragments it spreads. */
export const CORPUS: ReadonlyArray<{
  text: string;
  operation: OperationDefinitionNode;
}> = (() => {
  const definitions = [
    ...CLIENT_OPERATIONS,
    ...argumentOperations().flatMap((text) => parse(text).definitions),
  ];
  const fragments = new Map(
    definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const spreadIn = (node: DefinitionNode, found: Set<string>): Set<string> => {
    visit(node, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        if (found.has(name) || !fragments.has(name)) return;
        found.add(name);
        spreadIn(fragments.get(name)!, found);
      },
    });
    return found;
  };
  return definitions
    .filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
    .map((operation) => ({
      operation,
      text: [operation, ...[...spreadIn(operation, new Set())].map((n) => fragments.get(n)!)]
        .map((d) => print(d))
        .join('\n'),
    }));
})();

/** A client operation from the corpus with fuzzed variables (right, wrong, missing, extra). */
export function corpusRequest(c: Choice, known: KnownValues): GeneratedRequest {
  // Operations with variables are where fuzzed values go: more of those.
  const { text, operation } = c.weighted(
    CORPUS,
    (entry) => 1 + 2 * (entry.operation.variableDefinitions?.length ?? 0),
  );
  const variables: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    const type = typeFromAST(SCHEMA, definition.type as never) as GraphQLInputType | undefined;
    const name = definition.variable.name.value;
    // `$creditTransactions_after` is an `after`: the hint is the argument's own name.
    const hint = name.split('_').pop()!;
    if (!type || c.chance(5)) continue;
    variables[name] = c.chance(80)
      ? rightJson(c, type, hint, known)
      : wrongJson(c, type, hint, known);
  }
  if (c.chance(5)) variables['extra'] = c.pick<unknown>([1, 'x', {}]);
  const request: GeneratedRequest = {
    query: text,
    kind: operation.operation as GeneratedRequest['kind'],
    variables,
  };
  if (c.chance(10))
    request.operationName = c.pick([operation.name?.value ?? null, 'Nope', 42, null, '']);
  return request;
}

/** Requests from a walk of the schema, and client operations with fuzzed variables. */
export function graphqlRequestArbitrary(
  known: KnownValues,
  opts: DocumentOptions,
): fc.Arbitrary<GeneratedRequest> {
  return fc.gen().map((g) => {
    const c = choiceFrom(g);
    return c.chance(35) ? corpusRequest(c, known) : graphqlRequest(c, known, opts);
  });
}
