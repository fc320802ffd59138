import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import type { Logger } from '../observability';
import { MockProvider } from './mock/mock-provider';
import { PaddleProvider } from './paddle/paddle-provider';
import type { PaymentProvider } from './types';

export * from './types';
export {
  MockProvider,
  MockProviderRefusal,
  mockSignature,
  MOCK_SIGNATURE_HEADER,
} from './mock/mock-provider';
export { mockCheckoutRoutes } from './mock/routes';
export {
  PaddleProvider,
  PADDLE_SIGNATURE_HEADER,
  PADDLE_SIGNATURE_TOLERANCE_SECONDS,
} from './paddle/paddle-provider';
export { paddleCheckoutRoutes } from './paddle/routes';

/**
 * The one place a provider is chosen, from PAYMENT_PROVIDER and PAYMENT_ENV (config has
 * already checked that the chosen provider's keys are present).
 */
export function createPaymentProvider(deps: {
  config: Pick<AppConfig, 'paymentProvider' | 'mockWebhookSecret' | 'paddle'>;
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
  const paddle = deps.config.paddle;
  if (!paddle) throw new Error('PAYMENT_PROVIDER=paddle without its keys (config checks this)');
  return new PaddleProvider({
    apiKey: paddle.apiKey,
    webhookSecret: paddle.webhookSecret,
    priceIds: paddle.priceIds,
    apiUrl: paddle.apiUrl,
    publicUrl: deps.publicUrl,
    logger: deps.logger,
  });
}
