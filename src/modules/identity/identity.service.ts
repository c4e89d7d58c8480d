import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException, raw } from '@mikro-orm/core';
import type { EntityManager } from '../../platform/db/orm.js';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { Actor } from './actor.js';
import type { ExternalIdentity } from './external-issuer.js';
import { RefreshToken, User, type UserEntity } from './identity.entity.js';
import type { UserDto } from './identity.schemas.js';
import { hashPassword, needsRehash, verifyPassword } from './password.js';
import { hashOpaqueToken, newOpaqueToken, type TokenService } from './tokens.js';

export interface IdentityDeps {
  tokens: TokenService;
  refreshTtlSeconds: number;
  logger: Logger;
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
  const { tokens } = deps;

  async function issuePair(em: EntityManager, user: UserEntity, familyId: string = randomUUID()): Promise<TokenPair> {
    const access = await tokens.issueAccess({ id: user.id, role: user.role });
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

  async function checkPassword(em: EntityManager, user: UserEntity, password: string): Promise<void> {
    if (!user.passwordHash || !(await verifyPassword(password, user.passwordHash))) {
      throw new ForbiddenError('current_password is wrong', 'wrong_password');
    }
    if (needsRehash(user.passwordHash)) {
      user.passwordHash = await hashPassword(password);
      await em.flush();
    }
  }

  async function createUser(em: EntityManager, data: { username: string; password: string | null; displayName?: string | null; role?: 'user' | 'admin' }): Promise<UserEntity> {
    const user = em.create(User, {
      username: data.username,
      displayName: data.displayName ?? null,
      passwordHash: data.password ? await hashPassword(data.password) : null,
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

  async function provisionExternal(em: EntityManager, ext: ExternalIdentity): Promise<UserEntity> {
    const existing = await em.findOne(User, { externalIssuer: ext.issuer, externalSubject: ext.subject });
    if (existing) return existing;
    const base = (ext.username ?? `ext_${ext.subject}`).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40).padEnd(3, '_');
    for (let attempt = 0; attempt < 5; attempt++) {
      const username = attempt === 0 ? base : `${base}_${randomUUID().slice(0, 6)}`;
      const fork = em.fork();
      const user = fork.create(User, { username, displayName: ext.username ?? null, passwordHash: null, role: 'user', externalIssuer: ext.issuer, externalSubject: ext.subject });
      try {
        await fork.flush();
        deps.logger.info({ userId: user.id, issuer: ext.issuer }, 'provisioned user from external issuer');
        return user;
      } catch (err) {
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        // Either the username is taken or a concurrent request provisioned the same subject.
        const raced = await em.fork().findOne(User, { externalIssuer: ext.issuer, externalSubject: ext.subject });
        if (raced) return raced;
      }
    }
    throw new ConflictError('could not allocate a username for the external user', 'username_taken');
  }

  return {
    toUserDto,
    createUser,

    async register(em: EntityManager, body: { username: string; password: string; display_name?: string | undefined }): Promise<UserDto> {
      return toUserDto(await createUser(em, { username: body.username, password: body.password, displayName: body.display_name ?? null }));
    },

    async login(em: EntityManager, username: string, password: string): Promise<TokenPair> {
      const user = await findByUsername(em, username);
      const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_HASH));
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

    async me(em: EntityManager, userId: number): Promise<UserEntity> {
      const user = await em.findOne(User, { id: userId });
      if (!user) throw new NotFoundError('Account not found', 'user_not_found');
      return user;
    },

    async updateMe(em: EntityManager, userId: number, patch: { display_name?: string | null | undefined; new_password?: string | undefined; current_password?: string | undefined }): Promise<UserDto> {
      const user = await this.me(em, userId);
      if (patch.new_password) {
        await checkPassword(em, user, patch.current_password ?? '');
        user.passwordHash = await hashPassword(patch.new_password);
        // A password change signs out every other session.
        await em.nativeUpdate(RefreshToken, { userId, revokedAt: null }, { revokedAt: new Date() });
      }
      if (patch.display_name !== undefined) user.displayName = patch.display_name;
      await em.flush();
      return toUserDto(user);
    },

    async deleteMe(em: EntityManager, userId: number, currentPassword: string): Promise<void> {
      const user = await this.me(em, userId);
      await checkPassword(em, user, currentPassword);
      em.remove(user);
      await em.flush();
    },

    /** Bearer token to actor. User tokens are checked against the database so deletions and demotions apply at once. */
    async authenticate(em: EntityManager, token: string): Promise<Actor> {
      const verified = await tokens.verify(token);
      if (verified.kind === 'external') {
        const user = await provisionExternal(em, verified);
        return { kind: 'user', userId: user.id, role: user.role, tokenId: `ext:${verified.subject}:${verified.expiresAt}`, expiresAt: verified.expiresAt };
      }
      if (verified.kind !== 'user') return verified;
      const user = await em.findOne(User, { id: verified.userId }, { fields: ['id', 'role'] });
      if (!user) throw new UnauthorizedError('Account no longer exists', 'user_not_found');
      return { ...verified, role: user.role };
    },

    /** First admin from configuration: created when missing, promoted when it exists as a plain user. */
    async bootstrapAdmin(em: EntityManager, username: string, password: string): Promise<'created' | 'promoted' | 'exists'> {
      const user = await findByUsername(em, username);
      if (!user) {
        await createUser(em, { username, password, role: 'admin' });
        return 'created';
      }
      if (user.role === 'admin') return 'exists';
      user.role = 'admin';
      await em.flush();
      return 'promoted';
    },
  };
}
