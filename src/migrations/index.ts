import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Identity } from './0001-identity.js';

/** Checked-in migrations, applied in this order at startup and by `npm run migrate`. Append only. */
export const migrations: MigrationObject[] = [{ name: '0001-identity', class: Migration0001Identity }];
