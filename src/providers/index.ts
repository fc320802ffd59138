import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import type { Logger } from '../observability';
import { MockProvider } from './mock/mock-provider';
import type { PaymentProvider } from './types';

export * from './types';
export {
  MockProvider,
  MockProviderRefusal,
  mockSignature,
  MOCK_SIGNATURE_HEADER,
} from './mock/mock-provider';
export { mockCheckoutRoutes } from './mock/routes';

/**
 * The one place a provider is chosen, from PAYMENT_PROVIDER and PAYMENT_ENV (config has
 * already checked that the chosen provider's keys are present).
 */
export function createPaymentProvider(deps: {
  config: Pick<AppConfig, 'paymentProvider' | 'mockWebhookSecret'>;
  dataSource: DataSource;
  logger: Logger;
  publicUrl: () => string;
  webhookUrl: () => string;
}): PaymentProvider {
  if (deps.config.paymentProvider === 'mock') {
    return new MockProvider({
      dataSource: deps.dataSource,
      webhookSecret: deps.config.mockWebhookSecret,
      publicUrl: deps.publicUrl,
      webhookUrl: deps.webhookUrl,
      logger: deps.logger,
    });
  }
  throw new Error('PAYMENT_PROVIDER=paddle: the Paddle adapter is not built yet (issue 4)');
}
