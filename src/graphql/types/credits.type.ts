import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { CreditReservation } from '../../entities';
import type { CreditDrift, CreditMovement } from '../../ledger';
import { CreditTransactionType } from './credit-transaction.type';
import { ReservationStatusEnum } from './enums';

@ObjectType('CreditMovement', {
  simpleResolvers: true,
  description: 'A movement and the balance right after it.',
})
export class CreditMovementType {
  @Field(() => CreditTransactionType)
  transaction!: CreditTransactionType;

  @Field(() => Int)
  balance!: number;

  @Field({ description: 'True when an idempotency key replayed an earlier result: nothing moved.' })
  replayed!: boolean;

  static from(movement: CreditMovement): CreditMovementType {
    return Object.assign(new CreditMovementType(), {
      transaction: CreditTransactionType.from(movement.transaction),
      balance: movement.balance,
      replayed: movement.replayed,
    });
  }
}

@ObjectType('CreditDrift', { simpleResolvers: true })
export class CreditDriftType {
  @Field(() => ID)
  userId!: string;

  @Field(() => Int)
  credits!: number;

  @Field(() => Int)
  transactionSum!: number;

  @Field(() => Int)
  drift!: number;

  static from(d: CreditDrift): CreditDriftType {
    return Object.assign(new CreditDriftType(), d);
  }
}

@ObjectType('CreditReservation', {
  simpleResolvers: true,
  description:
    'A hold on credits for work in progress. It moves nothing; its credits cannot be spent until it is captured, released or expires.',
})
export class CreditReservationType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  userId!: string;

  @Field(() => Int, { description: 'Credits held.' })
  amount!: number;

  @Field(() => ReservationStatusEnum)
  status!: ReservationStatusEnum;

  @Field()
  description!: string;

  @Field({ description: 'When an unsettled hold lapses and its credits return by themselves.' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  settledAt!: Date | null;

  @Field(() => Int, { nullable: true, description: 'Credits taken by the capture.' })
  capturedAmount!: number | null;

  @Field()
  createdAt!: Date;

  static from(r: CreditReservation): CreditReservationType {
    return Object.assign(new CreditReservationType(), {
      id: r.id,
      userId: r.userId,
      amount: r.amount,
      status: r.status as ReservationStatusEnum,
      description: r.description,
      expiresAt: r.expiresAt,
      settledAt: r.settledAt,
      capturedAmount: r.capturedAmount,
      createdAt: r.createdAt,
    });
  }
}

@ObjectType('CaptureReservationPayload', { simpleResolvers: true })
export class CaptureReservationPayload {
  @Field(() => CreditReservationType)
  reservation!: CreditReservationType;

  @Field(() => CreditTransactionType, { description: 'The CONSUMPTION the capture wrote.' })
  transaction!: CreditTransactionType;

  @Field(() => Int)
  balance!: number;
}

@InputType('DeductCreditsInput')
export class DeductCreditsInput {
  @Field(() => ID)
  userId!: string;

  @Field(() => Int, { description: 'Positive, at most 100,000,000.' })
  amount!: number;

  @Field({ description: '1 to 500 characters.' })
  description!: string;

  @Field({ description: 'Per user, 1 to 255 characters; a replay returns the first result.' })
  idempotencyKey!: string;
}

@InputType('RefundCreditsInput')
export class RefundCreditsInput {
  @Field(() => ID, { description: 'The CONSUMPTION to give back.' })
  transactionId!: string;

  @Field(() => Int, {
    nullable: true,
    description:
      'Default: the whole consumption. Refunds of one consumption add up to at most what it took.',
  })
  amount?: number | null;

  @Field()
  description!: string;

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;
}

@InputType('AdjustCreditsInput')
export class AdjustCreditsInput {
  @Field(() => ID)
  userId!: string;

  @Field(() => Int, {
    description: 'Signed, non-zero; a removal may not exceed the unreserved balance.',
  })
  amount!: number;

  @Field({ description: 'The reason, 1 to 500 characters.' })
  description!: string;

  @Field()
  idempotencyKey!: string;
}

@InputType('ReserveCreditsInput')
export class ReserveCreditsInput {
  @Field(() => ID)
  userId!: string;

  @Field(() => Int, { description: 'Positive, at most 100,000,000.' })
  amount!: number;

  @Field()
  description!: string;

  @Field(() => Int, {
    defaultValue: 900,
    description:
      'Seconds until the hold lapses by itself, 2 to 86,400. A capture must come at least a second before.',
  })
  ttlSeconds!: number;

  @Field()
  idempotencyKey!: string;
}

@InputType('CaptureReservationInput')
export class CaptureReservationInput {
  @Field(() => ID)
  reservationId!: string;

  @Field(() => Int, { nullable: true, description: 'Credits used, at most the hold. Default all.' })
  amount?: number | null;

  @Field(() => String, {
    nullable: true,
    description: "The CONSUMPTION's description. Default the reservation's.",
  })
  description?: string | null;
}

@InputType('ReleaseReservationInput')
export class ReleaseReservationInput {
  @Field(() => ID)
  reservationId!: string;
}
