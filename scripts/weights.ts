/**
 * `npm run weights`: converts the upscalerjs ESRGAN packages (TF.js layers) into ONNX files in weights/.
 *
 *   npm run weights                         # the committed default set (RDN slim/medium, x2 and x4)
 *   npm run weights -- --all                # every family and scale (adds ~110 MB of RRDN thick files)
 *   npm run weights -- rrdn-thick-x4        # named models
 *   npm run weights -- --check              # convert in memory, compare with weights/manifest.json (CI)
 *   npm run weights -- --out /tmp/w         # another folder
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { convertModel, writeWeights } from '../src/worker/weights/weights.build.js';
import { ALL_MODELS, DEFAULT_MODELS, type ModelId, parseModelKey } from '../src/worker/weights/weights.catalog.js';
import { checkEntry, readManifest } from '../src/worker/weights/weights.manifest.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    all: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    out: { type: 'string', default: 'weights' },
  },
});

const dir = resolve(values.out);
let ids: readonly ModelId[] = values.all ? ALL_MODELS : DEFAULT_MODELS;
if (positionals.length > 0) {
  ids = positionals.map((key) => {
    const id = parseModelKey(key);
    if (!id) {
      console.error(`unknown model ${key}; known: ${ALL_MODELS.map((m) => `${m.family}-x${m.scale}`).join(', ')}`);
      process.exit(2);
    }
    return id;
  });
}

if (values.check) {
  // Every manifest entry's file must match its checksum, and a fresh conversion must reproduce it.
  const manifest = await readManifest(dir);
  const problems: string[] = [];
  for (const entry of manifest.models) {
    problems.push(...(await checkEntry(dir, entry)));
    const fresh = await convertModel(parseModelKey(entry.key)!);
    if (fresh.entry.sha256 !== entry.sha256) problems.push(`${entry.key}: a fresh conversion gives ${fresh.entry.sha256}`);
  }
  for (const p of problems) console.error(p);
  console.log(`${manifest.models.length} models checked, ${problems.length} problems`);
  process.exit(problems.length === 0 ? 0 : 1);
}

const started = performance.now();
await writeWeights(dir, ids, (entry, ms) => {
  const kb = (entry.bytes / 1024).toFixed(0);
  console.log(`${entry.file.padEnd(22)} ${kb.padStart(7)} KiB  ${ms.toFixed(0).padStart(5)} ms  ${entry.sha256}`);
});
console.log(`${ids.length} models written to ${dir} in ${(performance.now() - started).toFixed(0)} ms`);
