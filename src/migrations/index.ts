import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Identity } from './0001-identity.js';
import { Migration0002Media } from './0002-media.js';
import { Migration0003Photos } from './0003-photos.js';
import { Migration0004Community } from './0004-community.js';
import { Migration0005MediaClaims } from './0005-media-claims.js';

/** Checked-in migrations, applied in this order at startup and by `npm run migrate`. Append only. */
export const migrations: MigrationObject[] = [
  { name: '0001-identity', class: Migration0001Identity },
  { name: '0002-media', class: Migration0002Media },
  { name: '0003-photos', class: Migration0003Photos },
  { name: '0004-community', class: Migration0004Community },
  { name: '0005-media-claims', class: Migration0005MediaClaims },
];
