import { emptyToUndefined, type Parser } from './parsers';

/** What configuration is read from: `process.env`, or a test's own object. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * A variable's place in README's configuration table (generated from the registry by
 * `npm run config:docs`): a row of its own, with what it does, or a place in an earlier
 * variable's row (`PORT`, `HOST`).
 */
export type Row = { what: string } | { sameRowAs: Documented };

export interface Documented {
  readonly row: Row;
  /** The default as README shows it: required where it is computed, or a secret. */
  readonly shown?: string | undefined;
}

/** The default of a variable: a value, or one computed from other variables. */
export type Fallback<R> = R | ((values: ConfigValues) => R);

/** One environment variable: its parser, its default, its README row. */
export interface Variable<T, R extends T | undefined = T | undefined> extends Documented {
  readonly kind: 'variable';
  readonly name: string;
  readonly parser: Parser<T>;
  readonly fallback: Fallback<R> | undefined;
}

/**
 * Variables named after a key (PADDLE_TEST_PRICE_CREDITS_100: a key set and a product).
 * Only the members asked for are read, so a key set not in use is never checked.
 */
export interface Family<K, T> extends Documented {
  readonly kind: 'family';
  /** How README names the family. */
  readonly label: string;
  readonly parser: Parser<T>;
  keys(): readonly K[];
  name(key: K): string;
}

type VariableSpec<T, R extends T | undefined> = Documented & {
  parser: Parser<T>;
  fallback?: Fallback<NoInfer<R>>;
};

// The registry holds variables of every type; `unknown` keeps them in one list.
type AnyVariable = Variable<unknown, unknown>;
type AnyFamily = Family<unknown, unknown>;

/** Every variable the configuration reads, in README's order: see src/config/variables.ts. */
export class ConfigRegistry {
  readonly entries: (AnyVariable | AnyFamily)[] = [];

  variable<T>(
    name: string,
    spec: VariableSpec<T, T> & { fallback: Fallback<NoInfer<T>> },
  ): Variable<T, T>;
  variable<T>(name: string, spec: VariableSpec<T, T | undefined>): Variable<T, T | undefined>;
  variable<T>(name: string, spec: VariableSpec<T, T | undefined>): Variable<T, T | undefined> {
    const variable = { kind: 'variable' as const, name, fallback: undefined, ...spec };
    this.entries.push(variable as AnyVariable);
    return variable;
  }

  family<K, T>(spec: Omit<Family<K, T>, 'kind'>): Family<K, T> {
    const family: Family<K, T> = { kind: 'family', ...spec };
    this.entries.push(family as AnyFamily);
    return family;
  }

  /** Every name it reads, family members included. */
  names(): string[] {
    return this.entries.flatMap((entry) =>
      entry.kind === 'variable' ? [entry.name] : entry.keys().map((key) => entry.name(key)),
    );
  }

  /** Parses every variable now, so one attempt names every malformed one. */
  read(env: Environment): ConfigValues {
    const variables = this.entries.filter((entry) => entry.kind === 'variable');
    return new ConfigValues(env, variables);
  }
}

/**
 * One environment's variables, parsed, with their defaults. Every problem found is kept in
 * `problems`, for one ConfigError to name them all; no message carries a variable's value
 * (secrets among them) except where its parser says so (a CORS origin).
 */
export class ConfigValues {
  readonly problems: string[] = [];
  private readonly parsed = new Map<string, unknown>();
  private readonly resolved = new Map<string, unknown>();
  private readonly resolving = new Set<string>();

  constructor(
    private readonly env: Environment,
    variables: readonly AnyVariable[],
  ) {
    for (const variable of variables) {
      this.parsed.set(variable.name, this.parse(variable.name, variable.parser));
    }
  }

  /** As set: undefined when unset, empty or malformed. */
  given<T>(variable: Variable<T, T | undefined>): T | undefined {
    return this.parsed.get(variable.name) as T | undefined;
  }

  /** As set, or else its default. */
  value<T, R extends T | undefined>(variable: Variable<T, R>): R {
    const given = this.given(variable);
    if (given !== undefined) return given as R;
    const { name, fallback } = variable;
    if (!this.resolved.has(name)) {
      // A default may read other variables' values; one that reaches itself is a bug.
      if (this.resolving.has(name)) throw new Error(`the default of ${name} depends on itself`);
      this.resolving.add(name);
      const compute = typeof fallback === 'function' ? (fallback as (values: this) => R) : null;
      this.resolved.set(name, compute ? compute(this) : fallback);
      this.resolving.delete(name);
    }
    return this.resolved.get(name) as R;
  }

  /** One member of a family, parsed on first use; `required` names when it must be set. */
  member<K, T>(family: Family<K, T>, key: K, required?: string): T | undefined {
    const name = family.name(key);
    if (!this.parsed.has(name)) {
      if (required !== undefined && emptyToUndefined(this.env[name]) === undefined) {
        this.problems.push(`${name} is required ${required}`);
      }
      this.parsed.set(name, this.parse(name, family.parser));
    }
    return this.parsed.get(name) as T | undefined;
  }

  private parse<T>(name: string, parser: Parser<T>): T | undefined {
    const result = parser.safeParse(this.env[name]);
    if (result.success) return result.data;
    for (const { message } of result.error.issues) {
      this.problems.push(message.startsWith(name) ? message : `${name} ${message}`);
    }
    return undefined;
  }
}
