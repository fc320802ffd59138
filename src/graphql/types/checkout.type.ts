import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { OrderType } from './order.type';

@InputType('CreateCheckoutInput')
export class CreateCheckoutInput {
  @Field(() => ID)
  productId!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Per user, 1 to 255 characters: a retry with the same key returns the same order.',
  })
  idempotencyKey?: string | null;
}

@ObjectType('CreateCheckoutPayload', { simpleResolvers: true })
export class CreateCheckoutPayload {
  @Field(() => OrderType)
  order!: OrderType;

  @Field({ description: "The provider's hosted payment page: send the user's browser there." })
  checkoutUrl!: string;
}
