import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { Product } from '../../catalog';
import { BillingIntervalEnum, ProductKindEnum } from './enums';

@ObjectType('Product', { simpleResolvers: true })
export class ProductType {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => ProductKindEnum)
  kind!: ProductKindEnum;

  @Field(() => Int, { description: 'Minor units (cents).' })
  price!: number;

  @Field()
  currency!: string;

  @Field(() => Int, {
    description: 'Credits per purchase, or per billing period for a subscription.',
  })
  credits!: number;

  @Field(() => BillingIntervalEnum, { nullable: true })
  interval!: BillingIntervalEnum | null;

  static from(product: Product): ProductType {
    return Object.assign(new ProductType(), {
      id: product.id,
      name: product.name,
      kind: product.kind as ProductKindEnum,
      price: product.priceMinor,
      currency: product.currency,
      credits: product.credits,
      interval: product.interval as BillingIntervalEnum | null,
    });
  }
}
