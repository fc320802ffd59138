import type { ProductKind } from '../entities';

export type BillingInterval = 'MONTH' | 'YEAR';

/** A sellable item. Prices are integer minor units of an ISO-4217 currency. */
export interface Product {
  id: string;
  name: string;
  kind: ProductKind;
  priceMinor: number;
  currency: string;
  /** Credits per purchase, or per billing period for a subscription. */
  credits: number;
  interval: BillingInterval | null;
}

/**
 * The catalog: the one source of truth for SKUs, prices and credits. Orders copy price and
 * credits at checkout, so editing a product here never changes a past order.
 */
export const PRODUCTS: readonly Product[] = Object.freeze([
  {
    id: 'credits-100',
    name: '100 credits',
    kind: 'CREDIT_PACK',
    priceMinor: 500,
    currency: 'USD',
    credits: 100,
    interval: null,
  },
  {
    id: 'credits-1000',
    name: '1,000 credits',
    kind: 'CREDIT_PACK',
    priceMinor: 4000,
    currency: 'USD',
    credits: 1000,
    interval: null,
  },
  {
    id: 'plan-monthly',
    name: 'Monthly plan: 500 credits a month',
    kind: 'SUBSCRIPTION',
    priceMinor: 1900,
    currency: 'USD',
    credits: 500,
    interval: 'MONTH',
  },
] satisfies Product[]);

/** Refuses a malformed catalog at load time rather than at the first checkout. */
export function assertValidCatalog(products: readonly Product[]): void {
  const ids = new Set<string>();
  for (const p of products) {
    const where = `catalog product "${p.id}"`;
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(p.id)) throw new Error(`${where}: malformed id`);
    if (ids.has(p.id)) throw new Error(`${where}: duplicate id`);
    ids.add(p.id);
    if (!Number.isSafeInteger(p.priceMinor) || p.priceMinor <= 0) {
      throw new Error(`${where}: priceMinor must be a positive integer`);
    }
    if (!Number.isSafeInteger(p.credits) || p.credits <= 0 || p.credits > 1_000_000_000) {
      throw new Error(`${where}: credits must be a positive integer`);
    }
    if (!/^[A-Z]{3}$/.test(p.currency)) throw new Error(`${where}: currency must be ISO-4217`);
    if ((p.kind === 'SUBSCRIPTION') !== (p.interval !== null)) {
      throw new Error(`${where}: a subscription has an interval and a credit pack none`);
    }
  }
}

assertValidCatalog(PRODUCTS);

const BY_ID = new Map(PRODUCTS.map((p) => [p.id, p]));

export function listProducts(): readonly Product[] {
  return PRODUCTS;
}

export function findProduct(id: string): Product | undefined {
  return BY_ID.get(id);
}
