/**
 * A real S3-protocol server (s3rver) in this process on 127.0.0.1 and an ephemeral port, with one bucket,
 * its objects in a temp directory. For the S3 storage driver's tests: nothing leaves the machine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { S3StorageConfig } from '../../src/modules/media/storage.s3.js';

export interface TestS3 {
  /** `media.s3` for a hub or `createS3Client`: path-style, s3rver's fixed test credentials. */
  config: S3StorageConfig;
  endpoint: string;
  stop(): Promise<void>;
}

export async function startTestS3(bucket = 'easel-media', prefix = ''): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), 'easel-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    config: { bucket, prefix, region: 'us-east-1', endpoint, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async stop() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
