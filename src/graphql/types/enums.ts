import { registerEnumType } from 'type-graphql';

export enum ProductKindEnum {
  CREDIT_PACK = 'CREDIT_PACK',
  SUBSCRIPTION = 'SUBSCRIPTION',
}
registerEnumType(ProductKindEnum, { name: 'ProductKind' });

export enum BillingIntervalEnum {
  MONTH = 'MONTH',
  YEAR = 'YEAR',
}
registerEnumType(BillingIntervalEnum, { name: 'BillingInterval' });

export enum OrderStatusEnum {
  PENDING = 'PENDING',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
  FAILED = 'FAILED',
  REFUNDED = 'REFUNDED',
}
registerEnumType(OrderStatusEnum, { name: 'OrderStatus' });

export enum SubscriptionStatusEnum {
  ACTIVE = 'ACTIVE',
  PAST_DUE = 'PAST_DUE',
  PAUSED = 'PAUSED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(SubscriptionStatusEnum, { name: 'SubscriptionStatus' });

export enum CreditTransactionTypeEnum {
  PURCHASE = 'PURCHASE',
  SUBSCRIPTION_GRANT = 'SUBSCRIPTION_GRANT',
  CONSUMPTION = 'CONSUMPTION',
  REFUND = 'REFUND',
  CLAWBACK = 'CLAWBACK',
  ADJUSTMENT = 'ADJUSTMENT',
}
registerEnumType(CreditTransactionTypeEnum, { name: 'CreditTransactionType' });

export enum ReservationStatusEnum {
  ACTIVE = 'ACTIVE',
  CAPTURED = 'CAPTURED',
  RELEASED = 'RELEASED',
  EXPIRED = 'EXPIRED',
}
registerEnumType(ReservationStatusEnum, {
  name: 'ReservationStatus',
  valuesConfig: {
    ACTIVE: { description: 'Holding its credits until captured, released or expired.' },
    CAPTURED: { description: 'Settled: part or all of it became a CONSUMPTION.' },
    RELEASED: { description: 'Settled: given back with nothing taken.' },
    EXPIRED: { description: 'Lapsed at expiresAt with nothing taken.' },
  },
});

export enum WebhookEventStatusEnum {
  RECEIVED = 'RECEIVED',
  PROCESSED = 'PROCESSED',
  IGNORED = 'IGNORED',
  FAILED = 'FAILED',
}
registerEnumType(WebhookEventStatusEnum, { name: 'WebhookEventStatus' });
