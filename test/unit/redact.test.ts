import { createLogger, createRedactor } from '../../src/observability';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJ1c2VyIn0.c2lnbmF0dXJlLXBhcnQtaGVyZQ';

describe('log scrubbing', () => {
  const scrub = createRedactor(['s3cr3t-webhook-value-1234', 'hunter2-database-pw']);
  const line = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, ...fields });

  it.each([
    ['a bearer token', `Authorization: Bearer ${JWT}`, JWT],
    ['a bare JWT in an error message', `token ${JWT} expired`, JWT],
    [
      'a Paddle API key',
      'key pdl_sdbx_apikey_01abcdefghijklmnopqrstuvwx_Ab12 refused',
      'apikey_01abcdef',
    ],
    ['a Paddle notification secret', 'pdl_ntfset_01hzzzzzzzzzzzzzzzzzzzzzz_Qq98', 'ntfset_01hzz'],
    [
      'a mock signature',
      't=1795690790,v1=9f2c6a1b0d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90',
      '9f2c6a1b0d3e',
    ],
    [
      'a Paddle signature',
      'ts=1795690790;h1=0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9',
      '0a1b2c3d4e5f',
    ],
    [
      'an e-mail address',
      'no order for alice.smith+tag@example.co.uk',
      'alice.smith+tag@example.co.uk',
    ],
    ['a card number with spaces', 'paid with 4111 1111 1111 1111 today', '4111 1111 1111 1111'],
    ['a card number with dashes', '5500-0000-0000-0004', '5500-0000-0000-0004'],
    ['a contiguous card number', 'card=378282246310005', '378282246310005'],
    ['a configured secret', 'signed with s3cr3t-webhook-value-1234', 's3cr3t-webhook-value-1234'],
    [
      'a database password',
      'postgres://tally:hunter2-database-pw@db:5432/tally',
      'hunter2-database-pw',
    ],
    ['a password in any URL', 'redis://user:another-pass-42@cache:6379', 'another-pass-42'],
  ])('removes %s', (_what, text, planted) => {
    const out = scrub(line({ msg: text, err: { message: text, stack: `Error: ${text}\n  at x` } }));
    expect(out).not.toContain(planted);
    expect(() => JSON.parse(out)).not.toThrow();
  });

  it('leaves ordinary values alone: times, ids, amounts, versions', () => {
    const ordinary = line({
      time: 1795690790751,
      orderId: 'd1749454-708b-4047-8dc5-5adaacf01f6b',
      checkoutId: 'mck_109633c958a421403ba33f0d',
      amount: 1900,
      seq: '1234567890123456',
      msg: 'tally@0.1.0 webhook started for order 4012888888881882x',
      // A migration's name: digits after a letter are part of a word (this run passes Luhn).
      migrations: ['Initial1795675882660'],
    });
    // 4012888888881882x is no card (a letter follows); the 16-digit seq is a JSON string
    // of digits that fails Luhn's check.
    expect(scrub(ordinary)).toBe(ordinary);
  });

  it('keeps the last four characters of a key, for telling keys apart', () => {
    expect(scrub('pdl_live_apikey_01abcdefghijklmnopqrstuvwx_Zz77')).toBe('[key ****Zz77]');
  });
});

describe('logged errors', () => {
  it('keep what went wrong and drop the connection a library hung on them', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { destination: { write: (l: string) => lines.push(l) } });
    const error = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
      client: { connectionParameters: { host: 'db', port: 5432, user: 'tally' }, _queryQueue: [] },
    });
    logger.warn({ err: error }, 'job queue error (retrying)');
    const logged = JSON.parse(lines[0]!) as { err: Record<string, unknown> };
    expect(logged.err).toMatchObject({
      type: 'Error',
      message: 'terminating connection due to administrator command',
      code: '57P01',
    });
    expect(logged.err['stack']).toContain('Error: terminating connection');
    expect(logged.err).not.toHaveProperty('client');
  });
});
