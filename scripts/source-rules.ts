import ts from 'typescript';

/**
 * Rules about Tally's own source that ESLint and dependency-cruiser cannot say, checked by
 * `npm run lint` (scripts/check-source-rules.ts). To add one, append a `SourceRule` to
 * `RULES`: a name, the files it reads, and a function from a parsed file to its findings.
 */

/** A parsed source file, named by its path from the repository root ('/'-separated). */
export interface SourceFile {
  path: string;
  source: ts.SourceFile;
}

/** What a rule found wrong at one place of a file. */
export interface Finding {
  /** 1-based. */
  line: number;
  message: string;
}

export interface Violation extends Finding {
  rule: string;
  path: string;
}

export interface SourceRule {
  /** Kebab-case; printed with every violation. */
  name: string;
  /** Whether the rule reads this file (a path from the repository root). */
  appliesTo(path: string): boolean;
  check(file: SourceFile): Finding[];
  /**
   * Files exempt for now: path → why. An entry whose file no longer breaks the rule is
   * itself reported, so an exemption goes when its reason does.
   */
  allow?: Readonly<Record<string, string>>;
}

export function parseSource(path: string, text: string): SourceFile {
  return { path, source: ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true) };
}

function lineOf(source: ts.SourceFile, node: ts.Node): number {
  return source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
}

/** Every class in a file, nested and anonymous ones included. */
function classesIn(source: ts.SourceFile): ts.ClassLikeDeclaration[] {
  const found: ts.ClassLikeDeclaration[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) found.push(node);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * The names of a class's public methods: methods, and properties holding a function, that
 * are neither `private`/`protected` nor `#private`; the constructor and accessors are not
 * methods; overloads count once.
 */
export function publicMethods(cls: ts.ClassLikeDeclaration): string[] {
  const names = new Set<string>();
  for (const member of cls.members) {
    const isFunctionProperty =
      ts.isPropertyDeclaration(member) &&
      member.initializer !== undefined &&
      (ts.isArrowFunction(member.initializer) || ts.isFunctionExpression(member.initializer));
    if (!ts.isMethodDeclaration(member) && !isFunctionProperty) continue;
    if (ts.isPrivateIdentifier(member.name)) continue;
    const hidden = ts
      .getModifiers(member)
      ?.some(
        (m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword,
      );
    if (!hidden) names.add(member.name.getText());
  }
  return [...names];
}

/** Most public methods a billing class may have: past that it is several use cases. */
export const MAX_PUBLIC_METHODS = 10;

export const billingClassSize: SourceRule = {
  name: 'billing-class-size',
  appliesTo: (path) => path.startsWith('src/billing/'),
  check({ source }) {
    return classesIn(source).flatMap((cls) => {
      const methods = publicMethods(cls);
      if (methods.length <= MAX_PUBLIC_METHODS) return [];
      const name = cls.name?.text ?? '(anonymous class)';
      return [
        {
          line: lineOf(source, cls),
          message: `${name} has ${methods.length} public methods (at most ${MAX_PUBLIC_METHODS}): one use case, one function (STYLE.md 2)`,
        },
      ];
    });
  },
  // Exemptions, path → why, e.g. 'src/billing/x.ts': 'being split (issue N)'. None.
  allow: {},
};

/** The one module that writes orders and subscriptions (their statuses, periods, flags). */
export const STATUS_OWNER = 'src/billing/status.ts';

/** SQL that writes one of the two tables, in any string or template of the code. */
const WRITES_SQL =
  /\b(update|insert\s+into|delete\s+from|truncate(\s+table)?)\s+(only\s+)?"?(orders|subscriptions)"?(\s|$|\()/i;
/** TypeORM calls that write an entity's table when handed its class. */
const WRITING_CALLS = new Set([
  'insert',
  'update',
  'upsert',
  'save',
  'delete',
  'remove',
  'softDelete',
  'softRemove',
  'increment',
  'decrement',
]);
const OWNED_ENTITIES = new Set(['Order', 'Subscription']);

/** Whether a call writes Order or Subscription rows through TypeORM. */
function writesOwnedEntity(call: ts.CallExpression): boolean {
  if (!ts.isPropertyAccessExpression(call.expression)) return false;
  if (!WRITING_CALLS.has(call.expression.name.text)) return false;
  const [first] = call.arguments;
  if (first && ts.isIdentifier(first) && OWNED_ENTITIES.has(first.text)) return true;
  // getRepository(Order).save(…), manager.getRepository(Subscription).update(…)
  const target = call.expression.expression;
  return (
    ts.isCallExpression(target) &&
    ts.isPropertyAccessExpression(target.expression) &&
    target.expression.name.text === 'getRepository' &&
    target.arguments.some((a) => ts.isIdentifier(a) && OWNED_ENTITIES.has(a.text))
  );
}

/** Every SQL text and TypeORM call in a file that writes orders or subscriptions. */
function tableWrites(source: ts.SourceFile): ts.Node[] {
  const found: ts.Node[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isStringLiteral(node) ||
        ts.isNoSubstitutionTemplateLiteral(node) ||
        ts.isTemplateExpression(node)) &&
      WRITES_SQL.test(node.getText(source))
    ) {
      found.push(node);
    } else if (ts.isCallExpression(node) && writesOwnedEntity(node)) {
      found.push(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

export const statusOwner: SourceRule = {
  name: 'status-owner',
  appliesTo: (path) => path.startsWith('src/') && path !== STATUS_OWNER,
  check({ source }) {
    return tableWrites(source).map((node) => ({
      line: lineOf(source, node),
      message: `writes orders or subscriptions: only ${STATUS_OWNER} does (its table of legal moves, one clock, the event-time guard)`,
    }));
  },
};

/** Every rule `npm run lint` checks. */
export const RULES: readonly SourceRule[] = [billingClassSize, statusOwner];

/**
 * Runs `rules` over `files`: what breaks them, and the exemptions that no longer exempt
 * anything (their file is gone or now keeps the rule).
 */
export function runRules(
  files: readonly SourceFile[],
  rules: readonly SourceRule[] = RULES,
): Violation[] {
  const violations: Violation[] = [];
  for (const rule of rules) {
    const allow = rule.allow ?? {};
    const excused = new Set<string>();
    for (const file of files) {
      if (!rule.appliesTo(file.path)) continue;
      const findings = rule.check(file);
      if (findings.length === 0) continue;
      if (file.path in allow) excused.add(file.path);
      else for (const f of findings) violations.push({ rule: rule.name, path: file.path, ...f });
    }
    for (const path of Object.keys(allow)) {
      if (excused.has(path)) continue;
      violations.push({
        rule: rule.name,
        path,
        line: 1,
        message: `exempt, but keeps the rule now (or is gone): remove it from ${rule.name}'s allow list`,
      });
    }
  }
  return violations;
}
