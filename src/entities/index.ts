import { CreditReservation } from './credit-reservation.entity';
import { CreditTransaction } from './credit-transaction.entity';
import { IdempotencyKey } from './idempotency-key.entity';
import { MockPayment } from './mock-payment.entity';
import { MockRenewal } from './mock-renewal.entity';
import { MockWebhookDelivery } from './mock-webhook-delivery.entity';
import { Order } from './order.entity';
import { ProviderRefund } from './provider-refund.entity';
import { Subscription } from './subscription.entity';
import { SubscriptionPayment } from './subscription-payment.entity';
import { UserProfile } from './user-profile.entity';
import { WebhookEvent } from './webhook-event.entity';

export {
  CreditReservation,
  CreditTransaction,
  IdempotencyKey,
  MockPayment,
  MockRenewal,
  MockWebhookDelivery,
  Order,
  ProviderRefund,
  Subscription,
  SubscriptionPayment,
  UserProfile,
  WebhookEvent,
};
export {
  CREDIT_TRANSACTION_TYPES,
  MAX_DESCRIPTION_LENGTH,
  type CreditTransactionType,
} from './credit-transaction.entity';
export { RESERVATION_STATUSES, type ReservationStatus } from './credit-reservation.entity';
export { MOCK_PAYMENT_STATUSES, type MockPaymentStatus } from './mock-payment.entity';
export {
  MOCK_WEBHOOK_DELIVERY_STATUSES,
  type MockWebhookDeliveryStatus,
} from './mock-webhook-delivery.entity';
export { ORDER_STATUSES, PRODUCT_KINDS, type OrderStatus, type ProductKind } from './order.entity';
export { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from './subscription.entity';
export { WEBHOOK_EVENT_STATUSES, type WebhookEventStatus } from './webhook-event.entity';

/** Every entity, for the DataSource. */
export const ENTITIES = [
  UserProfile,
  Order,
  Subscription,
  CreditTransaction,
  CreditReservation,
  WebhookEvent,
  IdempotencyKey,
  MockPayment,
  MockRenewal,
  MockWebhookDelivery,
  ProviderRefund,
  SubscriptionPayment,
];
