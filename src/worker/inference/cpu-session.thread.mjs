// Entry of a CPU inference thread (cpu-thread.ts): one ONNX Runtime session on the CPU provider, tiles in, tiles out.
// Plain JavaScript on purpose: it needs nothing of ours, so it loads the same under tsx, vitest and an esbuild bundle.
import { parentPort, workerData } from 'node:worker_threads';

const { model, cpuThreads, stop } = workerData;
/** Set by the host on release: tiles still queued here are refused instead of run. */
const stopped = new Int32Array(stop);

/** First line of an ORT message (they carry multi-line source locations). */
const short = (err) => String((err && err.message) || err).split('\n')[0].slice(0, 300);

let session;
let ort;
try {
  ort = await import('onnxruntime-node');
  const options = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (cpuThreads) options.intraOpNumThreads = cpuThreads;
  session = await ort.InferenceSession.create(model, options);
} catch (err) {
  parentPort.postMessage({ type: 'failed', message: short(err) });
}

if (session) {
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  parentPort.postMessage({ type: 'ready', inputName, outputName });
  // One tile at a time, in the order sent. ORT's run defers itself (setImmediate), so without this chain every
  // queued message would pass the stop check before the first tile even started.
  let chain = Promise.resolve();
  parentPort.on('message', (msg) => {
    chain = chain.then(() => handle(msg));
  });

  async function handle({ type, id, data, dims }) {
    if (type === 'close') {
      // After the tile in progress: a thread terminated inside ORT's native run aborts the whole process.
      await session.release().catch(() => {});
      parentPort.close();
      return;
    }
    if (Atomics.load(stopped, 0)) {
      parentPort.postMessage({ id, error: 'the model was released' });
      return;
    }
    try {
      const result = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
      const output = result[outputName];
      if (!output) throw new Error(`the model gave no output named ${outputName}`);
      // ORT owns the tensor's memory: copy it into a buffer this thread can hand over without a second copy.
      const out = output.data instanceof Float32Array ? output.data.slice() : null;
      parentPort.postMessage({ id, data: out, dims: output.dims, dataType: output.type }, out ? [out.buffer] : []);
    } catch (err) {
      parentPort.postMessage({ id, error: short(err) });
    }
  }
}
