import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { CreditTransaction } from '../../entities';
import { CreditTransactionTypeEnum } from './enums';
import { PageInfo } from './page-info.type';

@ObjectType('CreditTransaction', { simpleResolvers: true })
export class CreditTransactionType {
  @Field(() => ID)
  id!: string;

  @Field(() => CreditTransactionTypeEnum)
  type!: CreditTransactionTypeEnum;

  @Field(() => Int, { description: 'Signed: positive adds credits, negative takes them.' })
  amount!: number;

  @Field(() => Int)
  balanceAfter!: number;

  @Field()
  description!: string;

  @Field(() => ID, { nullable: true })
  orderId!: string | null;

  @Field(() => ID, { nullable: true })
  subscriptionId!: string | null;

  @Field(() => ID, { nullable: true, description: 'For a REFUND: the CONSUMPTION it gives back.' })
  refundedTransactionId!: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'For a CONSUMPTION that captured a reservation: that reservation.',
  })
  reservationId!: string | null;

  @Field()
  createdAt!: Date;

  static from(row: CreditTransaction): CreditTransactionType {
    return Object.assign(new CreditTransactionType(), {
      id: row.id,
      type: row.type as CreditTransactionTypeEnum,
      amount: row.amount,
      balanceAfter: row.balanceAfter,
      description: row.description,
      orderId: row.orderId,
      subscriptionId: row.subscriptionId,
      refundedTransactionId: row.refundedTransactionId,
      reservationId: row.reservationId,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType('CreditTransactionEdge', { simpleResolvers: true })
export class CreditTransactionEdge {
  @Field()
  cursor!: string;

  @Field(() => CreditTransactionType)
  node!: CreditTransactionType;
}

@ObjectType('CreditTransactionConnection', { simpleResolvers: true })
export class CreditTransactionConnection {
  @Field(() => [CreditTransactionEdge])
  edges!: CreditTransactionEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
