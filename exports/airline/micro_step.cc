// A recurrent model streamed one sample at a time on TensorFlow Lite Micro; written by rnnzoo.
//
// The model's own facts are in micro_model.h (its operators, the tensor arena measured on the
// 32-bit core, where each tensor sits, the example windows); the model is model_data.h, or with
// -DRZ_INT8 model_data.int8.h (int8 tensors). The streaming API:
//
//   int  rz_init(void);                            once: 0 = ready, else a status (below)
//   void rz_reset(void);                           a new window: every state to its start
//   int  rz_step(const float *in, float *out);     one sample of RZ_IN_FLOATS floats; writes
//                                                  the prediction (RZ_PREDICTION_FLOATS), then
//                                                  the new states: RZ_OUT_FLOATS floats
//
// Floats in and out whatever the file's types: an integer tensor's scale and zero point come
// from the interpreter, floats are quantised on the way in and dequantised on the way out, and
// a reset state is the quantised 0.0 (the zero point, not 0). The model was trained on windows
// that start from the start state: call rz_reset() at the start of every window (kWindowSteps
// samples), or its answers drift. Compile with the defines the TFLM library was built with
// (TF_LITE_STATIC_MEMORY above all: it changes TfLiteTensor's layout). Without -DRZ_NO_MAIN the
// main() below streams the example windows and prints each answer.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <new>

#include "micro_model.h"
#ifdef RZ_INT8
#include "model_data.int8.h"
#else
#include "model_data.h"
#endif
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

extern "C" {
int rz_init(void);
void rz_reset(void);
int rz_step(const float* in, float* out);
unsigned rz_arena_used(void);
}


namespace {

using Resolver = tflite::MicroMutableOpResolver<RZ_TFLM_N_OPS>;

alignas(16) uint8_t g_arena[kArenaSize];
alignas(Resolver) uint8_t g_resolver_mem[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) uint8_t g_interpreter_mem[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter* g_interpreter = nullptr;
#ifdef RZ_ARENA_SEARCH
unsigned g_arena_needed = 0;
#endif

TfLiteTensor* g_input = nullptr;
TfLiteTensor* g_prediction = nullptr;
TfLiteTensor* g_state_in[kStates + 1];
TfLiteTensor* g_state_out[kStates + 1];

size_t elements(const TfLiteTensor* t) {
  size_t n = 1;
  for (int i = 0; i < t->dims->size; ++i) n *= static_cast<size_t>(t->dims->data[i]);
  return n;
}

bool supported(const TfLiteTensor* t) {
  return t->type == kTfLiteFloat32 || t->type == kTfLiteInt8 || t->type == kTfLiteInt16 ||
         t->type == kTfLiteUInt8;
}

template <typename T>
void quantise(const TfLiteTensor* t, const float* src, T* dst, size_t n, int32_t lo, int32_t hi) {
  const float scale = t->params.scale;
  const int32_t zero = t->params.zero_point;
  for (size_t i = 0; i < n; ++i) {
    int32_t q = static_cast<int32_t>(roundf(src[i] / scale)) + zero;
    dst[i] = static_cast<T>(q < lo ? lo : (q > hi ? hi : q));
  }
}

template <typename T>
void dequantise(const TfLiteTensor* t, const T* src, float* dst, size_t n) {
  const float scale = t->params.scale;
  const int32_t zero = t->params.zero_point;
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i] - zero) * scale;
}

// `n` floats into tensor `t` (quantised when it is an integer tensor).
void write_floats(TfLiteTensor* t, const float* src, size_t n) {
  switch (t->type) {
    case kTfLiteFloat32:
      memcpy(t->data.f, src, n * sizeof(float));
      break;
    case kTfLiteInt8:
      quantise(t, src, t->data.int8, n, -128, 127);
      break;
    case kTfLiteInt16:
      quantise(t, src, t->data.i16, n, -32768, 32767);
      break;
    case kTfLiteUInt8:
      quantise(t, src, t->data.uint8, n, 0, 255);
      break;
    default:
      break;
  }
}

// Tensor `t` as `n` floats (dequantised when it is an integer tensor).
void read_floats(const TfLiteTensor* t, float* dst, size_t n) {
  switch (t->type) {
    case kTfLiteFloat32:
      memcpy(dst, t->data.f, n * sizeof(float));
      break;
    case kTfLiteInt8:
      dequantise(t, t->data.int8, dst, n);
      break;
    case kTfLiteInt16:
      dequantise(t, t->data.i16, dst, n);
      break;
    case kTfLiteUInt8:
      dequantise(t, t->data.uint8, dst, n);
      break;
    default:
      break;
  }
}

// A state tensor at the value 0.0: zeros for float, the zero point for integers.
void zero_state(TfLiteTensor* t) {
  const size_t n = elements(t);
  switch (t->type) {
    case kTfLiteInt8:
      memset(t->data.int8, static_cast<int8_t>(t->params.zero_point), n);
      break;
    case kTfLiteUInt8:
      memset(t->data.uint8, static_cast<uint8_t>(t->params.zero_point), n);
      break;
    case kTfLiteInt16:
      for (size_t i = 0; i < n; ++i) t->data.i16[i] = static_cast<int16_t>(t->params.zero_point);
      break;
    default:
      memset(t->data.raw, 0, t->bytes);
      break;
  }
}

}  // namespace

extern "C" int rz_init(void) {
  if (g_interpreter != nullptr) return 0;
  const tflite::Model* model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) return 2;
  Resolver* resolver = new (g_resolver_mem) Resolver();
  RZ_TFLM_ADD_OPS(*resolver)
#ifdef RZ_ARENA_SEARCH
  // The smallest arena AllocateTensors accepts, by bisection below the one declared (the
  // interpreter's own count, arena_used_bytes(), leaves out what planning needs on the way).
  size_t fails = 0, works = kArenaSize;
  while (works - fails > 16) {
    const size_t size = (fails + works) / 32 * 16;
    tflite::MicroInterpreter* probe =
        new (g_interpreter_mem) tflite::MicroInterpreter(model, *resolver, g_arena, size);
    const bool ok = probe->AllocateTensors() == kTfLiteOk;
    probe->~MicroInterpreter();
    (ok ? works : fails) = size;
  }
  g_arena_needed = static_cast<unsigned>(works);
#endif
  tflite::MicroInterpreter* interpreter =
      new (g_interpreter_mem) tflite::MicroInterpreter(model, *resolver, g_arena, kArenaSize);
  if (interpreter->AllocateTensors() != kTfLiteOk) return 3;  // arena too small, missing op ...
  const int n_in = static_cast<int>(interpreter->inputs_size());
  const int n_out = static_cast<int>(interpreter->outputs_size());
  if (kInput >= n_in || kPrediction >= n_out) return 4;
  g_input = interpreter->input(kInput);
  g_prediction = interpreter->output(kPrediction);
  if (!supported(g_input) || !supported(g_prediction)) return 5;
  if (elements(g_input) != static_cast<size_t>(RZ_IN_FLOATS)) return 6;
  size_t out_floats = elements(g_prediction);
  for (int s = 0; s < kStates; ++s) {
    if (kStateIn[s] >= n_in || kStateOut[s] >= n_out) return 4;
    g_state_in[s] = interpreter->input(kStateIn[s]);
    g_state_out[s] = interpreter->output(kStateOut[s]);
    if (!supported(g_state_in[s]) || !supported(g_state_out[s])) return 5;
    if (elements(g_state_in[s]) != elements(g_state_out[s])) return 7;
    out_floats += elements(g_state_out[s]);
  }
  if (out_floats != static_cast<size_t>(RZ_OUT_FLOATS)) return 8;
  g_interpreter = interpreter;
  rz_reset();
  return 0;
}

extern "C" void rz_reset(void) {
  if (g_interpreter == nullptr) return;
  for (int s = 0; s < kStates; ++s) zero_state(g_state_in[s]);
}

extern "C" int rz_step(const float* in, float* out) {
  if (g_interpreter == nullptr) return 1;
  write_floats(g_input, in, RZ_IN_FLOATS);
  if (g_interpreter->Invoke() != kTfLiteOk) return 2;
  // Every output is read before any state input is written: the memory planner may place a
  // graph input in the same arena bytes as a later tensor, outputs included.
  size_t at = elements(g_prediction);
  read_floats(g_prediction, out, at);
  for (int s = 0; s < kStates; ++s) {
    const size_t n = elements(g_state_out[s]);
    read_floats(g_state_out[s], out + at, n);
    at += n;
  }
  // Feedback from the floats just written (exact: a value dequantised with the same scale and
  // zero point quantises back to the same integer; requantises when the two tensors differ).
  at = elements(g_prediction);
  for (int s = 0; s < kStates; ++s) {
    const size_t n = elements(g_state_in[s]);
    write_floats(g_state_in[s], out + at, n);
    at += n;
  }
  return 0;
}

// The arena bytes the model needs: with -DRZ_ARENA_SEARCH the smallest that allocates,
// otherwise what the interpreter counts as used.
extern "C" unsigned rz_arena_used(void) {
#ifdef RZ_ARENA_SEARCH
  return g_arena_needed;
#endif
  return g_interpreter == nullptr ? 0u : static_cast<unsigned>(g_interpreter->arena_used_bytes());
}

#ifndef RZ_NO_MAIN
#include <stdio.h>

namespace {

// `v` with six decimals, without printf's float support (newlib-nano leaves it out).
void print_float(float v) {
  if (v != v) {
    printf(" nan");
    return;
  }
  const char* sign = v < 0 ? "-" : "";
  const double a = fabs(static_cast<double>(v));
  const long whole = static_cast<long>(a);
  const long part = static_cast<long>((a - static_cast<double>(whole)) * 1e6 + 0.5);
  if (part >= 1000000) printf(" %s%ld.000000", sign, whole + 1);
  else printf(" %s%ld.%06ld", sign, whole, part);
}

void print_prediction(int window, int step, const float* out) {
  printf("window %d step %d:", window, step);
  for (int i = 0; i < RZ_PREDICTION_FLOATS; ++i) print_float(out[i]);
  printf("\n");
#ifdef RZ_CLASSES
  int best = 0;  // class scores are logits: the largest is the answer
  for (int i = 1; i < RZ_CLASSES; ++i)
    if (out[i] > out[best]) best = i;
  printf("window %d class: %s\n", window, kLabels[best]);
#endif
}

}  // namespace

// Streams the example windows, each from the start state, and prints every answer.
int main(void) {
  const int status = rz_init();
  if (status != 0) {
    printf("rz_init failed with status %d\n", status);
    return 1;
  }
  static float out[RZ_OUT_FLOATS];
  const float* sample = kExample;
  for (int w = 0; w < kExampleWindows; ++w) {
    rz_reset();
    for (int t = 0; t < kExampleSteps[w]; ++t, sample += RZ_IN_FLOATS) {
      if (rz_step(sample, out) != 0) {
        printf("rz_step failed\n");
        return 1;
      }
      if (RZ_PER_STEP || t == kExampleSteps[w] - 1) print_prediction(w, t, out);
    }
  }
  return 0;
}
#endif
