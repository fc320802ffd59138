import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  GraphQLInt,
  GraphQLObjectType,
  GraphQLSchema,
  Kind,
  getIntrospectionQuery,
  parse,
  visit,
  type DocumentNode,
} from 'graphql';
import {
  conditionalSubscriptionRoot,
  documentShape,
  measureOperation,
  type DocumentMeasure,
} from './document-measure';

/** The bounds every GraphQL operation meets, over HTTP and over WebSocket alike. */
export interface DocumentLimits {
  maxDepth: number;
  maxCost: number;
  /** false: `__schema` and `__type` are refused (`__typename` stays). */
  introspection: boolean;
}

/**
 * `__schema` / `__type` fields one operation may hold: each answers with (part of) the whole
 * schema, so 400 aliases of `__schema` would be megabytes for a 14 KB request. The
 * playground and codegen send one.
 */
export const MAX_INTROSPECTION_FIELDS = 3;

/**
 * The deepest introspection a client legitimately sends: the full query of graphql-js with
 * every option, which is what GraphiQL and codegen use. Deeper introspection is only ever
 * an attack (nested `ofType`/`fields` cycles), so it is refused.
 */
export const MAX_INTROSPECTION_DEPTH = measureOperation({
  // Any schema will do: an introspection query's depth does not depend on the API's types.
  schema: new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
  }),
  document: parse(
    getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    }),
  ),
  variables: {},
  operationName: undefined,
}).introspectionDepth;

/**
 * The variables an operation's measure depends on: those given to a `first` argument (the
 * connection's multiplier) and to `@skip`/`@include` (which drop fields).
 */
export function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node, _key, _parent, _path, ancestors) {
      if (node.value.kind !== Kind.VARIABLE) return;
      // The argument's owner: its nearest ancestor that is a node, not the arguments array.
      const owner = [...ancestors].reverse().find((a) => !Array.isArray(a)) as
        { kind?: string; name?: { value: string } } | undefined;
      const inDirective =
        owner?.kind === Kind.DIRECTIVE &&
        (owner.name?.value === 'skip' || owner.name?.value === 'include');
      if (node.name.value === 'first' || inDirective) names.add(node.value.name.value);
    },
  });
  return [...names].sort();
}

const measureCache = new WeakMap<
  DocumentNode,
  { variables: string[]; measures: Map<string, DocumentMeasure> }
>();
const MEASURES_PER_DOCUMENT = 64;

/**
 * measureOperation, remembered per parsed document (Apollo hands the same DocumentNode to
 * every request with the same query text) and per value of the variables the measure
 * depends on. A deduction's idempotency key changes every request; its measure does not.
 * A wrong value of a variable the measure does not depend on is left to execution, which
 * refuses it the same way.
 */
export function cachedMeasure(options: {
  schema: GraphQLSchema;
  document: DocumentNode;
  variables: Record<string, unknown> | undefined;
  operationName: string | undefined;
}): DocumentMeasure {
  let entry = measureCache.get(options.document);
  if (!entry) {
    entry = { variables: costVariables(options.document), measures: new Map() };
    measureCache.set(options.document, entry);
  }
  const variables = options.variables ?? {};
  const values = entry.variables.map((v) => variables[v]);
  // Only plain values make a key: an object or array here is a wrong type (refused by the
  // measure), and may be nested deeper than JSON.stringify's stack.
  if (!values.every((v) => v === null || typeof v !== 'object')) return measureOperation(options);
  const key = JSON.stringify([options.operationName ?? null, values]);
  const known = entry.measures.get(key);
  if (known) return known;
  const measure = measureOperation(options);
  if (entry.measures.size < MEASURES_PER_DOCUMENT) entry.measures.set(key, measure);
  return measure;
}

function refusal(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'BAD_USER_INPUT', http: { status: 400 }, ...extensions },
  });
}

function introspectionError(fields: number, limits: DocumentLimits): GraphQLError | undefined {
  if (fields > 0 && !limits.introspection) {
    return refusal('Introspection is disabled on this server');
  }
  if (fields > MAX_INTROSPECTION_FIELDS) {
    return refusal(
      `Too many introspection fields: ${fields} exceeds the limit of ${MAX_INTROSPECTION_FIELDS}`,
    );
  }
  return undefined;
}

function limitError(measure: DocumentMeasure, limits: DocumentLimits): GraphQLError | undefined {
  const introspection = introspectionError(measure.introspectionFields, limits);
  if (introspection) return introspection;
  if (measure.depth > limits.maxDepth) {
    return refusal(
      `Query is too deep: depth ${measure.depth} exceeds the limit of ${limits.maxDepth}`,
    );
  }
  if (measure.introspectionDepth > MAX_INTROSPECTION_DEPTH) {
    return refusal(
      `Introspection is too deep: depth ${measure.introspectionDepth} exceeds the limit of ${MAX_INTROSPECTION_DEPTH}`,
    );
  }
  if (measure.cost > limits.maxCost) {
    return refusal(
      `Query is too expensive: cost ${measure.cost} exceeds the limit of ${limits.maxCost}`,
      {
        cost: measure.cost,
        maxCost: limits.maxCost,
      },
    );
  }
  return undefined;
}

/** Fields one response path may hold (`{ me { id } me { id } }` is two at `me.id`). */
export const MAX_FIELDS_AT_ONE_PATH = 25;

/**
 * The check that runs before graphql's own validation, over HTTP and WebSocket: a document
 * whose validation alone would cost too much (many fields at one path, or too many fields
 * once fragments are spread) is refused in time bounded by the walk's budget.
 */
export function documentShapeError(
  document: DocumentNode,
  limits: DocumentLimits,
): GraphQLError | undefined {
  // Every field costs at least 1 unless it is introspection; the introspection query itself
  // has a few hundred fields.
  const budget = 4 * limits.maxCost + 1000;
  const shape = documentShape(document, { budget });
  if (shape.overBudget) {
    return refusal(
      `Query is too expensive: more than ${budget} fields once its fragments are spread`,
    );
  }
  const introspection = introspectionError(shape.introspectionFields, limits);
  if (introspection) return introspection;
  if (conditionalSubscriptionRoot(document)) {
    return refusal("A subscription's root field cannot have @skip or @include");
  }
  if (shape.mostAtOnePath > MAX_FIELDS_AT_ONE_PATH) {
    return refusal(
      `Too many fields at ${shape.path}: ${shape.mostAtOnePath} exceeds the limit of ${MAX_FIELDS_AT_ONE_PATH}`,
    );
  }
  return undefined;
}

/**
 * The one check of a validated operation against the limits, shared by HTTP and WebSocket:
 * the error to answer with (BAD_USER_INPUT), or undefined when it may run. Variables of the
 * wrong type are the client's error here too, never an internal one.
 */
export function operationLimitError(options: {
  schema: GraphQLSchema;
  document: DocumentNode;
  variables: Record<string, unknown> | null | undefined;
  operationName: string | null | undefined;
  limits: DocumentLimits;
}): GraphQLError | undefined {
  let measure: DocumentMeasure;
  try {
    measure = cachedMeasure({
      schema: options.schema,
      document: options.document,
      variables: options.variables ?? undefined,
      operationName: options.operationName ?? undefined,
    });
  } catch (error) {
    if (error instanceof GraphQLError) return refusal(error.message);
    throw error;
  }
  return limitError(measure, options.limits);
}

/** Subscriptions need a connection to push on: over HTTP they are a clear 400. */
export function subscriptionsOverWebSocketPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription') {
            throw new GraphQLError(
              'Subscriptions are served over WebSocket (graphql-transport-ws) on /graphql',
              { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } },
            );
          }
        },
      };
    },
  };
}

/** Refuses, before it executes, an operation that exceeds the limits (operationLimitError). */
export function documentLimitsPlugin(limits: DocumentLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema }) {
          const error = operationLimitError({
            schema,
            document,
            variables: request.variables,
            operationName: request.operationName,
            limits,
          });
          if (error) throw error;
        },
      };
    },
  };
}
