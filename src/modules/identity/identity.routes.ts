import type { Config } from '../../platform/config.js';
import { json, noContent, route, type AnyRoute } from '../../transport/http/types.js';
import type { IdentityService } from './identity.service.js';
import { GuestResponse, MeDeleteBody, MePatchBody, RefreshBody, RegisterBody, TokenBody, TokenResponse, UserResponse } from './identity.schemas.js';

const tags = ['auth'];
const NO_STORE = { 'cache-control': 'no-store' };

export function identityRoutes(identity: IdentityService, config: Config): AnyRoute[] {
  const limits = config.rateLimits;
  return [
    route({
      method: 'POST',
      path: '/api/v1/auth/register',
      summary: 'Create an account',
      tags,
      auth: 'none',
      body: RegisterBody,
      rateLimit: { name: 'register', limit: () => limits.register },
      responses: { 201: UserResponse },
      handler: async ({ body, em }) => json(await identity.register(em, body), 201),
    }),
    route({
      method: 'POST',
      path: '/api/v1/auth/token',
      summary: 'Sign in (OAuth2 password grant, form or JSON)',
      tags,
      auth: 'none',
      bodyKind: 'form-or-json',
      body: TokenBody,
      rateLimit: { name: 'token', limit: () => limits.token },
      responses: { 200: TokenResponse },
      handler: async ({ body, em }) => json(await identity.login(em, body.username, body.password), 200, NO_STORE),
    }),
    route({
      method: 'POST',
      path: '/api/v1/auth/refresh',
      summary: 'Rotate a refresh token; reusing a spent one revokes its family',
      tags,
      auth: 'none',
      bodyKind: 'form-or-json',
      body: RefreshBody,
      rateLimit: { name: 'token', limit: () => limits.token },
      responses: { 200: TokenResponse },
      handler: async ({ body, em }) => json(await identity.refresh(em, body.refresh_token), 200, NO_STORE),
    }),
    route({
      method: 'POST',
      path: '/api/v1/auth/logout',
      summary: 'Revoke a refresh token family',
      tags,
      auth: 'optional',
      body: RefreshBody,
      responses: { 204: null },
      handler: async ({ body, em, actor }) => {
        await identity.logout(em, body.refresh_token, actor);
        return noContent();
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/auth/guest',
      summary: 'Get a guest token',
      tags,
      auth: 'none',
      rateLimit: { name: 'token', limit: () => limits.token },
      responses: { 200: GuestResponse },
      handler: async () => json(await identity.guest(), 200, NO_STORE),
    }),
    route({
      method: 'GET',
      path: '/api/v1/auth/me',
      summary: 'The signed-in user',
      tags,
      auth: 'user',
      responses: { 200: UserResponse },
      handler: async ({ actor }) => json(await identity.meDto(actor.userId)),
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/auth/me',
      summary: 'Update display name or password (password change needs current_password)',
      tags,
      auth: 'user',
      body: MePatchBody,
      responses: { 200: UserResponse },
      handler: async ({ actor, em, body, request }) => json(await identity.updateMe(em, actor.userId, body, request.ip)),
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/auth/me',
      summary: 'Delete the account (needs current_password)',
      tags,
      auth: 'user',
      body: MeDeleteBody,
      responses: { 204: null },
      handler: async ({ actor, em, body, request }) => {
        await identity.deleteMe(em, actor.userId, body.current_password, request.ip);
        return noContent();
      },
    }),
  ];
}
