// Minimal typings for what the tests use (s3rver ships none and no @types/s3rver is installed).
declare module 's3rver' {
  import type { AddressInfo } from 'node:net';
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }
  class S3rver {
    constructor(options?: S3rverOptions);
    /** Resolves to the listening address. */
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
  export default S3rver;
}
