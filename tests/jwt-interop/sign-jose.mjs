// Signs an EGJ1 token with `jose` (npm), the way docs/signing.md shows:
// `node sign-jose.mjs '{"secret":…,"kid":…,"claims":{…}}'` prints the token.
// `aud`, `sub`, `exp` and `jti` go through jose's own setters, every other
// claim as the payload; jose adds `iat`, which EGJ1 ignores.
import { SignJWT } from 'jose';

const { secret, kid, claims } = JSON.parse(process.argv[2]);
const { aud, sub, exp, jti, ...rest } = claims;
const token = await new SignJWT(rest)
  .setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' })
  .setAudience(aud)
  .setSubject(sub)
  .setExpirationTime(exp)
  .setJti(jti)
  .setIssuedAt()
  .sign(new TextEncoder().encode(secret));
process.stdout.write(`${token}\n`);
