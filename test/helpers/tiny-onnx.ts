/**
 * Builds tiny ONNX models in memory for the inference tests, with a hand-rolled protobuf writer
 * (the ONNX messages used here are a handful of fields), so the tests need no converter, no
 * weights on disk and no protobuf dependency.
 *
 * Both models take `input` NCHW float32 [1, 3, H, W] (H and W dynamic) and give `output`
 * [1, 3, H*s, W*s] through Conv + DepthToSpace (DCR), the shape the converted RDN models have.
 */

class Writer {
  private readonly parts: Buffer[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) b |= 0x80;
      bytes.push(b);
    } while (v !== 0n);
    this.parts.push(Buffer.from(bytes));
  }

  int(field: number, value: number): this {
    this.varint((field << 3) | 0);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Buffer | Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(value.length);
    this.parts.push(Buffer.from(value));
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

interface NodeSpec {
  op: string;
  inputs: string[];
  output: string;
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
}

function valueInfo(w: Writer, name: string, channels: number): void {
  w.string(1, name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.int(1, FLOAT).message(2, (shape) => {
        shape.message(1, (d) => d.int(1, 1));
        shape.message(1, (d) => d.int(1, channels));
        shape.message(1, (d) => d.string(2, 'height'));
        shape.message(1, (d) => d.string(2, 'width'));
      }),
    ),
  );
}

function model(nodes: NodeSpec[], initializers: Initializer[]): Buffer {
  return new Writer()
    .int(1, 8) // ir_version
    .string(2, 'easel-tests')
    .message(7, (g) => {
      for (const n of nodes) {
        g.message(1, (node) => {
          for (const i of n.inputs) node.string(1, i);
          node.string(2, n.output).string(3, `${n.op}_${n.output}`).string(4, n.op);
          for (const [name, values] of Object.entries(n.ints ?? {})) {
            node.message(5, (a) => {
              a.string(1, name);
              for (const v of values) a.int(8, v);
              a.int(20, ATTR_INTS);
            });
          }
          for (const [name, value] of Object.entries(n.int ?? {})) {
            node.message(5, (a) => a.string(1, name).int(3, value).int(20, ATTR_INT));
          }
        });
      }
      g.string(2, 'tiny');
      for (const t of initializers) {
        g.message(5, (tensor) => {
          for (const d of t.dims) tensor.int(1, d);
          tensor.int(2, FLOAT).string(8, t.name);
          tensor.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
        });
      }
      g.message(11, (v) => valueInfo(v, 'input', 3));
      g.message(12, (v) => valueInfo(v, 'output', 3));
    })
    .message(8, (op) => op.string(1, '').int(2, 13))
    .finish();
}

/**
 * ×scale upscaler: a k×k box filter per channel (k = 1: pointwise, nearest-neighbour; k = 3: a
 * receptive field of one pixel; a larger odd k makes a slow model), zero padding, then DepthToSpace. `gain` multiplies the output so
 * tests can push values outside the pixel range and check the clamp.
 */
export function boxUpscaleOnnx(opts: { scale: number; kernel: number; gain?: number }): Buffer {
  const { scale, kernel } = opts;
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) throw new RangeError(`kernel must be a positive odd integer, got ${kernel}`);
  const gain = opts.gain ?? 1;
  const outChannels = 3 * scale * scale;
  const weights = new Float32Array(outChannels * 3 * kernel * kernel);
  // DCR DepthToSpace: output channel k lands on colour channel k % 3.
  for (let k = 0; k < outChannels; k++) {
    const c = k % 3;
    for (let i = 0; i < kernel * kernel; i++) weights[((k * 3 + c) * kernel * kernel) + i] = gain / (kernel * kernel);
  }
  const pad = (kernel - 1) / 2;
  return model(
    [
      { op: 'Conv', inputs: ['input', 'w'], output: 'features', ints: { kernel_shape: [kernel, kernel], pads: [pad, pad, pad, pad] } },
      { op: 'DepthToSpace', inputs: ['features'], output: 'output', int: { blocksize: scale } },
    ],
    [{ name: 'w', dims: [outChannels, 3, kernel, kernel], data: weights }],
  );
}
