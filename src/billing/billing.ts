import type { BillingDeps } from './deps';
import { cancelSubscription } from './cancel-subscription';
import { createCheckout } from './create-checkout';
import { BillingQueries } from './queries';
import { reconcileOrder, reconcileStuckOrders, stuckOrders } from './reconcile';
import { handleRedirect } from './redirect';
import { listWebhookEvents, replayWebhookEvent } from './webhook-events';
import { receiveWebhook } from './webhook-intake';

type UseCase<F> = F extends (deps: BillingDeps, options: infer O) => infer R
  ? (options: O) => R
  : never;

/** Billing as the outside (GraphQL, HTTP, jobs, CLIs) calls it: each use case, bound to its deps. */
export interface Billing {
  /** The read side: orders, the live subscription, the plan. */
  queries: BillingQueries;
  createCheckout: UseCase<typeof createCheckout>;
  cancelSubscription: UseCase<typeof cancelSubscription>;
  handleRedirect: UseCase<typeof handleRedirect>;
  receiveWebhook: UseCase<typeof receiveWebhook>;
  replayWebhookEvent: UseCase<typeof replayWebhookEvent>;
  listWebhookEvents: UseCase<typeof listWebhookEvents>;
  reconcileOrder: UseCase<typeof reconcileOrder>;
  reconcileStuckOrders: UseCase<typeof reconcileStuckOrders>;
  stuckOrders: UseCase<typeof stuckOrders>;
}

export function createBilling(deps: BillingDeps): Billing {
  return {
    queries: new BillingQueries(deps.dataSource),
    createCheckout: (options) => createCheckout(deps, options),
    cancelSubscription: (options) => cancelSubscription(deps, options),
    handleRedirect: (options) => handleRedirect(deps, options),
    receiveWebhook: (options) => receiveWebhook(deps, options),
    replayWebhookEvent: (options) => replayWebhookEvent(deps, options),
    listWebhookEvents: (options) => listWebhookEvents(deps, options),
    reconcileOrder: (options) => reconcileOrder(deps, options),
    reconcileStuckOrders: (options) => reconcileStuckOrders(deps, options),
    stuckOrders: (options) => stuckOrders(deps, options),
  };
}
