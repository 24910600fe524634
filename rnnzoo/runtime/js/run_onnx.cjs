// Runs an ONNX file on onnxruntime-node or onnxruntime-web (its wasm backend, in node) for
// rnnzoo's cross-runtime verification. Reads a job from stdin:
//   {"backend": "node" | "web", "model": PATH, "cases": [{NAME: {"dtype", "dims", "data"}}]}
// with data base64 little-endian; writes {"version", "results": [[{"dims", "data"}...]...]} or
// {"error": MESSAGE}. Modules are found through NODE_PATH.
"use strict";
const fs = require("fs");

const TYPES = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array };

function tensor(ort, spec) {
  const bytes = Buffer.from(spec.data, "base64");
  const Array_ = TYPES[spec.dtype];
  const copy = new Uint8Array(bytes).buffer;
  return new ort.Tensor(spec.dtype, new Array_(copy), spec.dims);
}

function encode(value) {
  let data = value.data;
  if (data instanceof BigInt64Array) data = Float32Array.from(data, Number);
  if (!(data instanceof Float32Array)) data = Float32Array.from(data);
  return { dims: value.dims, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64") };
}

async function main() {
  const job = JSON.parse(fs.readFileSync(0, "utf8"));
  const ort = require(job.backend === "web" ? "onnxruntime-web" : "onnxruntime-node");
  if (job.backend === "web") ort.env.wasm.numThreads = 1;
  const version = job.backend === "web" ? ort.env.versions.web : ort.env.versions.node;
  const model = fs.readFileSync(job.model);
  const session = await ort.InferenceSession.create(new Uint8Array(model));
  const results = [];
  for (const feeds of job.cases) {
    const inputs = {};
    for (const [name, spec] of Object.entries(feeds)) inputs[name] = tensor(ort, spec);
    const out = await session.run(inputs);
    results.push(session.outputNames.map((name) => encode(out[name])));
  }
  process.stdout.write(JSON.stringify({ version, results }));
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ error: String(error && error.message ? error.message : error) }));
});
