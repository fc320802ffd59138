import {
  GraphQLError,
  Kind,
  getArgumentValues,
  getNamedType,
  getVariableValues,
  isCompositeType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  getDirectiveValues,
} from 'graphql';

/** What executing one operation of a document would take, as far as its text tells. */
export interface DocumentMeasure {
  /** Deepest path through the API's own fields. */
  depth: number;
  /** Deepest path that enters an introspection field (`__schema`, `__type`). */
  introspectionDepth: number;
  /** Fields resolved: each field 1, a connection's children times its `first`. */
  cost: number;
  /** `__schema` and `__type` fields, each the size of (part of) the whole schema. */
  introspectionFields: number;
}

const ZERO: DocumentMeasure = { depth: 0, introspectionDepth: 0, cost: 0, introspectionFields: 0 };

/** Costs are added and multiplied without bound by a document; keep them finite and exact. */
const saturate = (n: number): number => Math.min(n, Number.MAX_SAFE_INTEGER);

function merge(a: DocumentMeasure, b: DocumentMeasure): DocumentMeasure {
  return {
    depth: Math.max(a.depth, b.depth),
    introspectionDepth: Math.max(a.introspectionDepth, b.introspectionDepth),
    cost: saturate(a.cost + b.cost),
    introspectionFields: saturate(a.introspectionFields + b.introspectionFields),
  };
}

const isIntrospectionRoot = (name: string) => name === '__schema' || name === '__type';

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  /**
   * Each fragment is measured once per walk (and per inside/outside introspection), however
   * many times it is spread: a chain of fragments each spreading the next twice would
   * otherwise cost 2^n to walk. That is what keeps the whole walk linear in the document.
   */
  memo: Map<string, DocumentMeasure>;
  /** Fragments being measured: a cycle (refused by graphql's own validation) stops here. */
  inProgress: Set<string>;
}

/** `@skip(if: true)` or `@include(if: false)`: the selection does not run. */
function skipped(node: SelectionNode, walk: Walk): boolean {
  if (!node.directives?.length) return false;
  const skip = getDirectiveValues(GraphQLSkipDirective, node, walk.variables);
  if (skip?.['if'] === true) return true;
  const include = getDirectiveValues(GraphQLIncludeDirective, node, walk.variables);
  return include?.['if'] === false;
}

/** A connection returns up to `first` nodes: its children count that many times. */
function multiplier(field: FieldNode, parent: GraphQLNamedType | undefined, walk: Walk): number {
  if (!field.arguments?.some((a) => a.name.value === 'first')) return 1;
  const definition =
    isCompositeType(parent) && 'getFields' in parent
      ? parent.getFields()[field.name.value]
      : undefined;
  if (!definition) return 1;
  const first = getArgumentValues(definition, field, walk.variables)['first'];
  return typeof first === 'number' && first > 0 ? first : 1;
}

function fieldType(
  field: FieldNode,
  parent: GraphQLNamedType | undefined,
): GraphQLNamedType | undefined {
  if (!parent || !('getFields' in parent)) return undefined;
  const definition = parent.getFields()[field.name.value];
  return definition ? getNamedType(definition.type) : undefined;
}

function measureField(
  field: FieldNode,
  parent: GraphQLNamedType | undefined,
  inIntrospection: boolean,
  walk: Walk,
): DocumentMeasure {
  const name = field.name.value;
  if (name === '__typename') return { ...ZERO, cost: inIntrospection ? 0 : 1 };
  const entering = inIntrospection || isIntrospectionRoot(name);
  const type = isIntrospectionRoot(name)
    ? walk.schema.getType(name === '__schema' ? '__Schema' : '__Type')
    : fieldType(field, parent);
  const inner = field.selectionSet
    ? measureSelections(field.selectionSet, type ?? undefined, entering, walk)
    : ZERO;
  const roots = inner.introspectionFields + (isIntrospectionRoot(name) ? 1 : 0);
  if (entering) {
    // Introspection is bounded by its depth and its number of roots, not by its cost:
    // the playground's own introspection query must always pass.
    return {
      depth: 0,
      introspectionDepth: 1 + inner.introspectionDepth,
      cost: 0,
      introspectionFields: roots,
    };
  }
  const times = multiplier(field, parent, walk);
  return {
    depth: 1 + inner.depth,
    introspectionDepth: inner.introspectionDepth ? 1 + inner.introspectionDepth : 0,
    cost: saturate(1 + inner.cost * times),
    introspectionFields: saturate(roots * times),
  };
}

function measureSpread(name: string, inIntrospection: boolean, walk: Walk): DocumentMeasure {
  const key = `${inIntrospection ? 'i' : 'd'}:${name}`;
  const known = walk.memo.get(key);
  if (known) return known;
  const fragment = walk.fragments.get(name);
  if (!fragment || walk.inProgress.has(key)) return ZERO;
  walk.inProgress.add(key);
  const type = walk.schema.getType(fragment.typeCondition.name.value) ?? undefined;
  const result = measureSelections(fragment.selectionSet, type, inIntrospection, walk);
  walk.inProgress.delete(key);
  walk.memo.set(key, result);
  return result;
}

function measureSelections(
  selectionSet: SelectionSetNode,
  parent: GraphQLNamedType | undefined,
  inIntrospection: boolean,
  walk: Walk,
): DocumentMeasure {
  let result = ZERO;
  for (const selection of selectionSet.selections) {
    if (skipped(selection, walk)) continue;
    let child: DocumentMeasure;
    if (selection.kind === Kind.FIELD) {
      child = measureField(selection, parent, inIntrospection, walk);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition
        ? (walk.schema.getType(selection.typeCondition.name.value) ?? undefined)
        : parent;
      child = measureSelections(selection.selectionSet, type, inIntrospection, walk);
    } else {
      child = measureSpread(selection.name.value, inIntrospection, walk);
    }
    result = merge(result, child);
  }
  return result;
}

/** The operation a request runs: the named one, or the only one. */
export function selectOperation(
  document: DocumentNode,
  operationName: string | undefined,
): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (operationName) return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

/**
 * Measures the operation a request would run, in time linear in the document's size. The
 * variables are coerced first, as execution would: a value of the wrong type is the client's
 * error (a GraphQLError, thrown), never an internal one.
 */
export function measureOperation(options: {
  schema: GraphQLSchema;
  document: DocumentNode;
  variables: Record<string, unknown> | undefined;
  operationName: string | undefined;
}): DocumentMeasure {
  const { schema, document } = options;
  const operation = selectOperation(document, options.operationName);
  // No operation to run: execution reports that itself, and runs nothing.
  if (!operation) return ZERO;
  const coerced = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    options.variables ?? {},
    {
      maxErrors: 1,
    },
  );
  if (coerced.errors) throw coerced.errors[0] ?? new GraphQLError('Invalid variables');
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  const root = schema.getRootType(operation.operation) ?? undefined;
  return measureSelections(operation.selectionSet, root, false, {
    schema,
    fragments,
    variables: coerced.coerced,
    memo: new Map(),
    inProgress: new Set(),
  });
}

/** What graphql's own validation would have to compare, as far as a linear walk can tell. */
export interface DocumentShape {
  /** The walk gave up: more field nodes than its budget once fragments are spread. */
  overBudget: boolean;
  /** The most field nodes answering at one response path (`me.orders.edges`), and where. */
  mostAtOnePath: number;
  path: string | undefined;
  /** The most `__schema` / `__type` fields under one definition, fragments spread. */
  introspectionFields: number;
}

interface ShapeWalk {
  fragments: Map<string, FragmentDefinitionNode>;
  budget: number;
  counts: Map<string, number>;
  spreading: Set<string>;
  shape: DocumentShape;
  /** `__schema` / `__type` fields under the current definition. */
  introspection: number;
}

function walkShape(selectionSet: SelectionSetNode, path: string, walk: ShapeWalk): void {
  for (const selection of selectionSet.selections) {
    if (walk.shape.overBudget) return;
    if (selection.kind === Kind.FIELD) {
      if (--walk.budget < 0) {
        walk.shape.overBudget = true;
        return;
      }
      if (isIntrospectionRoot(selection.name.value)) walk.introspection += 1;
      const at = `${path}.${selection.alias?.value ?? selection.name.value}`;
      const count = (walk.counts.get(at) ?? 0) + 1;
      walk.counts.set(at, count);
      if (count > walk.shape.mostAtOnePath)
        Object.assign(walk.shape, { mostAtOnePath: count, path: at });
      if (selection.selectionSet) walkShape(selection.selectionSet, at, walk);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      walkShape(selection.selectionSet, path, walk);
    } else {
      const fragment = walk.fragments.get(selection.name.value);
      if (!fragment || walk.spreading.has(fragment.name.value)) continue;
      walk.spreading.add(fragment.name.value);
      walkShape(fragment.selectionSet, path, walk);
      walk.spreading.delete(fragment.name.value);
    }
  }
}

/**
 * Spreads every fragment, within a budget of field nodes, and counts the fields answering
 * at each response path. graphql's OverlappingFieldsCanBeMerged rule compares every pair of
 * fields at one path: 300 copies of `products { id }` (6 KB) cost it over a second. A
 * document with many fields at one path, or too many in all, is refused before that rule
 * runs, in time bounded by the budget.
 */
export function documentShape(document: DocumentNode, options: { budget: number }): DocumentShape {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  const shape: DocumentShape = {
    overBudget: false,
    mostAtOnePath: 0,
    path: undefined,
    introspectionFields: 0,
  };
  const walk: ShapeWalk = {
    fragments,
    budget: options.budget,
    counts: new Map(),
    spreading: new Set(),
    shape,
    introspection: 0,
  };
  for (const [index, definition] of document.definitions.entries()) {
    if (
      definition.kind !== Kind.OPERATION_DEFINITION &&
      definition.kind !== Kind.FRAGMENT_DEFINITION
    )
      continue;
    // Each definition is its own root: graphql validates fragments where they are defined too.
    walk.counts = new Map();
    walk.introspection = 0;
    walkShape(definition.selectionSet, definition.name?.value ?? `#${index}`, walk);
    shape.introspectionFields = Math.max(shape.introspectionFields, walk.introspection);
    if (shape.overBudget) break;
  }
  return shape;
}

const CONDITIONS = new Set(['skip', 'include']);

/**
 * Whether a subscription's root selection (through its fragments) carries `@skip` or
 * `@include`. The GraphQL specification forbids it, and graphql-js's own rule and
 * `subscribe` throw on it instead of refusing it.
 */
export function conditionalSubscriptionRoot(document: DocumentNode): boolean {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, definition);
    }
  }
  const seen = new Set<string>();
  const conditional = (selectionSet: SelectionSetNode): boolean =>
    selectionSet.selections.some((selection) => {
      if (selection.directives?.some((d) => CONDITIONS.has(d.name.value))) return true;
      if (selection.kind === Kind.INLINE_FRAGMENT) return conditional(selection.selectionSet);
      if (selection.kind !== Kind.FRAGMENT_SPREAD) return false;
      const fragment = fragments.get(selection.name.value);
      if (!fragment || seen.has(fragment.name.value)) return false;
      seen.add(fragment.name.value);
      return conditional(fragment.selectionSet);
    });
  return document.definitions.some(
    (d) =>
      d.kind === Kind.OPERATION_DEFINITION &&
      d.operation === 'subscription' &&
      conditional(d.selectionSet),
  );
}
