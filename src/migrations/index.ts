import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001Identity } from './0001-identity.js';
import { Migration0002Media } from './0002-media.js';
import { Migration0003Photos } from './0003-photos.js';
import { Migration0004Community } from './0004-community.js';
import { Migration0005MediaClaims } from './0005-media-claims.js';
import { Migration0006LikeCounter } from './0006-like-counter.js';
import { Migration0007MediaPublicOriginal } from './0007-media-public-original.js';
import { Migration0008UserTokenVersion } from './0008-user-token-version.js';
import { Migration0009Tournaments } from './0009-tournaments.js';
import { Migration0010Events } from './0010-events.js';
import { Migration0011Jobs } from './0011-jobs.js';
import { Migration0012JobWorkers } from './0012-job-workers.js';
import { Migration0013Studio } from './0013-studio.js';
import { Migration0014StudioSegmentsAnalytics } from './0014-studio-segments-analytics.js';
import { Migration0015PhotoFollowsJob } from './0015-photo-follows-job.js';

/** Checked-in migrations, applied in this order at startup and by `npm run migrate`. Append only. */
export const migrations: MigrationObject[] = [
  { name: '0001-identity', class: Migration0001Identity },
  { name: '0002-media', class: Migration0002Media },
  { name: '0003-photos', class: Migration0003Photos },
  { name: '0004-community', class: Migration0004Community },
  { name: '0005-media-claims', class: Migration0005MediaClaims },
  { name: '0006-like-counter', class: Migration0006LikeCounter },
  { name: '0007-media-public-original', class: Migration0007MediaPublicOriginal },
  { name: '0008-user-token-version', class: Migration0008UserTokenVersion },
  { name: '0009-tournaments', class: Migration0009Tournaments },
  { name: '0010-events', class: Migration0010Events },
  { name: '0011-jobs', class: Migration0011Jobs },
  { name: '0012-job-workers', class: Migration0012JobWorkers },
  { name: '0013-studio', class: Migration0013Studio },
  { name: '0014-studio-segments-analytics', class: Migration0014StudioSegmentsAnalytics },
  { name: '0015-photo-follows-job', class: Migration0015PhotoFollowsJob },
];
