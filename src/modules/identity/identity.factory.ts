import type { Config } from '../../platform/config.js';
import { createExternalVerifier } from './external-issuer.js';
import { createTokenService, type TokenService } from './tokens.js';

/** The token service the configuration describes, with the external issuer when one is configured. */
export function tokenServiceFromConfig(config: Config): TokenService {
  const { auth } = config;
  const ext = auth.external;
  const external = ext.issuer
    ? createExternalVerifier({
        issuer: ext.issuer,
        audience: ext.audience!,
        algorithms: ext.algorithms,
        userIdClaim: ext.userIdClaim,
        clockToleranceSeconds: auth.clockToleranceSeconds,
        ...(ext.publicKeyPem ? { publicKeyPem: ext.publicKeyPem } : { jwksUrl: ext.jwksUrl! }),
      })
    : undefined;
  return createTokenService(
    {
      secret: auth.jwtSecret,
      issuer: auth.issuer,
      audience: auth.audience,
      accessTtlSeconds: auth.accessTtlSeconds,
      guestTtlSeconds: auth.guestTtlSeconds,
      workerTtlSeconds: auth.workerTtlSeconds,
      clockToleranceSeconds: auth.clockToleranceSeconds,
    },
    external,
  );
}
