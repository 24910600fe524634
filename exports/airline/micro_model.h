// This model's facts for micro_step.cc on TensorFlow Lite Micro; written by rnnzoo.
// model.step.tflite's tensors, by position among the interpreter's inputs and outputs:
//   input (1 floats, one sample): input 0
//   state_0 (64 floats): input 1; state_0_out, its new value: output 1
//   encoder_0 (1 floats): input 2; encoder_0_out, its new value: output 2
//   encoder_1 (1 floats): input 3; encoder_1_out, its new value: output 3
//   output (24 floats, the prediction): output 0
#pragma once

#define RZ_TFLM_N_OPS 17
#define RZ_TFLM_ADD_OPS(r) (r).AddAbs(); (r).AddAdd(); (r).AddCast(); (r).AddConcatenation(); (r).AddDiv(); (r).AddFullyConnected(); (r).AddGreater(); (r).AddLogicalNot(); (r).AddLogistic(); (r).AddMaximum(); (r).AddMul(); (r).AddNotEqual(); (r).AddReshape(); (r).AddSelectV2(); (r).AddSlice(); (r).AddSub(); (r).AddTanh();
#ifndef RZ_IN_FLOATS
#define RZ_IN_FLOATS 1
#endif
#ifndef RZ_OUT_FLOATS
#define RZ_OUT_FLOATS 90  // prediction + states
#endif
#define RZ_PREDICTION_FLOATS 24
#define RZ_PER_STEP 0  // 1: an answer every step, 0: at a window's end
#ifdef RZ_ARENA_SIZE
constexpr int kArenaSize = RZ_ARENA_SIZE;
#else
constexpr int kArenaSize = 6608;  // measured on the Cortex-M4F (mps2-an386)
#endif
constexpr int kInput = 0, kPrediction = 0;
constexpr int kStates = 3;
constexpr int kStateIn[kStates + 1] = {1, 2, 3, -1};  // -1: end
constexpr int kStateOut[kStates + 1] = {1, 2, 3, -1};
// The model was trained on windows of 36 samples, each from the start
// state: call rz_reset() at the start of every window.
constexpr int kWindowSteps = 36;
// The first test windows, one sample per row (what main() streams).
constexpr int kExampleWindows = 1;
constexpr int kExampleSteps[kExampleWindows] = {36};
const float kExample[36 * RZ_IN_FLOATS] = {
  284.f, 277.f, 317.f, 313.f, 318.f, 374.f, 413.f, 405.f,
  355.f, 306.f, 271.f, 306.f, 315.f, 301.f, 356.f, 348.f,
  355.f, 422.f, 465.f, 467.f, 404.f, 347.f, 305.f, 336.f,
  340.f, 318.f, 362.f, 348.f, 363.f, 435.f, 491.f, 505.f,
  404.f, 359.f, 310.f, 337.f
};
