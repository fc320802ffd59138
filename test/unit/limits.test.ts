import { parse } from 'graphql';
import { buildTallySchema } from '../../src/graphql';
import { cachedQueryCost, costVariables, queryCost } from '../../src/graphql/limits';

describe('query cost', () => {
  const document = parse(`
    query History($first: Int, $withOrders: Boolean!, $unused: String) {
      me {
        creditTransactions(first: $first) { edges { node { id amount } } }
        orders(first: 5) @include(if: $withOrders) { edges { node { id } } }
      }
    }`);

  it('knows which variables the cost depends on', () => {
    expect(costVariables(document)).toEqual(['first', 'withOrders']);
  });

  it('caches per document and per value of those variables, never across them', async () => {
    const schema = await buildTallySchema();
    const at = (variables: Record<string, unknown>) => cachedQueryCost(schema, document, variables);
    const small = at({ first: 1, withOrders: false, unused: 'a' });
    const large = at({ first: 100, withOrders: false, unused: 'b' });
    const withOrders = at({ first: 1, withOrders: true, unused: 'c' });
    expect(large).toBeGreaterThan(small);
    expect(withOrders).toBeGreaterThan(small);
    // A value of an unrelated variable changes nothing, and the cached figures are the
    // uncached ones.
    expect(at({ first: 1, withOrders: false, unused: 'z' })).toBe(small);
    expect(small).toBe(queryCost(schema, document, { first: 1, withOrders: false }));
    expect(large).toBe(queryCost(schema, document, { first: 100, withOrders: false }));
  });
});
