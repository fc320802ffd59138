export { createBilling, type Billing } from './billing';
export type { BillingDeps, BillingHooks } from './deps';
export {
  BillingStatus,
  ORDER_MOVES,
  SUBSCRIPTION_MOVES,
  type Move,
  type StatusHooks,
} from './status';
export { BillingQueries, type OrderPage } from './queries';
export { createCheckout, type CheckoutResult } from './create-checkout';
export { cancelSubscription, type CancelOutcome } from './cancel-subscription';
export { completeOrder, type CompleteOutcome, type ConfirmedPayment } from './complete-order';
export { receiveWebhook, type EventOutcome, type WebhookOutcome } from './webhook-intake';
export { listWebhookEvents, replayWebhookEvent, type ReplayOutcome } from './webhook-events';
export { reconcileOrder, type ReconcileOutcome, type ReconcileSummary } from './reconcile';
export { handleRedirect, type RedirectOutcome } from './redirect';
