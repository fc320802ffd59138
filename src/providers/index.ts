import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config';
import type { Logger } from '../observability';
import { MockProvider } from './mock/adapter';
import { PaddleProvider } from './paddle/paddle-provider';
import type { PaymentProvider } from './types';

export * from './types';
export { MockProvider, type MockProviderOptions } from './mock/adapter';
export { MockFake, MockProviderRefusal, MOCK_CHECKOUT_PATH } from './mock/fake';
export {
  mockSignature,
  MOCK_SIGNATURE_HEADER,
  MOCK_SIGNATURE_TOLERANCE_SECONDS,
  type MockEvent,
} from './mock/wire';
export {
  PaddleProvider,
  PADDLE_CHECKOUT_PATH,
  PADDLE_SIGNATURE_HEADER,
  PADDLE_SIGNATURE_TOLERANCE_SECONDS,
} from './paddle/paddle-provider';

/**
 * The one place a provider is chosen, from PAYMENT_PROVIDER and PAYMENT_ENV (config has
 * already checked that the chosen provider's keys are present). The mock's fake backend
 * starts retrying its failed webhooks here; `close()` stops it.
 */
export function createPaymentProvider(deps: {
  config: Pick<AppConfig, 'paymentProvider' | 'paymentEnv' | 'mockWebhookSecret' | 'paddle'>;
  dataSource: DataSource;
  logger: Logger;
  publicUrl: () => string;
  webhookUrl: () => string;
}): PaymentProvider {
  if (deps.config.paymentProvider === 'mock') {
    const provider = new MockProvider({
      dataSource: deps.dataSource,
      webhookSecret: deps.config.mockWebhookSecret,
      publicUrl: deps.publicUrl,
      webhookUrl: deps.webhookUrl,
      logger: deps.logger,
    });
    provider.fake.start();
    return provider;
  }
  const paddle = deps.config.paddle;
  if (!paddle) throw new Error('PAYMENT_PROVIDER=paddle without its keys (config checks this)');
  return new PaddleProvider({
    apiKey: paddle.apiKey,
    webhookSecret: paddle.webhookSecret,
    priceIds: paddle.priceIds,
    apiUrl: paddle.apiUrl,
    publicUrl: deps.publicUrl,
    clientToken: paddle.clientToken,
    sandbox: deps.config.paymentEnv !== 'production',
    logger: deps.logger,
  });
}
