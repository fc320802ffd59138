import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { DomainError } from '../../errors';
import { assertPageSize } from '../../ledger';
import type { GraphQLContext } from '../context';
import { requireEndUser, requireRole } from '../context';
import { decodeIdCursor, encodeIdCursor, toConnection } from '../cursors';
import {
  CancelSubscriptionInput,
  WebhookEventConnection,
  WebhookEventType,
} from '../types/admin.type';
import { WebhookEventStatusEnum } from '../types/enums';
import { OrderType } from '../types/order.type';
import { BillingSubscriptionType } from '../types/subscription.type';

@Resolver()
export class BillingAdminResolver {
  @Mutation(() => BillingSubscriptionType, {
    description:
      "User token. Cancels the caller's subscription, by default at the end of the period.",
  })
  async cancelSubscription(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => CancelSubscriptionInput, { nullable: true })
    input?: CancelSubscriptionInput | null,
  ): Promise<BillingSubscriptionType> {
    const caller = requireEndUser(ctx);
    const { subscription } = await ctx.services.billing.cancelSubscription({
      userId: caller.subject,
      atPeriodEnd: input?.atPeriodEnd ?? true,
    });
    return BillingSubscriptionType.from(subscription);
  }

  @Query(() => [OrderType], { description: 'Pending orders older than the threshold. Admin.' })
  async stuckOrders(
    @Ctx() ctx: GraphQLContext,
    @Arg('olderThanMinutes', () => Int, { nullable: true, defaultValue: 15 })
    olderThanMinutes: number,
  ): Promise<OrderType[]> {
    requireRole(ctx, 'admin');
    return (await ctx.services.billing.stuckOrders({ olderThanMinutes })).map((o) =>
      OrderType.from(o),
    );
  }

  @Mutation(() => OrderType, {
    description:
      'Admin token. Verifies a pending order with the provider and completes or cancels it.',
  })
  async reconcileOrder(
    @Arg('orderId', () => ID) orderId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<OrderType> {
    const caller = requireRole(ctx, 'admin');
    ctx.logger.info({ admin: caller.subject, orderId }, 'admin reconciles an order');
    const { order } = await ctx.services.billing.reconcileOrder({ orderId });
    return OrderType.from(order);
  }

  @Query(() => WebhookEventConnection, {
    description: 'Admin token. Provider webhooks as received, newest first.',
  })
  async webhookEvents(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('status', () => WebhookEventStatusEnum, { nullable: true })
    status?: WebhookEventStatusEnum | null,
    @Arg('errorCode', () => String, {
      nullable: true,
      description:
        'Only events stopped by this condition (SUBSCRIPTION_NOT_YET_KNOWN, PAYMENT_MISMATCH, …).',
    })
    errorCode?: string | null,
  ): Promise<WebhookEventConnection> {
    requireRole(ctx, 'admin');
    assertPageSize(first);
    if (errorCode && !/^[A-Z_]{1,48}$/.test(errorCode)) {
      throw new DomainError('BAD_USER_INPUT', 'errorCode must be an error code');
    }
    const page = await ctx.services.billing.listWebhookEvents({
      first,
      afterId: after ? decodeIdCursor(after) : undefined,
      status: status ?? undefined,
      errorCode: errorCode ?? undefined,
    });
    return toConnection(
      page.events,
      page.hasNextPage,
      (e) => encodeIdCursor(e.id),
      (e) => WebhookEventType.from(e),
    );
  }

  @Mutation(() => WebhookEventType, {
    description:
      'Admin token. Applies a stored FAILED (or never applied) webhook event again; one already applied is returned unchanged.',
  })
  async replayWebhookEvent(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEventType> {
    const caller = requireRole(ctx, 'admin');
    ctx.logger.info({ admin: caller.subject, webhookEventId: id }, 'admin replays a webhook');
    const { event } = await ctx.services.billing.replayWebhookEvent({ id });
    return WebhookEventType.from(event);
  }
}
