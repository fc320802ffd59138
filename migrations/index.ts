import { Initial1795675882660 } from './1795675882660-Initial';
import { RefundWithinConsumption1795700000000 } from './1795700000000-RefundWithinConsumption';
import { Reservations1795710000000 } from './1795710000000-Reservations';
import { LedgerMoveFunction1795720000000 } from './1795720000000-LedgerMoveFunction';
import { MockProvider1795730000000 } from './1795730000000-MockProvider';
import { Checkout1795740000000 } from './1795740000000-Checkout';
import { JobRuns1795750000000 } from './1795750000000-JobRuns';
import { SubscriptionStatusTime1795760000000 } from './1795760000000-SubscriptionStatusTime';
import { RenewalPayments1795770000000 } from './1795770000000-RenewalPayments';
import { DropJobRuns1795780000000 } from './1795780000000-DropJobRuns';
import { BillingCore1795790000000 } from './1795790000000-BillingCore';
import { MockWebhookOutbox1795800000000 } from './1795800000000-MockWebhookOutbox';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the service, the tests and
 * the TypeORM CLI load the same classes whether running from TypeScript or compiled output.
 * A landed migration is never edited: add a new one.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const MIGRATIONS: Function[] = [
  Initial1795675882660,
  RefundWithinConsumption1795700000000,
  Reservations1795710000000,
  LedgerMoveFunction1795720000000,
  MockProvider1795730000000,
  Checkout1795740000000,
  JobRuns1795750000000,
  SubscriptionStatusTime1795760000000,
  RenewalPayments1795770000000,
  DropJobRuns1795780000000,
  BillingCore1795790000000,
  MockWebhookOutbox1795800000000,
];
