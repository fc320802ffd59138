export { BillingQueries, type OrderPage } from './orders';
export { CheckoutService, type CheckoutResult } from './checkout';
export {
  PaymentService,
  creditsForRefund,
  type PaymentHooks,
  type WebhookOutcome,
} from './payments';
