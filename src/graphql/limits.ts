import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  getIntrospectionQuery,
  parse,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  visit,
} from 'graphql';
import {
  fieldExtensionsEstimator,
  getComplexity,
  simpleEstimator,
  type ComplexityEstimator,
} from 'graphql-query-complexity';

interface Depths {
  /** Deepest path through the API's own fields. */
  data: number;
  /** Deepest path that enters an introspection field (`__schema`, `__type`). */
  introspection: number;
}

function selectionDepths(
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  inIntrospection: boolean,
  visiting: Set<string>,
): Depths {
  const result: Depths = { data: 0, introspection: 0 };
  for (const selection of selectionSet.selections) {
    let child: Depths | undefined;
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      if (name === '__typename') continue;
      const entering = inIntrospection || name === '__schema' || name === '__type';
      const inner = selection.selectionSet
        ? selectionDepths(selection.selectionSet, fragments, entering, visiting)
        : { data: 0, introspection: 0 };
      child = entering
        ? { data: 0, introspection: 1 + Math.max(inner.introspection, inner.data) }
        : {
            data: 1 + inner.data,
            introspection: inner.introspection ? 1 + inner.introspection : 0,
          };
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      child = selectionDepths(selection.selectionSet, fragments, inIntrospection, visiting);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // A cycle is reported by graphql's own NoFragmentCycles rule; just stop here.
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      child = selectionDepths(fragment.selectionSet, fragments, inIntrospection, visiting);
      visiting.delete(name);
    }
    result.data = Math.max(result.data, child.data);
    result.introspection = Math.max(result.introspection, child.introspection);
  }
  return result;
}

export function documentDepths(document: DocumentNode): Depths {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, definition);
    }
  }
  const result: Depths = { data: 0, introspection: 0 };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const depths = selectionDepths(definition.selectionSet, fragments, false, new Set());
    result.data = Math.max(result.data, depths.data);
    result.introspection = Math.max(result.introspection, depths.introspection);
  }
  return result;
}

/**
 * The deepest introspection a client legitimately sends: the full query of graphql-js with
 * every option, which is what GraphiQL and codegen use. Deeper introspection is only ever
 * an attack (nested `ofType`/`fields` cycles), so it is refused.
 */
export const MAX_INTROSPECTION_DEPTH = documentDepths(
  parse(
    getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    }),
  ),
).introspection;

/** A validation rule bounding the depth of data fields and of introspection separately. */
export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => ({
    Document(node) {
      const depths = documentDepths(node);
      if (depths.data > maxDepth) {
        context.reportError(
          new GraphQLError(
            `Query is too deep: depth ${depths.data} exceeds the limit of ${maxDepth}`,
          ),
        );
      }
      if (depths.introspection > MAX_INTROSPECTION_DEPTH) {
        context.reportError(
          new GraphQLError(
            `Introspection is too deep: depth ${depths.introspection} exceeds the limit of ${MAX_INTROSPECTION_DEPTH}`,
          ),
        );
      }
    },
  });
}

/** Connections cost their page size times their items: `first: 100` is 100 nodes. */
const connectionEstimator: ComplexityEstimator = ({ args, childComplexity }) => {
  const first = args['first'];
  return typeof first === 'number' && first > 0 ? 1 + childComplexity * first : undefined;
};

/** Introspection is bounded by depth instead: its cost would block the playground. */
const introspectionEstimator: ComplexityEstimator = ({ field }) =>
  field.name.startsWith('__') ? 0 : undefined;

export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName?: string,
): number {
  return getComplexity({
    schema,
    query: document,
    variables,
    ...(operationName ? { operationName } : {}),
    estimators: [
      introspectionEstimator,
      fieldExtensionsEstimator(),
      connectionEstimator,
      simpleEstimator({ defaultComplexity: 1 }),
    ],
  });
}

/**
 * The variables an operation's cost depends on: those given to a `first` argument (the
 * connection estimator multiplies by it) and to `@skip`/`@include` (which drop fields).
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

const costCache = new WeakMap<DocumentNode, { variables: string[]; costs: Map<string, number> }>();
const COSTS_PER_DOCUMENT = 64;

/**
 * queryCost, remembered per parsed document (Apollo hands the same DocumentNode to every
 * request with the same query text) and per value of the variables the cost depends on. A
 * deduction's idempotency key changes every request; its cost does not.
 */
export function cachedQueryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName?: string,
): number {
  let entry = costCache.get(document);
  if (!entry) {
    entry = { variables: costVariables(document), costs: new Map() };
    costCache.set(document, entry);
  }
  const key = JSON.stringify([operationName ?? null, entry.variables.map((v) => variables[v])]);
  let cost = entry.costs.get(key);
  if (cost === undefined) {
    cost = queryCost(schema, document, variables, operationName);
    if (entry.costs.size < COSTS_PER_DOCUMENT) entry.costs.set(key, cost);
  }
  return cost;
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

/** Refuses an operation whose estimated cost exceeds `maxCost`, before it executes. */
export function costLimitPlugin(maxCost: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema }) {
          let cost: number;
          try {
            cost = cachedQueryCost(
              schema,
              document,
              request.variables ?? {},
              request.operationName ?? undefined,
            );
          } catch (error) {
            // The estimator coerces the variables first: a wrong type, a fractional or
            // out-of-range Int, a missing or unknown input field is the client's error.
            if (error instanceof GraphQLError) {
              throw new GraphQLError(error.message, {
                extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
              });
            }
            throw error;
          }
          if (cost > maxCost) {
            throw new GraphQLError(
              `Query is too expensive: cost ${cost} exceeds the limit of ${maxCost}`,
              {
                extensions: { code: 'BAD_USER_INPUT', http: { status: 400 }, cost, maxCost },
              },
            );
          }
        },
      };
    },
  };
}
