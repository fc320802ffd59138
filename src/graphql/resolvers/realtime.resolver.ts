import { Arg, ID, Resolver, Root, Subscription } from 'type-graphql';
import { DomainError } from '../../errors';
import type { BalanceEvent, OrderEvent } from '../../realtime';
import { assertUserId } from '../../ledger';
import type { AuthenticatedCaller, GraphQLContext } from '../context';
import { requireAuthenticated } from '../context';
import { toClientError } from '../errors';
import { OrderType } from '../types/order.type';
import { BalanceChangeType } from '../types/realtime.type';

interface SubscribeData<Args> {
  args: Args;
  context: GraphQLContext;
}

function live(ctx: GraphQLContext): NonNullable<GraphQLContext['live']> {
  if (!ctx.live) {
    throw new DomainError('BAD_USER_INPUT', 'Subscriptions are served over WebSocket on /graphql');
  }
  return ctx.live;
}

/**
 * Whose updates the caller may watch: their own (user and admin tokens, no userId), any
 * user's for service and admin tokens. A user naming someone else is FORBIDDEN.
 */
function watchedUser(caller: AuthenticatedCaller, userId: string | null | undefined): string {
  if (userId === undefined || userId === null) {
    if (caller.role === 'service') {
      throw new DomainError('BAD_USER_INPUT', 'A service token must name the userId to watch');
    }
    return caller.subject;
  }
  assertUserId(userId);
  if (userId !== caller.subject && caller.role === 'user') {
    throw new DomainError('FORBIDDEN', "Only service or admin tokens may watch another user's");
  }
  return userId;
}

/**
 * A subscription's `subscribe` runs outside the resolver middleware: map its refusals to
 * client errors (FORBIDDEN, NOT_FOUND…) the same way, and mask anything else.
 */
async function mapErrors<T>(ctx: GraphQLContext, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toClientError(error, ctx.logger);
  }
}

@Resolver()
export class RealtimeResolver {
  @Subscription(() => BalanceChangeType, {
    description:
      "The caller's balance after each committed change. userId: service or admin tokens only.",
    subscribe: ({ args, context }: SubscribeData<{ userId?: string | null }>) =>
      mapErrors(context, () => {
        const caller = requireAuthenticated(context);
        const userId = watchedUser(caller, args.userId);
        const { bufferEvents, closeSlowConsumer } = live(context);
        return context.services.realtime.balanceChanges(userId, {
          bufferSize: bufferEvents,
          onOverflow: closeSlowConsumer,
        });
      }),
  })
  balanceChanged(
    @Root() event: BalanceEvent,
    @Arg('userId', () => ID, { nullable: true }) _userId?: string,
  ): BalanceChangeType {
    return BalanceChangeType.from(event);
  }

  @Subscription(() => OrderType, {
    description:
      "The caller's orders as their status changes (completed, cancelled, refunded). With orderId: that order only, starting with its current state, so a checkout page cannot miss a webhook that came first. userId: service or admin tokens only.",
    subscribe: async ({
      args,
      context,
    }: SubscribeData<{ orderId?: string | null; userId?: string | null }>) =>
      mapErrors(context, async () => {
        const caller = requireAuthenticated(context);
        const userId = watchedUser(caller, args.userId);
        const { bufferEvents, closeSlowConsumer } = live(context);
        const listen = { bufferSize: bufferEvents, onOverflow: closeSlowConsumer };
        if (args.orderId === undefined || args.orderId === null) {
          return context.services.realtime.orderChanges(userId, listen);
        }
        const orderId = args.orderId;
        // Listening starts before the read, so a change committed around it is either in the
        // state read or announced after it: none is missed.
        const updates = context.services.realtime.orderChanges(userId, { ...listen, orderId });
        try {
          const order = await context.services.billing.queries.findOrder(orderId);
          if (!order || order.userId !== userId) {
            throw new DomainError('NOT_FOUND', 'Order not found');
          }
          updates.startWith(order);
          return updates;
        } catch (error) {
          await updates.return?.();
          throw error;
        }
      }),
  })
  orderStatusChanged(
    @Root() event: OrderEvent,
    @Arg('orderId', () => ID, { nullable: true }) _orderId?: string,
    @Arg('userId', () => ID, { nullable: true }) _userId?: string,
  ): OrderType {
    return OrderType.from(event.order);
  }
}
