import { defineEntity, p } from '@mikro-orm/postgresql';

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.integer().primary().autoincrement(),
    username: p.string().length(50),
    displayName: p.string().length(100).nullable(),
    passwordHash: p.string().length(255).nullable().hidden(),
    role: p.enum(['user', 'admin'] as const).default('user'),
    /** Bumped by a password change; access tokens carry the version they were issued at (`ver`). */
    tokenVersion: p.integer().default(0),
    externalIssuer: p.string().length(255).nullable(),
    externalSubject: p.string().length(255).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export const RefreshToken = defineEntity({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  properties: {
    id: p.uuid().primary(),
    userId: p.integer(),
    familyId: p.uuid(),
    tokenHash: p.string().length(64),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export type UserEntity = InstanceType<typeof User.class>;
export const identityEntities = [User, RefreshToken];
