import 'reflect-metadata';
import type { Server } from 'node:http';
import type { DataSource } from 'typeorm';
import { composeTally, listenStarting, serverUrls, type Listener } from './compose';
import type { AppConfig } from './config';
import { openDatabase, type Database } from './db';
import type { Scheduler } from './jobs';
import { silentLogger, type Logger } from './observability';
import type { Realtime } from './realtime';

export interface TallyServer {
  /** Base URL the server listens on, e.g. http://127.0.0.1:4000. */
  url: string;
  port: number;
  httpServer: Server;
  dataSource: DataSource;
  database: Database;
  scheduler: Scheduler;
  /** Live updates: what subscribers on this instance receive. */
  realtime: Realtime;
  /** Open WebSocket connections on this instance. */
  readonly webSocketConnections: number;
  /** Finishes in-flight requests, closes sockets and the database. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  config: AppConfig;
  logger?: Logger;
  /** An already open database; otherwise one is opened from the config. */
  database?: Database;
}

/**
 * The composition root: opens the database, listens (answering 503 while starting), builds
 * every part with the URLs of the port it got (src/compose), then serves. Nothing built
 * changes after it is composed.
 */
export async function startTally(options: StartOptions): Promise<TallyServer> {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  const database = options.database ?? (await openDatabase(config, logger));
  let listener: Listener | undefined;
  try {
    listener = await listenStarting(config);
    const { httpServer, port } = listener;
    const urls = serverUrls(config, port);
    const tally = await composeTally({ config, logger, database, httpServer, port, urls });
    listener.attach(tally.app);
    return {
      url: urls.ownUrl,
      port,
      httpServer,
      dataSource: database.dataSource,
      database,
      scheduler: tally.scheduler,
      realtime: tally.realtime,
      get webSocketConnections() {
        return tally.ws.connections;
      },
      close: tally.close,
    };
  } catch (error) {
    await listener?.close();
    if (!options.database) await database.close();
    throw error;
  }
}
