// This model's facts for micro_step.cc on TensorFlow Lite Micro; written by rnnzoo.
// model.step.tflite's tensors, by position among the interpreter's inputs and outputs:
//   input (7 floats, one sample): input 0
//   state_0 (30 floats): input 1; state_0_out, its new value: output 1
//   output (2 floats, class scores (logits)): output 0
#pragma once

#define RZ_TFLM_N_OPS 8
#define RZ_TFLM_ADD_OPS(r) (r).AddAdd(); (r).AddFullyConnected(); (r).AddLogistic(); (r).AddMul(); (r).AddReshape(); (r).AddSlice(); (r).AddSub(); (r).AddTanh();
#ifndef RZ_IN_FLOATS
#define RZ_IN_FLOATS 7
#endif
#ifndef RZ_OUT_FLOATS
#define RZ_OUT_FLOATS 32  // prediction + states
#endif
#define RZ_PREDICTION_FLOATS 2
#define RZ_PER_STEP 0  // 1: an answer every step, 0: at a window's end
#define RZ_CLASSES 2
#ifdef RZ_ARENA_SIZE
constexpr int kArenaSize = RZ_ARENA_SIZE;
#else
#ifdef RZ_INT8
constexpr int kArenaSize = 5344;  // measured on the Cortex-M4F (mps2-an386)
#else
constexpr int kArenaSize = 3840;  // measured on the Cortex-M4F (mps2-an386)
#endif
#endif
#ifdef RZ_INT8
constexpr int kInput = 0, kPrediction = 0;
constexpr int kStates = 1;
constexpr int kStateIn[kStates + 1] = {1, -1};  // -1: end
constexpr int kStateOut[kStates + 1] = {1, -1};
#else
constexpr int kInput = 0, kPrediction = 0;
constexpr int kStates = 1;
constexpr int kStateIn[kStates + 1] = {1, -1};  // -1: end
constexpr int kStateOut[kStates + 1] = {1, -1};
#endif
// The model was trained on windows of 36 samples, each from the start
// state: call rz_reset() at the start of every window.
constexpr int kWindowSteps = 36;
// The first test windows, one sample per row (what main() streams).
constexpr int kExampleWindows = 2;
constexpr int kExampleSteps[kExampleWindows] = {13, 9};
const float kExample[22 * RZ_IN_FLOATS] = {
  1.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 1.f, 0.f,
  0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.f,
  0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.f,
  0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 1.f,
  0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f,
  0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.f,
  0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f,
  0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 1.f, 0.f,
  0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
  0.f, 1.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f,
  0.f, 0.f
};
const char* const kLabels[RZ_CLASSES] = {"invalid", "valid"};
