import request from 'supertest';
import { gql } from '../support/graphql';
import type { TestServer } from '../support/server';
import type { KnownValues } from './graphql-documents';

/** What the provider knows of the fixtures, for webhooks that name real things. */
export interface ProviderFacts {
  /** Orders with their checkouts: pending packs, a paid pack, a paid plan. */
  orders: Array<{ orderId: string; checkoutId: string; amount: number; currency: string }>;
  /** Provider transaction ids of recorded payments (the paid pack, the plan, its renewal). */
  transactionIds: string[];
  subscriptionIds: string[];
  /** Provider event ids already stored (duplicates). */
  eventIds: string[];
}

export interface Fixtures {
  known: KnownValues;
  provider: ProviderFacts;
  tokens: { user: string; service: string; admin: string };
}

/**
 * Real state to fuzz against, made through the public API and the mock provider's
 * dashboard: users with credits, a consumption, a hold, a pending order, a paid pack, a
 * plan with a renewal, stored webhook events and the cursors of their pages.
 */
export async function createFixtures(t: TestServer): Promise<Fixtures> {
  const admin = await t.token('fuzz-admin', 'admin');
  const service = await t.token('fuzz-service', 'service');
  const users = ['fuzz-u1', 'fuzz-u2', 'fuzz-u3'];
  const userTokens = await Promise.all(users.map((u) => t.token(u)));
  const ok = async <T>(res: Promise<{ status: number; body: Record<string, unknown> }>) => {
    const { status, body } = await res;
    if (status !== 200 || body['errors']) {
      throw new Error(`fixture request failed: ${status} ${JSON.stringify(body)}`);
    }
    return body['data'] as T;
  };

  for (const token of userTokens) await ok(gql(t.url, '{ me { id } }', { token }));
  for (const userId of users.slice(0, 2)) {
    await ok(
      gql(t.url, `mutation($i: AdjustCreditsInput!) { adjustCredits(input: $i) { balance } }`, {
        token: admin,
        variables: {
          i: { userId, amount: 1000, description: 'fuzz', idempotencyKey: `seed-${userId}` },
        },
      }),
    );
  }
  const deducted = await ok<{ deductCredits: { transaction: { id: string } } }>(
    gql(
      t.url,
      `mutation($i: DeductCreditsInput!) { deductCredits(input: $i) { transaction { id } } }`,
      {
        token: service,
        variables: {
          i: { userId: 'fuzz-u1', amount: 10, description: 'fuzz', idempotencyKey: 'seed-deduct' },
        },
      },
    ),
  );
  const held = await ok<{ reserveCredits: { id: string } }>(
    gql(t.url, `mutation($i: ReserveCreditsInput!) { reserveCredits(input: $i) { id } }`, {
      token: service,
      variables: {
        i: { userId: 'fuzz-u1', amount: 5, description: 'fuzz', idempotencyKey: 'seed-hold' },
      },
    }),
  );

  const checkout = async (token: string, productId: string) =>
    (
      await ok<{
        createCheckout: {
          order: { id: string; checkoutId: string; amount: number; currency: string };
        };
      }>(
        gql(
          t.url,
          `mutation($i: CreateCheckoutInput!) {
             createCheckout(input: $i) { order { id checkoutId amount currency } }
           }`,
          { token, variables: { i: { productId } } },
        ),
      )
    ).createCheckout.order;
  // Several pending orders: webhooks change them (cancel, complete), so one would not last.
  const pending = await checkout(userTokens[1]!, 'credits-100');
  const morePending = [
    await checkout(userTokens[1]!, 'credits-1000'),
    await checkout(userTokens[0]!, 'credits-100'),
    await checkout(userTokens[2]!, 'credits-100'),
  ];
  const pack = await checkout(userTokens[0]!, 'credits-1000');
  const plan = await checkout(userTokens[2]!, 'plan-monthly');
  const paidPack = await request(t.url).post(`/mock-checkout/${pack.checkoutId}/pay`).send({});
  const paidPlan = await request(t.url).post(`/mock-checkout/${plan.checkoutId}/pay`).send({});
  const renewed = await request(t.url).post(`/mock-checkout/${plan.checkoutId}/renew`).send({});
  for (const res of [paidPack, paidPlan, renewed]) {
    if (res.status !== 200) throw new Error(`mock dashboard: ${res.status} ${res.text}`);
  }

  const pages = await ok<{
    me: {
      orders: { pageInfo: { endCursor: string } };
      creditTransactions: { pageInfo: { endCursor: string } };
    };
  }>(
    gql(
      t.url,
      `{ me { orders(first: 1) { pageInfo { endCursor } }
              creditTransactions(first: 1) { pageInfo { endCursor } } } }`,
      { token: userTokens[0]! },
    ),
  );
  const events = await ok<{
    webhookEvents: {
      edges: Array<{ node: { id: string; eventId: string } }>;
      pageInfo: { endCursor: string };
    };
  }>(
    gql(
      t.url,
      `{ webhookEvents(first: 10) { edges { node { id eventId } } pageInfo { endCursor } } }`,
      {
        token: admin,
      },
    ),
  );
  const subscriptionRows = (await t.server.dataSource.query(
    `SELECT id, provider_subscription_id FROM subscriptions`,
  )) as Array<{ id: string; provider_subscription_id: string }>;

  const eventData = (res: request.Response) => res.body.event.data as Record<string, string>;
  return {
    tokens: { user: userTokens[0]!, service, admin },
    known: {
      userIds: [...users, 'fuzz-admin', 'fuzz-service', 'nobody'],
      ids: [
        deducted.deductCredits.transaction.id,
        held.reserveCredits.id,
        pending.id,
        ...morePending.map((o) => o.id),
        pack.id,
        plan.id,
        ...events.webhookEvents.edges.map((e) => e.node.id),
        ...subscriptionRows.map((r) => r.id),
      ],
      productIds: ['credits-100', 'credits-1000', 'plan-monthly', 'plan-legacy', 'nope'],
      cursors: [
        pages.me.orders.pageInfo.endCursor,
        pages.me.creditTransactions.pageInfo.endCursor,
        events.webhookEvents.pageInfo.endCursor,
      ].filter(Boolean),
      idempotencyKeys: ['seed-fuzz-u1', 'seed-deduct', 'seed-hold', 'k1'],
    },
    provider: {
      orders: [pending, ...morePending, pack, plan].map((o) => ({
        orderId: o.id,
        checkoutId: o.checkoutId,
        amount: o.amount,
        currency: o.currency,
      })),
      transactionIds: [
        eventData(paidPack)['transaction_id']!,
        eventData(paidPlan)['transaction_id']!,
        eventData(renewed)['transaction_id']!,
      ],
      subscriptionIds: subscriptionRows.map((r) => r.provider_subscription_id),
      eventIds: events.webhookEvents.edges.map((e) => e.node.eventId),
    },
  };
}
