import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { BalanceEvent } from '../../realtime';
import { CreditTransactionType } from './credit-transaction.type';

@ObjectType('BalanceChange', {
  simpleResolvers: true,
  description: 'A committed ledger movement and the balance it left.',
})
export class BalanceChangeType {
  @Field(() => ID)
  userId!: string;

  @Field(() => Int)
  balance!: number;

  @Field(() => CreditTransactionType)
  transaction!: CreditTransactionType;

  static from(event: BalanceEvent): BalanceChangeType {
    return Object.assign(new BalanceChangeType(), {
      userId: event.userId,
      balance: event.balance,
      transaction: CreditTransactionType.from(event.transaction),
    });
  }
}
