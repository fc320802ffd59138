import {
  billingClassSize,
  statusOwner,
  STATUS_OWNER,
  MAX_PUBLIC_METHODS,
  parseSource,
  runRules,
  type SourceRule,
} from '../../scripts/source-rules';

/** A class body of `n` public methods named m1…mn, plus `extra` lines. */
function classWith(n: number, extra = ''): string {
  const methods = Array.from({ length: n }, (_, i) => `  m${i + 1}(): number { return ${i}; }`);
  return `export class Billing {\n  constructor(private readonly x: number) {}\n${methods.join('\n')}\n${extra}\n}\n`;
}

const check = (path: string, text: string, rules = [billingClassSize]) =>
  runRules([parseSource(path, text)], rules);

describe('source rules (scripts/source-rules.ts)', () => {
  it(`billing-class-size: a billing class with ${MAX_PUBLIC_METHODS + 1} public methods fails`, () => {
    const violations = check('src/billing/big.ts', classWith(MAX_PUBLIC_METHODS + 1));
    expect(violations).toEqual([
      expect.objectContaining({
        rule: 'billing-class-size',
        path: 'src/billing/big.ts',
        line: 1,
        message: expect.stringContaining('Billing has 11 public methods'),
      }),
    ]);
  });

  it(`billing-class-size: ${MAX_PUBLIC_METHODS} public methods and any number of hidden ones pass`, () => {
    const hidden = [
      '  private p1(): void {}',
      '  protected p2(): void {}',
      '  #p3(): void {}',
      '  private readonly p4 = () => 1;',
      '  get size(): number { return 1; }',
    ].join('\n');
    expect(check('src/billing/ok.ts', classWith(MAX_PUBLIC_METHODS, hidden))).toEqual([]);
  });

  it('billing-class-size: function-valued properties count, overloads count once', () => {
    const property = '  m11 = (): number => 11;';
    expect(check('src/billing/props.ts', classWith(MAX_PUBLIC_METHODS, property))).toHaveLength(1);
    const overloaded = [
      '  m10(a: string): number;',
      '  m10(a: number): number;',
      '  m10(a: string | number): number { return Number(a); }',
    ].join('\n');
    expect(
      check('src/billing/overloads.ts', classWith(MAX_PUBLIC_METHODS - 1, overloaded)),
    ).toEqual([]);
  });

  it('billing-class-size reads src/billing/ only', () => {
    expect(check('src/ledger/big.ts', classWith(MAX_PUBLIC_METHODS + 5))).toEqual([]);
  });

  it('an allow-list entry excuses its file, and is reported once it excuses nothing', () => {
    const rule: SourceRule = { ...billingClassSize, allow: { 'src/billing/big.ts': 'test' } };
    expect(check('src/billing/big.ts', classWith(MAX_PUBLIC_METHODS + 1), [rule])).toEqual([]);
    expect(check('src/billing/big.ts', classWith(MAX_PUBLIC_METHODS), [rule])).toEqual([
      expect.objectContaining({
        path: 'src/billing/big.ts',
        message: expect.stringMatching(/allow list/),
      }),
    ]);
  });

  it('a new rule is a name, the files it reads and a check', () => {
    const noTodo: SourceRule = {
      name: 'no-todo',
      appliesTo: (path) => path.startsWith('src/'),
      check: ({ source }) =>
        source.text.includes('TODO') ? [{ line: 1, message: 'a TODO is an issue' }] : [],
    };
    expect(check('src/x.ts', '// TODO', [noTodo])).toEqual([
      { rule: 'no-todo', path: 'src/x.ts', line: 1, message: 'a TODO is an issue' },
    ]);
  });

  describe('status-owner: only billing/status.ts writes orders and subscriptions', () => {
    const writers = [
      "await manager.query(`UPDATE orders SET status = 'CANCELLED' WHERE id = $1`, [id]);",
      "await ds.query('update subscriptions set cancel_at_period_end = true');",
      'await m.query(`INSERT INTO orders (user_id) VALUES ($1)`, [u]);',
      'await m.query(`DELETE FROM "subscriptions" WHERE id = ${"$"}1`, [id]);',
      'await manager.insert(Order, order);',
      'await manager.update(Subscription, { id }, { status: "ACTIVE" });',
      'await ds.getRepository(Order).save(order);',
      'await ds.manager.getRepository(Subscription).delete({ id });',
    ];
    it.each(writers)('a write elsewhere fails: %s', (line) => {
      const violations = check('src/billing/elsewhere.ts', `async function f() {\n${line}\n}`, [
        statusOwner,
      ]);
      expect(violations).toEqual([
        expect.objectContaining({
          rule: 'status-owner',
          path: 'src/billing/elsewhere.ts',
          line: 2,
        }),
      ]);
    });
    it('reads, other tables, and the owner itself pass', () => {
      const reads = [
        "await m.query('SELECT status FROM orders WHERE id = $1 FOR UPDATE', [id]);",
        'await ds.getRepository(Order).findOneBy({ id });',
        "await m.query('UPDATE subscription_payments SET refunded_minor = $2 WHERE id = $1');",
        "await m.query('UPDATE webhook_events SET status = $2 WHERE id = $1');",
        'const order = manager.create(Order, fields);',
      ].join('\n');
      expect(
        check('src/billing/reader.ts', `async function f() {\n${reads}\n}`, [statusOwner]),
      ).toEqual([]);
      expect(
        check(STATUS_OWNER, `async function f() {\n${writers.join('\n')}\n}`, [statusOwner]),
      ).toEqual([]);
    });
  });
});
