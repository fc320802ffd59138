import { request as httpRequest } from 'node:http';
import { listenStarting, serverUrls } from '../../src/compose';

function get(port: number): Promise<{ status: number; retryAfter?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          ...(res.headers['retry-after'] ? { retryAfter: res.headers['retry-after'] } : {}),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the composition root listens first (src/compose)', () => {
  const config = {
    host: '127.0.0.1',
    port: 0,
    publicUrl: 'http://localhost:0',
    successUrl: 'http://localhost:0/checkout/success',
    cancelUrl: 'https://app.example/cancel',
  };

  it('with PORT=0, the placeholder public URL and the URLs built on it take the real port', () => {
    expect(serverUrls(config, 41234)).toEqual({
      ownUrl: 'http://127.0.0.1:41234',
      publicUrl: 'http://127.0.0.1:41234',
      successUrl: 'http://127.0.0.1:41234/checkout/success',
      cancelUrl: 'https://app.example/cancel',
    });
  });

  it('a configured port or PUBLIC_URL is kept as given', () => {
    const fixed = { ...config, port: 4000, publicUrl: 'https://pay.example' };
    expect(serverUrls(fixed, 4000)).toMatchObject({
      ownUrl: 'http://127.0.0.1:4000',
      publicUrl: 'https://pay.example',
      successUrl: config.successUrl,
    });
    expect(serverUrls({ ...config, host: '0.0.0.0', port: 4000 }, 4000).ownUrl).toBe(
      'http://127.0.0.1:4000',
    );
  });

  it('answers 503 {"error":"starting"} until the application is attached, then the application', async () => {
    const listener = await listenStarting({ host: '127.0.0.1', port: 0 });
    try {
      expect(listener.port).toBeGreaterThan(0);
      expect(await get(listener.port)).toEqual({
        status: 503,
        retryAfter: '1',
        body: '{"error":"starting"}',
      });
      listener.attach((_req, res) => res.end('app'));
      expect(await get(listener.port)).toEqual({ status: 200, body: 'app' });
      expect(() => listener.attach((_req, res) => res.end('again'))).toThrow(/already attached/);
    } finally {
      await listener.close();
    }
    expect(listener.httpServer.listening).toBe(false);
  });
});
