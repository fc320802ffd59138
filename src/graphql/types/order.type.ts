import { Field, ID, Int, ObjectType } from 'type-graphql';
import { findProduct } from '../../catalog';
import type { Order } from '../../entities';
import { OrderStatusEnum } from './enums';
import { PageInfo } from './page-info.type';
import { ProductType } from './product.type';

@ObjectType('Order', { simpleResolvers: true })
export class OrderType {
  @Field(() => ID)
  id!: string;

  @Field(() => ProductType)
  product!: ProductType;

  @Field(() => OrderStatusEnum)
  status!: OrderStatusEnum;

  @Field(() => Int, { description: 'Minor units (cents) charged.' })
  amount!: number;

  @Field()
  currency!: string;

  @Field(() => Int)
  credits!: number;

  @Field(() => String, { nullable: true })
  checkoutId!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  completedAt!: Date | null;

  static from(order: Order): OrderType {
    const product = findProduct(order.productId);
    return Object.assign(new OrderType(), {
      id: order.id,
      // An order outlives its catalog entry: describe a retired product from the order.
      product: product
        ? ProductType.from(product)
        : Object.assign(new ProductType(), {
            id: order.productId,
            name: order.productId,
            kind: order.kind,
            price: order.amountMinor,
            currency: order.currency,
            credits: order.credits,
            interval: null,
          }),
      status: order.status as OrderStatusEnum,
      amount: order.amountMinor,
      currency: order.currency,
      credits: order.credits,
      checkoutId: order.checkoutId,
      createdAt: order.createdAt,
      completedAt: order.completedAt,
    });
  }
}

@ObjectType('OrderEdge', { simpleResolvers: true })
export class OrderEdge {
  @Field()
  cursor!: string;

  @Field(() => OrderType)
  node!: OrderType;
}

@ObjectType('OrderConnection', { simpleResolvers: true })
export class OrderConnection {
  @Field(() => [OrderEdge])
  edges!: OrderEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
