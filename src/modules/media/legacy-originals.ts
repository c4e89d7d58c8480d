import type { EntityManager } from '../../platform/db/orm.js';
import type { DecodeBudget } from './decode-budget.js';
import { estimateDecodeBytes } from './decode-budget.js';
import { makePublicOriginal, probeImage } from './image.pipeline.js';
import { CONTENT_LOCK, type OriginalState } from './media.entity.js';
import type { MediaInfo } from './media.service.js';
import { originalKey, readBlob, type StorageDriver } from './storage.js';

export interface LegacyStripperDeps {
  storage: StorageDriver;
  budget: DecodeBudget;
  maxPixels: number;
}

/**
 * Rows stored before public originals were stripped (migration 0007 marks them 'pending') may still
 * carry EXIF/GPS in their file. The returned function strips such a file in place, once per content
 * and node (single flight) and once overall (the row's state is re-read under the content lock), and
 * returns the row as it is now; the caller serves nothing of a pending row before it resolves.
 *
 * @example
 * const cleanPending = createLegacyOriginalStripper({ storage, budget, maxPixels: cfg.uploads.maxPixels });
 * if (row.originalState === 'pending') row = await cleanPending(em, row);
 */
export function createLegacyOriginalStripper(deps: LegacyStripperDeps): (em: EntityManager, info: MediaInfo) => Promise<MediaInfo> {
  const { storage, budget } = deps;
  const cleaning = new Map<string, Promise<MediaInfo>>();

  async function strip(em: EntityManager, info: MediaInfo): Promise<MediaInfo> {
    const key = originalKey(info.sha256);
    if (!(await storage.has(key))) return info; // the caller reports the lost file
    // Accepted when it was uploaded: today's limits do not refuse content already stored; at worst it runs alone.
    const maxPixels = Math.max(deps.maxPixels, info.width * info.height);
    return budget.run(estimateDecodeBytes(info.width, info.height), async () => {
      const bytes = await readBlob(storage, key);
      const probe = await probeImage(bytes, { allowedFormats: [info.format], maxPixels, fullDecode: false });
      const clean = await makePublicOriginal(bytes, probe, { maxPixels });
      return em.transactional(async (tx) => {
        await tx.execute(CONTENT_LOCK, [info.sha256]);
        const [now] = await tx.execute<{ original_state: OriginalState; width: number; height: number }[]>(
          'select original_state, width, height from media where sha256 = ?',
          [info.sha256],
        );
        if (!now) return info; // discarded meanwhile
        if (now.original_state !== 'pending') return { ...info, originalState: now.original_state, width: now.width, height: now.height };
        const done: MediaInfo = clean ? { ...info, originalState: 'stripped', width: clean.width, height: clean.height } : { ...info, originalState: 'as_uploaded' };
        if (clean) await storage.putBuffer(key, clean.bytes);
        await tx.execute('update media set original_state = ?, width = ?, height = ? where sha256 = ?', [done.originalState, done.width, done.height, info.sha256]);
        return done;
      });
    });
  }

  return (em, info) => {
    let pending = cleaning.get(info.sha256);
    if (!pending) {
      pending = strip(em, info).finally(() => cleaning.delete(info.sha256));
      cleaning.set(info.sha256, pending);
    }
    return pending;
  };
}
