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
export { liveSubscriptionSql, planOf } from './live';
export { isUuid } from './rows';
export { createCheckout, type CheckoutResult } from './create-checkout';
export { cancelSubscription, type CancelOutcome } from './cancel-subscription';
export { completeOrder, type CompleteOutcome, type ConfirmedPayment } from './complete-order';
export { applyProviderEvent, type ApplyOutcome } from './apply-event';
export { renewSubscription, grantPeriod, type RenewOutcome } from './periods';
export { applyRefund, creditsForRefund, type RefundOutcome } from './refunds';
export {
  receiveWebhook,
  recordAndApply,
  storable,
  type EventOutcome,
  type WebhookOutcome,
} from './webhook-intake';
export { listWebhookEvents, replayWebhookEvent, type ReplayOutcome } from './webhook-events';
export {
  reconcileOrder,
  reconcileStuckOrders,
  settleByVerification,
  stuckOrders,
  type ReconcileOutcome,
  type ReconcileSummary,
  type SettleOutcome,
} from './reconcile';
export { handleRedirect, type RedirectOutcome } from './redirect';
