import { SignJWT } from 'jose';
import { signToken, TokenVerifier } from '../../src/auth';

const SECRET = 'unit-test-secret-0123456789abcdef0123456789';

describe('TokenVerifier', () => {
  it('remembers a verified token, but never past its expiry', async () => {
    const verifier = new TokenVerifier({ secret: SECRET });
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await new SignJWT({ role: 'service' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('app')
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(SECRET));
    await expect(verifier.verify(token)).resolves.toMatchObject({
      subject: 'app',
      role: 'service',
    });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'app' });
    // jose allows 5 s of clock skew past exp; the remembered entry ends at exp itself, after
    // which the token is checked afresh and refused once the tolerance is over too.
    await new Promise((r) => setTimeout(r, (exp + 6) * 1000 - Date.now()));
    await expect(verifier.verify(token)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'Token expired',
    });
  }, 15_000);

  it('never remembers a refusal, and a token signed with another secret stays refused', async () => {
    const verifier = new TokenVerifier({ secret: SECRET });
    const forged = await signToken({
      secret: `${SECRET}-other`,
      subject: 'mallory',
      role: 'admin',
    });
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const good = await signToken({ secret: SECRET, subject: 'alice' });
    await expect(verifier.verify(good)).resolves.toMatchObject({ subject: 'alice', role: 'user' });
    // One character changed in the signature is another token: verified afresh, refused.
    const tampered = good.slice(0, -2) + (good.at(-2) === 'A' ? 'B' : 'A') + good.at(-1);
    await expect(verifier.verify(tampered)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
