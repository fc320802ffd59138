import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { requireEndUser, requireRole } from '../context';
import {
  decodeIdCursor,
  decodeSeqCursor,
  encodeIdCursor,
  encodeSeqCursor,
  toConnection,
} from '../cursors';
import {
  CreditTransactionConnection,
  CreditTransactionType,
} from '../types/credit-transaction.type';
import { OrderConnection, OrderType } from '../types/order.type';
import { BillingSubscriptionType } from '../types/subscription.type';
import { UserProfileType } from '../types/user-profile.type';

const DEFAULT_PAGE_SIZE = 20;

@Resolver(() => UserProfileType)
export class ProfileResolver {
  @Query(() => UserProfileType, {
    description: "The caller's profile, created on first use. User token.",
  })
  async me(@Ctx() ctx: GraphQLContext): Promise<UserProfileType> {
    const caller = requireEndUser(ctx);
    const profile = await ctx.services.profiles.getOrCreateProfile(caller.subject);
    return UserProfileType.from(profile);
  }

  @Query(() => UserProfileType, {
    nullable: true,
    description: "Any user's profile. Service or admin token.",
  })
  async userProfile(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UserProfileType | null> {
    requireRole(ctx, 'service', 'admin');
    const profile = await ctx.services.profiles.findProfile(id);
    return profile ? UserProfileType.from(profile) : null;
  }

  // The fields below are reached only through a profile the caller was allowed to load
  // (their own, or any for service/admin), so they scope by the parent's id.

  @FieldResolver(() => String, {
    description: "'free', or the product id of the active subscription.",
  })
  plan(@Root() profile: UserProfileType, @Ctx() ctx: GraphQLContext): Promise<string> {
    return ctx.services.billing.queries.planOf(profile.id);
  }

  @FieldResolver(() => Int, {
    description: 'Credits on unexpired holds (reservations); part of credits, not spendable.',
  })
  async reservedCredits(
    @Root() profile: UserProfileType,
    @Ctx() ctx: GraphQLContext,
  ): Promise<number> {
    return (await ctx.services.profiles.creditsOf(profile.id))?.reserved ?? 0;
  }

  @FieldResolver(() => Int, {
    description:
      'What a deduction or a new hold may take now: credits minus reservedCredits (negative after a clawback).',
  })
  async availableCredits(
    @Root() profile: UserProfileType,
    @Ctx() ctx: GraphQLContext,
  ): Promise<number> {
    // From the credits this response shows, so the three fields always add up.
    return profile.credits - ((await ctx.services.profiles.creditsOf(profile.id))?.reserved ?? 0);
  }

  @FieldResolver(() => BillingSubscriptionType, { nullable: true })
  async subscription(
    @Root() profile: UserProfileType,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BillingSubscriptionType | null> {
    const subscription = await ctx.services.billing.queries.currentSubscription(profile.id);
    return subscription ? BillingSubscriptionType.from(subscription) : null;
  }

  @FieldResolver(() => OrderConnection, { description: 'Newest first.' })
  async orders(
    @Root() profile: UserProfileType,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: DEFAULT_PAGE_SIZE })
    first: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<OrderConnection> {
    const page = await ctx.services.billing.queries.listOrders({
      userId: profile.id,
      first: first ?? DEFAULT_PAGE_SIZE,
      afterOrderId: after ? decodeIdCursor(after) : undefined,
    });
    return toConnection(
      page.orders,
      page.hasNextPage,
      (order) => encodeIdCursor(order.id),
      (order) => OrderType.from(order),
    );
  }

  @FieldResolver(() => CreditTransactionConnection, { description: 'Newest first.' })
  async creditTransactions(
    @Root() profile: UserProfileType,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: DEFAULT_PAGE_SIZE })
    first: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<CreditTransactionConnection> {
    const page = await ctx.services.profiles.listTransactions({
      userId: profile.id,
      first: first ?? DEFAULT_PAGE_SIZE,
      afterSeq: after ? decodeSeqCursor(after) : undefined,
    });
    return toConnection(
      page.transactions,
      page.hasNextPage,
      (row) => encodeSeqCursor(row.seq),
      (row) => CreditTransactionType.from(row),
    );
  }
}
