import { Field, ID, ObjectType } from 'type-graphql';
import { findProduct } from '../../catalog';
import type { Subscription } from '../../entities';
import { SubscriptionStatusEnum } from './enums';
import { ProductType } from './product.type';

@ObjectType('BillingSubscription', { simpleResolvers: true })
export class BillingSubscriptionType {
  @Field(() => ID)
  id!: string;

  @Field(() => ProductType)
  product!: ProductType;

  @Field(() => SubscriptionStatusEnum)
  status!: SubscriptionStatusEnum;

  @Field()
  currentPeriodStart!: Date;

  @Field()
  currentPeriodEnd!: Date;

  @Field()
  cancelAtPeriodEnd!: boolean;

  static from(subscription: Subscription): BillingSubscriptionType {
    const product = findProduct(subscription.productId);
    if (!product) throw new Error(`subscription ${subscription.id} has unknown product`);
    return Object.assign(new BillingSubscriptionType(), {
      id: subscription.id,
      product: ProductType.from(product),
      status: subscription.status as SubscriptionStatusEnum,
      currentPeriodStart: subscription.currentPeriodStart,
      currentPeriodEnd: subscription.currentPeriodEnd,
      cancelAtPeriodEnd: subscription.cancelAtPeriodEnd,
    });
  }
}
