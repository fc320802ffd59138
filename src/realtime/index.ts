export {
  createPubSub,
  InProcessPubSub,
  RedisPubSub,
  REDIS_CHANNEL,
  reconnectDelayMs,
  type Listener,
  type PubSub,
} from './pubsub';
export { Realtime, type BalanceEvent, type ListenOptions, type OrderEvent } from './events';
