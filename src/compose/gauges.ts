import type { DataSource } from 'typeorm';
import { poolStats } from '../db';
import type { GraphQLWs } from '../graphql';
import type { Metrics } from '../observability';
import type { Realtime } from '../realtime';

/** The gauges read when /metrics is scraped: the database pool and the live connections. */
export function registerGauges(deps: {
  metrics: Metrics;
  dataSource: DataSource;
  ws: GraphQLWs;
  realtime: Realtime;
}): void {
  const { metrics, dataSource, ws, realtime } = deps;
  const pool = () => poolStats(dataSource);
  metrics.gauge('tally_db_pool_connections', 'Database pool connections open', () => pool().total);
  metrics.gauge('tally_db_pool_idle', 'Database pool connections idle', () => pool().idle);
  metrics.gauge(
    'tally_db_pool_waiting',
    'Requests waiting for a database connection',
    () => pool().waiting,
  );
  metrics.gauge('tally_websocket_connections', 'Open WebSocket connections', () => ws.connections);
  metrics.gauge(
    'tally_realtime_subscribers',
    'Live subscriptions on this instance',
    () => realtime.subscriberCount,
  );
}
