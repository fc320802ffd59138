import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { requireRole } from '../context';
import { CreditTransactionType } from '../types/credit-transaction.type';
import {
  AdjustCreditsInput,
  CaptureReservationInput,
  CaptureReservationPayload,
  CreditDriftType,
  CreditMovementType,
  CreditReservationType,
  DeductCreditsInput,
  RefundCreditsInput,
  ReleaseReservationInput,
  ReserveCreditsInput,
} from '../types/credits.type';

/**
 * Credit movements for the app's backend (service token) and admins. Every argument is
 * checked by the ledger before anything is written; a refusal moves nothing.
 */
@Resolver()
export class CreditsResolver {
  @Mutation(() => CreditMovementType, {
    description: 'Service or admin token. Takes credits; fails with INSUFFICIENT_CREDITS.',
  })
  async deductCredits(
    @Arg('input', () => DeductCreditsInput) input: DeductCreditsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreditMovementType> {
    requireRole(ctx, 'service', 'admin');
    const movement = await ctx.services.ledger.deduct({
      userId: input.userId,
      amount: input.amount,
      description: input.description,
      idempotencyKey: input.idempotencyKey,
    });
    return CreditMovementType.from(movement);
  }

  @Mutation(() => CreditMovementType, {
    description:
      'Service or admin token. Gives back all or part of one CONSUMPTION transaction; partial refunds may add up to the amount deducted, never more.',
  })
  async refundCredits(
    @Arg('input', () => RefundCreditsInput) input: RefundCreditsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreditMovementType> {
    requireRole(ctx, 'service', 'admin');
    const movement = await ctx.services.ledger.refund({
      transactionId: input.transactionId,
      description: input.description,
      ...(typeof input.amount === 'number' ? { amount: input.amount } : {}),
      ...(typeof input.idempotencyKey === 'string' ? { idempotencyKey: input.idempotencyKey } : {}),
    });
    return CreditMovementType.from(movement);
  }

  @Mutation(() => CreditMovementType, {
    description: 'Admin token. Adds or removes credits with a reason.',
  })
  async adjustCredits(
    @Arg('input', () => AdjustCreditsInput) input: AdjustCreditsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreditMovementType> {
    const caller = requireRole(ctx, 'admin');
    ctx.logger.info(
      { admin: caller.subject, userId: input.userId, amount: input.amount },
      'admin credit adjustment',
    );
    const movement = await ctx.services.ledger.adjust({
      userId: input.userId,
      amount: input.amount,
      description: input.description,
      idempotencyKey: input.idempotencyKey,
    });
    return CreditMovementType.from(movement);
  }

  @Mutation(() => CreditReservationType, {
    description:
      'Service or admin token. Holds credits for work about to run: they stay in the balance but cannot be spent until the hold is captured, released or expires (then they return by themselves). INSUFFICIENT_CREDITS when the unreserved balance is short.',
  })
  async reserveCredits(
    @Arg('input', () => ReserveCreditsInput) input: ReserveCreditsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreditReservationType> {
    requireRole(ctx, 'service', 'admin');
    const reservation = await ctx.services.ledger.reserve({
      userId: input.userId,
      amount: input.amount,
      description: input.description,
      ttlSeconds: input.ttlSeconds,
      idempotencyKey: input.idempotencyKey,
    });
    return CreditReservationType.from(reservation);
  }

  @Mutation(() => CaptureReservationPayload, {
    description:
      'Service or admin token. Takes what the work used (default the whole hold) as one CONSUMPTION; the rest returns. Repeating it with the same amount returns the first result; an expired or released hold is RESERVATION_NOT_ACTIVE.',
  })
  async captureReservation(
    @Arg('input', () => CaptureReservationInput) input: CaptureReservationInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CaptureReservationPayload> {
    requireRole(ctx, 'service', 'admin');
    const result = await ctx.services.ledger.capture({
      reservationId: input.reservationId,
      ...(typeof input.amount === 'number' ? { amount: input.amount } : {}),
      ...(typeof input.description === 'string' ? { description: input.description } : {}),
    });
    return Object.assign(new CaptureReservationPayload(), {
      reservation: CreditReservationType.from(result.reservation),
      transaction: CreditTransactionType.from(result.transaction),
      balance: result.balance,
    });
  }

  @Mutation(() => CreditReservationType, {
    description:
      'Service or admin token. Ends a hold with nothing taken. Idempotent; a captured hold is RESERVATION_NOT_ACTIVE.',
  })
  async releaseReservation(
    @Arg('input', () => ReleaseReservationInput) input: ReleaseReservationInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreditReservationType> {
    requireRole(ctx, 'service', 'admin');
    return CreditReservationType.from(await ctx.services.ledger.release(input.reservationId));
  }

  @Query(() => CreditReservationType, {
    nullable: true,
    description: 'Service or admin token. A reservation as it stands now.',
  })
  async reservation(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CreditReservationType | null> {
    requireRole(ctx, 'service', 'admin');
    const found = await ctx.services.ledger.findReservation(id);
    return found ? CreditReservationType.from(found) : null;
  }

  @Query(() => [CreditDriftType], {
    description: 'Users whose balance differs from the sum of their transactions. Admin.',
  })
  async creditDrift(@Ctx() ctx: GraphQLContext): Promise<CreditDriftType[]> {
    requireRole(ctx, 'admin');
    return (await ctx.services.ledger.drift()).map((d) => CreditDriftType.from(d));
  }
}
