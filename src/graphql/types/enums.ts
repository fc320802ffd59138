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
