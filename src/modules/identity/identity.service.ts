import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException, raw } from '@mikro-orm/core';
import type { EntityManager } from '../../platform/db/orm.js';
import { ConflictError, ForbiddenError, NotFoundError, RateLimitedError, UnauthorizedError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import type { Actor } from './actor.js';
import { createExternalUsers } from './external-users.js';
import { RefreshToken, User, type UserEntity } from './identity.entity.js';
import type { UserDto } from './identity.schemas.js';
import type { IdentityQueries } from './identity.queries.js';
import { hashPassword, needsRehash, verifyPassword } from './password.js';
import type { ScryptGate } from './scrypt-gate.js';
import { hashOpaqueToken, newOpaqueToken, type TokenService } from './tokens.js';
import type { UserCache } from './user-cache.js';
import type { UserEvents } from './user-events.js';

interface Limit {
  limit: number;
  windowSeconds: number;
}

export interface IdentityDeps {
  tokens: TokenService;
  refreshTtlSeconds: number;
  logger: Logger;
  rateLimiter: RateLimiter;
  limits: { loginPerAccount: Limit; passwordCheckPerAccount: Limit; passwordCheckPerIp: Limit };
  /** Every scrypt call (hash or verify) runs through it. */
  gate: ScryptGate;
  cache: UserCache;
  events: UserEvents;
  queries: IdentityQueries;
}

export interface TokenPair {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
}

// Verifying against a fixed hash when the user does not exist keeps login timing independent of it.
const DUMMY_HASH = hashPassword('timing-equaliser-not-a-password');

export function toUserDto(user: UserEntity): UserDto {
  return {
    id: user.id,
    username: user.username,
    display_name: user.displayName ?? null,
    role: user.role,
    created_at: user.createdAt.toISOString(),
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;

export function createIdentityService(deps: IdentityDeps) {
  const { tokens, gate, cache, events } = deps;
  const hash = (plain: string) => gate.run(() => hashPassword(plain));
  const verify = (plain: string, encoded: string) => gate.run(() => verifyPassword(plain, encoded));
  const external = createExternalUsers({ logger: deps.logger, cache });

  async function limitOrThrow(hits: { key: string; limit: Limit }[]): Promise<void> {
    const results = await Promise.all(hits.map(({ key, limit }) => deps.rateLimiter.hit(key, limit.limit, limit.windowSeconds)));
    const refused = results.filter((r) => !r.allowed);
    if (refused.length) throw new RateLimitedError(Math.max(...refused.map((r) => r.retryAfter)));
  }

  async function issuePair(em: EntityManager, user: UserEntity, familyId: string = randomUUID()): Promise<TokenPair> {
    const access = await tokens.issueAccess({ id: user.id, role: user.role, tokenVersion: user.tokenVersion ?? 0 });
    const refresh = newOpaqueToken();
    em.create(RefreshToken, {
      id: randomUUID(),
      userId: user.id,
      familyId,
      tokenHash: hashOpaqueToken(refresh),
      expiresAt: new Date(Date.now() + deps.refreshTtlSeconds * 1000),
    });
    await em.flush();
    return { access_token: access.token, token_type: 'bearer', expires_in: access.expiresIn, refresh_token: refresh };
  }

  async function findByUsername(em: EntityManager, username: string): Promise<UserEntity | null> {
    return em.findOne(User, { [raw('lower(username)')]: username.toLowerCase() });
  }

  /**
   * A current-password check for an already signed-in user. Limited per account and per IP (every
   * check counts), so a stolen access token cannot be used to guess the password.
   */
  async function checkPassword(em: EntityManager, user: UserEntity, password: string, ip: string): Promise<void> {
    const { passwordCheckPerAccount, passwordCheckPerIp } = deps.limits;
    await limitOrThrow([
      { key: `auth:pwcheck:user:${user.id}`, limit: passwordCheckPerAccount },
      { key: `auth:pwcheck:ip:${ip}`, limit: passwordCheckPerIp },
    ]);
    if (!user.passwordHash || !(await verify(password, user.passwordHash))) {
      throw new ForbiddenError('current_password is wrong', 'wrong_password');
    }
    if (needsRehash(user.passwordHash)) {
      user.passwordHash = await hash(password);
      await em.flush();
    }
  }

  async function createUser(em: EntityManager, data: { username: string; password: string | null; displayName?: string | null; role?: 'user' | 'admin' }): Promise<UserEntity> {
    const user = em.create(User, {
      username: data.username,
      displayName: data.displayName ?? null,
      passwordHash: data.password ? await hash(data.password) : null,
      role: data.role ?? 'user',
    });
    try {
      await em.flush();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`username '${data.username}' is taken`, 'username_taken');
      throw err;
    }
    return user;
  }



  return {
    toUserDto,
    createUser,

    async register(em: EntityManager, body: { username: string; password: string; display_name?: string | undefined }): Promise<UserDto> {
      return toUserDto(await createUser(em, { username: body.username, password: body.password, displayName: body.display_name ?? null }));
    },

    /**
     * Password sign-in. Besides the route's per-IP limit, every attempt counts against lower(username)
     * whether or not that account exists, so a guess spread over many IPs is stopped too.
     */
    async login(em: EntityManager, username: string, password: string): Promise<TokenPair> {
      await limitOrThrow([{ key: `auth:login:name:${username.toLowerCase()}`, limit: deps.limits.loginPerAccount }]);
      const user = await findByUsername(em, username);
      const ok = await verify(password, user?.passwordHash ?? (await DUMMY_HASH));
      if (!user || !user.passwordHash || !ok) throw new UnauthorizedError('Incorrect username or password', 'invalid_credentials');
      return issuePair(em, user);
    },

    /** Rotates a refresh token; presenting one that was already rotated revokes its whole family. */
    async refresh(em: EntityManager, refreshToken: string): Promise<TokenPair> {
      const row = await em.findOne(RefreshToken, { tokenHash: hashOpaqueToken(refreshToken) });
      if (!row) throw new UnauthorizedError('Unknown refresh token', 'refresh_invalid');
      const now = new Date();
      if (row.revokedAt) throw new UnauthorizedError('Refresh token was revoked', 'refresh_revoked');
      if (row.expiresAt <= now) throw new UnauthorizedError('Refresh token expired', 'refresh_expired');
      const claimed = await em.nativeUpdate(RefreshToken, { id: row.id, usedAt: null, revokedAt: null }, { usedAt: now });
      if (claimed === 0) {
        await em.nativeUpdate(RefreshToken, { familyId: row.familyId, revokedAt: null }, { revokedAt: now });
        deps.logger.warn({ userId: row.userId, familyId: row.familyId }, 'refresh token reuse: family revoked');
        throw new UnauthorizedError('Refresh token reuse detected; please sign in again', 'refresh_reused');
      }
      const user = await em.findOne(User, { id: row.userId });
      if (!user) throw new UnauthorizedError('Account no longer exists', 'refresh_invalid');
      const pair = await issuePair(em, user, row.familyId);
      // A racing reuse of the same token may have revoked the family before our new row existed; any
      // revoked row means the family is dead, so the new token must not outlive it.
      const revoked = await em.count(RefreshToken, { familyId: row.familyId, revokedAt: { $ne: null } });
      if (revoked > 0) {
        await em.nativeUpdate(RefreshToken, { familyId: row.familyId, revokedAt: null }, { revokedAt: new Date() });
        throw new UnauthorizedError('Refresh token reuse detected; please sign in again', 'refresh_reused');
      }
      return pair;
    },

    async logout(em: EntityManager, refreshToken: string, actor: Actor | null): Promise<void> {
      const row = await em.findOne(RefreshToken, { tokenHash: hashOpaqueToken(refreshToken) });
      if (!row) return; // logging out twice is not an error
      if (actor?.kind === 'user' && actor.userId !== row.userId) throw new ForbiddenError('refresh token belongs to another user');
      await em.nativeUpdate(RefreshToken, { familyId: row.familyId, revokedAt: null }, { revokedAt: new Date() });
    },

    async guest(): Promise<{ access_token: string; token_type: 'bearer'; expires_in: number; guest_id: string }> {
      const guestId = randomUUID() as string;
      const issued = await tokens.issueGuest(guestId);
      return { access_token: issued.token, token_type: 'bearer', expires_in: issued.expiresIn, guest_id: guestId };
    },

    /** Hits and loads of the user cache (tests, metrics). */
    authCacheStats: () => cache.stats(),

    /** The `/auth/me` body in one lean query. */
    async meDto(userId: number): Promise<UserDto> {
      const dto = await deps.queries.userDto(userId);
      if (!dto) throw new NotFoundError('Account not found', 'user_not_found');
      return dto;
    },

    async me(em: EntityManager, userId: number): Promise<UserEntity> {
      const user = await em.findOne(User, { id: userId });
      if (!user) throw new NotFoundError('Account not found', 'user_not_found');
      return user;
    },

    async updateMe(em: EntityManager, userId: number, patch: { display_name?: string | null | undefined; new_password?: string | undefined; current_password?: string | undefined }, ip: string): Promise<UserDto> {
      const user = await this.me(em, userId);
      if (patch.new_password) {
        await checkPassword(em, user, patch.current_password ?? '', ip);
        user.passwordHash = await hash(patch.new_password);
        // A password change signs out every session: refresh tokens are revoked, and access tokens
        // issued before it carry an older version than the row.
        user.tokenVersion = (user.tokenVersion ?? 0) + 1;
        await em.nativeUpdate(RefreshToken, { userId, revokedAt: null }, { revokedAt: new Date() });
      }
      if (patch.display_name !== undefined) user.displayName = patch.display_name;
      await em.flush();
      if (patch.new_password) await events.publish({ userId, change: 'password' });
      return toUserDto(user);
    },

    async deleteMe(em: EntityManager, userId: number, currentPassword: string, ip: string): Promise<void> {
      const user = await this.me(em, userId);
      await checkPassword(em, user, currentPassword, ip);
      em.remove(user);
      await em.flush();
      await events.publish({ userId, change: 'deleted' });
    },

    /** Changes a user's role and tells every node; their cached role is stale until then. */
    async setRole(em: EntityManager, userId: number, role: 'user' | 'admin'): Promise<void> {
      const updated = await em.nativeUpdate(User, { id: userId }, { role });
      if (updated === 0) throw new NotFoundError('Account not found', 'user_not_found');
      await events.publish({ userId, change: 'role' });
    },

    /**
     * Bearer token to actor. User tokens are checked against the user's auth state (role, token version,
     * existence) from the cache: changes made on this node apply at once, on other nodes when the
     * invalidation arrives (milliseconds), and at worst after the cache TTL.
     */
    async authenticate(emOrFactory: EntityManager | (() => EntityManager), token: string): Promise<Actor> {
      // A factory lets the common path (cached user) skip forking an EntityManager it would not use.
      const emOf = typeof emOrFactory === 'function' ? emOrFactory : () => emOrFactory;
      const verified = await tokens.verify(token);
      if (verified.kind === 'external') return external.authenticate(emOf, verified);
      if (verified.kind !== 'user') return verified;
      const { tokenVersion, ...actor } = verified;
      let state = await cache.get(actor.userId);
      // A token newer than the cached row means this node missed an invalidation: re-read once.
      if (state && tokenVersion > state.tokenVersion) {
        cache.invalidate(actor.userId);
        state = await cache.get(actor.userId);
      }
      if (!state) throw new UnauthorizedError('Account no longer exists', 'user_not_found');
      if (tokenVersion < state.tokenVersion) throw new UnauthorizedError('Token revoked by a password change; sign in again', 'token_revoked');
      return { ...actor, role: state.role };
    },

    /** First admin from configuration: created when missing, promoted when it exists as a plain user. */
    async bootstrapAdmin(em: EntityManager, username: string, password: string): Promise<'created' | 'promoted' | 'exists'> {
      const user = await findByUsername(em, username);
      if (!user) {
        await createUser(em, { username, password, role: 'admin' });
        return 'created';
      }
      if (user.role === 'admin') return 'exists';
      await this.setRole(em, user.id, 'admin');
      return 'promoted';
    },
  };
}
