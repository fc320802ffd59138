import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { buildSchema } from 'type-graphql';
import { errorMappingMiddleware } from './errors';
import { CatalogResolver } from './resolvers/catalog.resolver';
import { BillingAdminResolver } from './resolvers/billing-admin.resolver';
import { CheckoutResolver } from './resolvers/checkout.resolver';
import { CreditsResolver } from './resolvers/credits.resolver';
import { ProfileResolver } from './resolvers/profile.resolver';
import { RealtimeResolver } from './resolvers/realtime.resolver';

export const RESOLVERS = [
  CatalogResolver,
  ProfileResolver,
  CreditsResolver,
  CheckoutResolver,
  BillingAdminResolver,
  RealtimeResolver,
] as const;

/**
 * type-graphql insists on a PubSub when a schema has subscriptions; ours subscribe through
 * `Realtime` themselves (each @Subscription has its own `subscribe`), so this one is unused.
 */
const unusedPubSub = {
  publish: () => {
    throw new Error('subscriptions publish through Realtime');
  },
  subscribe: () => {
    throw new Error('subscriptions subscribe through Realtime');
  },
};

/** Builds the executable schema; schema/schema.graphql is this schema printed. */
export async function buildTallySchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    globalMiddlewares: [errorMappingMiddleware()],
    validate: { forbidUnknownValues: false },
    emitSchemaFile: false,
    pubSub: unusedPubSub,
  });
}
