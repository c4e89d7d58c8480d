import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '../../platform/db/orm.js';
import { ConflictError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { UserActor } from './actor.js';
import type { ExternalIdentity } from './external-issuer.js';
import { User, type UserEntity } from './identity.entity.js';
import type { UserCache } from './user-cache.js';

const DISPLAY_NAME_MAX = 100;
const EXTERNAL_IDS_MAX = 10_000;

/** The first `max` code points of `text`, so a cut never splits a surrogate pair. */
export function fitCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join('');
}

/**
 * Users vouched for by the external issuer: mapped to a local row by (issuer, subject), provisioned on
 * first sight. Known mappings are remembered so a returning user authenticates from the user cache.
 */
export function createExternalUsers(deps: { logger: Logger; cache: UserCache }) {
  const ids = new Map<string, number>();

  async function provision(em: EntityManager, ext: ExternalIdentity): Promise<UserEntity> {
    const existing = await em.findOne(User, { externalIssuer: ext.issuer, externalSubject: ext.subject });
    if (existing) return existing;
    const base = (ext.username ?? `ext_${ext.subject}`).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40).padEnd(3, '_');
    // The issuer's name is shown as given but must fit users.display_name (varchar(100), counted in code points).
    const displayName = ext.username === undefined ? null : fitCodePoints(ext.username, DISPLAY_NAME_MAX);
    for (let attempt = 0; attempt < 5; attempt++) {
      const username = attempt === 0 ? base : `${base}_${randomUUID().slice(0, 6)}`;
      const fork = em.fork();
      const user = fork.create(User, { username, displayName, passwordHash: null, role: 'user', externalIssuer: ext.issuer, externalSubject: ext.subject });
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
    async authenticate(emOf: () => EntityManager, ext: ExternalIdentity): Promise<UserActor> {
      const tokenId = `ext:${ext.subject}:${ext.expiresAt}`;
      const key = `${ext.issuer}\n${ext.subject}`;
      const known = ids.get(key);
      const state = known === undefined ? null : await deps.cache.get(known);
      if (known !== undefined && state) return { kind: 'user', userId: known, role: state.role, tokenId, expiresAt: ext.expiresAt };
      // Unknown, or the local row was deleted: find or provision it again.
      const user = await provision(emOf(), ext);
      ids.delete(key);
      ids.set(key, user.id);
      if (ids.size > EXTERNAL_IDS_MAX) ids.delete(ids.keys().next().value!);
      return { kind: 'user', userId: user.id, role: user.role, tokenId, expiresAt: ext.expiresAt };
    },
  };
}
