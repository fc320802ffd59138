import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { requireEndUser } from '../context';
import { CreateCheckoutInput, CreateCheckoutPayload } from '../types/checkout.type';
import { OrderType } from '../types/order.type';

@Resolver()
export class CheckoutResolver {
  @Mutation(() => CreateCheckoutPayload, {
    description:
      'User token. Starts a checkout for a product and returns the hosted payment page. One plan at a time: ALREADY_SUBSCRIBED while the user has an active or past-due subscription; an open checkout of the same plan is returned again.',
  })
  async createCheckout(
    @Arg('input', () => CreateCheckoutInput) input: CreateCheckoutInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreateCheckoutPayload> {
    const caller = requireEndUser(ctx);
    const result = await ctx.services.billing.createCheckout({
      userId: caller.subject,
      productId: input.productId,
      ...(typeof input.idempotencyKey === 'string' ? { idempotencyKey: input.idempotencyKey } : {}),
    });
    return Object.assign(new CreateCheckoutPayload(), {
      order: OrderType.from(result.order),
      checkoutUrl: result.checkoutUrl,
    });
  }
}
