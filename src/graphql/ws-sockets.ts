import { CloseCode, handleProtocols, MessageType, type Server } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../observability';

/** What graphql-ws's server gets as `extra` for each socket. */
export interface SocketExtra {
  socket: WebSocket;
  request: IncomingMessage;
}

/**
 * Runs a graphql-ws server on the sockets of a `ws` server. This is the glue graphql-ws
 * ships as `useServer`, written here so that every failure goes to the service's logger
 * (redacted, with the request id) instead of `console.error`, and a failure inside one
 * message costs that message, not a stack trace on standard error.
 */
export function serveGraphQLWs<E extends SocketExtra>(options: {
  wss: WebSocketServer;
  server: Server<E>;
  /** Ping interval; a pong must come back within as long. */
  keepAliveMs: number;
  logger: Logger;
  /** Builds the socket's `extra` (the request, and whatever the hooks keep on it). */
  extra: (socket: WebSocket, request: IncomingMessage) => E;
}): void {
  const { wss, server, keepAliveMs, logger } = options;
  wss.options.handleProtocols = handleProtocols;
  wss.on('error', (error) => logger.error({ err: error }, 'WebSocket server error'));
  wss.on('connection', (socket, request) => {
    // A client's bad frame or oversized message: ws closes the socket itself (1002, 1009).
    socket.on('error', (error) => logger.warn({ err: error }, 'WebSocket client error'));
    const stopKeepAlive = keepAlive(socket, keepAliveMs);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            // A send that fails means the socket is going: its close event cleans up.
            socket.send(data, () => resolve());
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            const text = String(data);
            // Messages only a server sends (`next`, `error`, `connection_ack`) would make
            // graphql-ws throw; a client sending them broke the protocol: 4400, as for any
            // other invalid message.
            if (!fromClient(text)) {
              socket.close(CloseCode.BadRequest, 'Invalid message received');
              return;
            }
            try {
              await handle(text);
            } catch (error) {
              logger.error({ err: error }, 'WebSocket message failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      options.extra(socket, request),
    );
    socket.once('close', (code, reason) => {
      stopKeepAlive();
      closed(code, String(reason)).catch((error: unknown) =>
        logger.error({ err: error }, 'WebSocket close handling failed'),
      );
    });
  });
}

const CLIENT_MESSAGES = new Set<string>([
  MessageType.ConnectionInit,
  MessageType.Ping,
  MessageType.Pong,
  MessageType.Subscribe,
  MessageType.Complete,
]);

/** Whether a text is a message a client may send (the rest of its checks are graphql-ws's). */
function fromClient(text: string): boolean {
  try {
    const type = (JSON.parse(text) as { type?: unknown } | null)?.type;
    return typeof type === 'string' && CLIENT_MESSAGES.has(type);
  } catch {
    // Not JSON: graphql-ws refuses it itself (4400).
    return true;
  }
}

/** Pings every `intervalMs`; a socket that does not answer within as long is terminated. */
function keepAlive(socket: WebSocket, intervalMs: number): () => void {
  let pongWait: NodeJS.Timeout | undefined;
  const interval = setInterval(() => {
    if (socket.readyState !== socket.OPEN) return;
    pongWait = setTimeout(() => socket.terminate(), intervalMs);
    socket.once('pong', () => clearTimeout(pongWait));
    socket.ping();
  }, intervalMs);
  return () => {
    clearInterval(interval);
    clearTimeout(pongWait);
  };
}
