import type { Config } from '../../platform/config.js';
import type { Logger } from '../../platform/logger.js';
import { mediaPaths } from './media.service.js';
import { LocalStorage, type StorageDriver } from './storage.js';
import { S3Storage, createS3Client } from './storage.s3.js';

/**
 * The storage driver `media.storage` names: `local` (files under the media directory) or `s3` (a bucket every
 * node reaches). Upload temp files stay local either way (`mediaPaths(config).tmpDir`).
 */
export function storageFromConfig(config: Pick<Config, 'dataDir' | 'media'>, logger?: Logger): StorageDriver {
  if (config.media.storage === 's3') {
    const s3 = config.media.s3;
    if (!s3.bucket) throw new Error('media.storage is s3 but media.s3.bucket (S3_BUCKET) is not set');
    logger?.info({ bucket: s3.bucket, prefix: s3.prefix, endpoint: s3.endpoint ?? 'aws', region: s3.region }, 'media storage: s3');
    return new S3Storage(createS3Client({ ...s3, bucket: s3.bucket }), { bucket: s3.bucket, prefix: s3.prefix });
  }
  return new LocalStorage(mediaPaths(config).root);
}
