import { communityEntities } from './modules/community/community.entity.js';
import { identityEntities } from './modules/identity/identity.entity.js';
import { mediaEntities } from './modules/media/media.entity.js';
import { photoEntities } from './modules/photos/photos.entity.js';

/** Every entity the ORM knows; migrations are listed in src/migrations/index.ts. */
export const entities = [...identityEntities, ...mediaEntities, ...photoEntities, ...communityEntities];
