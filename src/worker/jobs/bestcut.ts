import { bestCut, type BestCutOptions } from '../inference/bestcut.js';
import type { JobHandler } from '../worker.handlers.js';

/**
 * `bestcut`: fetch every candidate (each distinct hash once), score them (variance of Laplacian and the
 * exposure gate, inference/bestcut.ts), return every score and the pick by hash. `exposure` in the result is
 * the well-exposed fraction, 1 − blown − crushed (the factor the score multiplies sharpness by); `ok` is
 * whether the exposure gate passed.
 */
export function bestcutHandler(opts: BestCutOptions = {}): JobHandler<'bestcut'> {
  return {
    type: 'bestcut',
    async run(input, ctx) {
      const unique = [...new Set(input.sha256s)];
      const bytes = new Map<string, Buffer>();
      for (const [i, sha] of unique.entries()) {
        ctx.progress('fetching', i / unique.length, `candidate ${i + 1}/${unique.length}`);
        bytes.set(sha, await ctx.fetchMedia(sha));
      }
      ctx.signal.throwIfAborted();
      ctx.progress('scoring', 0);
      const { scores, pick } = await bestCut(
        input.sha256s.map((sha) => bytes.get(sha)!),
        opts,
      );
      return {
        result: {
          scores: scores.map((s) => ({
            sha256: input.sha256s[s.index]!,
            sharpness: s.sharpness,
            exposure: 1 - s.clippedHigh - s.clippedLow,
            ok: s.exposure === 'ok',
          })),
          pick: input.sha256s[pick]!,
        },
        cost: { candidates: input.sha256s.length },
      };
    },
  };
}
