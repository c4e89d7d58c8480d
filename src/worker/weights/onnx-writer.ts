/**
 * Builds and serialises ONNX ModelProto messages. The schema below is the subset of onnx/onnx.proto
 * (proto2, same field numbers) that a feed-forward float32 graph needs; protobufjs encodes it. Output is
 * deterministic for a given graph (fields in number order, no maps), which lets CI compare checksums.
 */
import protobuf from 'protobufjs';

const ONNX_SUBSET = `
syntax = "proto2";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  optional AttributeType type = 20;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; optional string doc_string = 3; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  optional string domain = 7;
}
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
message TensorProto {
  enum DataType { UNDEFINED = 0; FLOAT = 1; INT64 = 7; }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { optional int64 dim_value = 1; optional string dim_param = 2; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  optional Tensor tensor_type = 1;
}
`;

/** IR version 8 is the one that goes with opset 17 (onnx/docs/Versioning.md). */
export const IR_VERSION = 8;
export const OPSET = 17;
const FLOAT = 1;
const INT64 = 7;

export type AttrValue = number | string | number[] | { ints: number[] } | { float: number };

export interface OnnxNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  /** float32 tensors, or int64 for shape-like constants (Resize scales are float, so rarely needed). */
  data: Float32Array | BigInt64Array;
}

/** A tensor dimension: a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: { name: string; dims: Dim[] }[];
  outputs: { name: string; dims: Dim[] }[];
  docString?: string;
  metadata?: Record<string, string>;
}

let cachedRoot: protobuf.Root | undefined;
function modelType(): protobuf.Type {
  // Parsed lazily and cached: a pure value, not state, so no module singleton concerns.
  cachedRoot ??= protobuf.parse(ONNX_SUBSET, { keepCase: true }).root;
  return cachedRoot.lookupType('onnx.ModelProto');
}

function attribute(name: string, value: AttrValue): Record<string, unknown> {
  if (typeof value === 'string') return { name, type: 3, s: Buffer.from(value, 'utf8') };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`attribute ${name}: use { float } for non-integers`);
    return { name, type: 2, i: value };
  }
  if (Array.isArray(value)) return { name, type: 7, ints: value };
  if ('ints' in value) return { name, type: 7, ints: value.ints };
  return { name, type: 1, f: value.float };
}

function valueInfo(v: { name: string; dims: Dim[] }): Record<string, unknown> {
  const dim = v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name: v.name, type: { tensor_type: { elem_type: FLOAT, shape: { dim } } } };
}

function rawBytes(data: Float32Array | BigInt64Array): Buffer {
  // ONNX raw_data is little-endian; so is every platform Node runs on, but say so rather than assume.
  const out = Buffer.alloc(data.byteLength);
  if (data instanceof Float32Array) data.forEach((v, i) => out.writeFloatLE(v, i * 4));
  else data.forEach((v, i) => out.writeBigInt64LE(v, i * 8));
  return out;
}

/** Serialises a graph into ONNX ModelProto bytes (opset 17, default domain). */
export function encodeModel(graph: OnnxGraph, producer: { name: string; version: string }): Uint8Array {
  const message = {
    ir_version: IR_VERSION,
    producer_name: producer.name,
    producer_version: producer.version,
    model_version: 1,
    doc_string: graph.docString ?? '',
    opset_import: [{ domain: '', version: OPSET }],
    metadata_props: Object.entries(graph.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        name: n.name,
        op_type: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: graph.initializers.map((t) => ({
        name: t.name,
        dims: t.dims,
        data_type: t.data instanceof Float32Array ? FLOAT : INT64,
        raw_data: rawBytes(t.data),
      })),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  const type = modelType();
  const invalid = type.verify(message);
  if (invalid) throw new TypeError(`ONNX model message invalid: ${invalid}`);
  return type.encode(type.fromObject(message)).finish();
}
