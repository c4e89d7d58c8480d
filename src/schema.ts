import { identityEntities } from './modules/identity/identity.entity.js';

/** Every entity the ORM knows; migrations are listed in src/migrations/index.ts. */
export const entities = [...identityEntities];
