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
  if (job.backend === "web") ort.env.wasm.numThreads = 1;  // no worker threads in node
  const version = job.backend === "web" ? ort.env.versions.web : ort.env.versions.node;
  const model = fs.readFileSync(job.model);
  const options = job.backend === "node" && job.threads ? { intraOpNumThreads: job.threads } : {};
  const session = await ort.InferenceSession.create(new Uint8Array(model), options);
  if (job.repeats) {  // timing: the median of `repeats` runs of the first case, after a warm-up
    const inputs = {};
    for (const [name, spec] of Object.entries(job.cases[0])) inputs[name] = tensor(ort, spec);
    await session.run(inputs);
    const times = [];
    for (let i = 0; i < job.repeats; i++) {
      const start = performance.now();
      await session.run(inputs);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ version, median_ms: times[Math.floor(times.length / 2)] }));
    return;
  }
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
