import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { WebhookEvent } from '../../entities';
import { WebhookEventStatusEnum } from './enums';
import { PageInfo } from './page-info.type';

@ObjectType('WebhookEvent', { simpleResolvers: true })
export class WebhookEventType {
  @Field(() => ID)
  id!: string;

  @Field()
  provider!: string;

  @Field({ description: "The provider's event id." })
  eventId!: string;

  @Field()
  type!: string;

  @Field(() => WebhookEventStatusEnum)
  status!: WebhookEventStatusEnum;

  @Field(() => Int)
  attempts!: number;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'The condition that stopped or set aside the event (SUBSCRIPTION_NOT_YET_KNOWN: retried; PAYMENT_MISMATCH: critical; ILLEGAL_TRANSITION: ignored, …); null once applied.',
  })
  errorCode!: string | null;

  @Field()
  receivedAt!: Date;

  @Field(() => Date, { nullable: true })
  processedAt!: Date | null;

  static from(e: WebhookEvent): WebhookEventType {
    return Object.assign(new WebhookEventType(), {
      id: e.id,
      provider: e.provider,
      eventId: e.eventId,
      type: e.type,
      status: e.status as WebhookEventStatusEnum,
      attempts: e.attempts,
      lastError: e.lastError,
      errorCode: e.errorCode,
      receivedAt: e.receivedAt,
      processedAt: e.processedAt,
    });
  }
}

@ObjectType('WebhookEventEdge', { simpleResolvers: true })
export class WebhookEventEdge {
  @Field()
  cursor!: string;

  @Field(() => WebhookEventType)
  node!: WebhookEventType;
}

@ObjectType('WebhookEventConnection', { simpleResolvers: true })
export class WebhookEventConnection {
  @Field(() => [WebhookEventEdge])
  edges!: WebhookEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@InputType('CancelSubscriptionInput')
export class CancelSubscriptionInput {
  @Field(() => Boolean, {
    nullable: true,
    defaultValue: true,
    description: 'True (default): at the end of the period already paid; false: now.',
  })
  atPeriodEnd?: boolean | null;
}
