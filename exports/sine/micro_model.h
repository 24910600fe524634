// This model's facts for micro_step.cc on TensorFlow Lite Micro; written by rnnzoo.
// model.step.tflite's tensors, by position among the interpreter's inputs and outputs:
//   input (1 floats, one sample): input 0
//   state_0 (100 floats): input 1; state_0_out, its new value: output 1
//   output (1 floats, the prediction): output 0
#pragma once

#define RZ_TFLM_N_OPS 8
#define RZ_TFLM_ADD_OPS(r) (r).AddAdd(); (r).AddFullyConnected(); (r).AddLogistic(); (r).AddMul(); (r).AddReshape(); (r).AddSlice(); (r).AddSub(); (r).AddTanh();
#ifndef RZ_IN_FLOATS
#define RZ_IN_FLOATS 1
#endif
#ifndef RZ_OUT_FLOATS
#define RZ_OUT_FLOATS 101  // prediction + states
#endif
#define RZ_PREDICTION_FLOATS 1
#define RZ_PER_STEP 1  // 1: an answer every step, 0: at a window's end
#ifdef RZ_ARENA_SIZE
constexpr int kArenaSize = RZ_ARENA_SIZE;
#else
#ifdef RZ_INT8
constexpr int kArenaSize = 9472;  // measured on the Cortex-M4F (mps2-an386)
#else
constexpr int kArenaSize = 6096;  // measured on the Cortex-M4F (mps2-an386)
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
// The model was trained on windows of 20 samples, each from the start
// state: call rz_reset() at the start of every window.
constexpr int kWindowSteps = 20;
// The first test windows, one sample per row (what main() streams).
constexpr int kExampleWindows = 2;
constexpr int kExampleSteps[kExampleWindows] = {20, 20};
const float kExample[40 * RZ_IN_FLOATS] = {
  -0.375933558f, -1.0919534f, -1.40183568f, -1.23265624f, -0.631043553f, 0.248167217f, 1.17980576f, 1.92349446f,
  2.2825346f, 2.15213609f, 1.54518139f, 0.589213669f, -0.504609942f, -1.49300539f, -2.15988159f, -2.36897278f,
  -2.09690142f, -1.43857801f, -0.583621025f, 0.230427384f, 3.43653345f, 4.16055298f, 5.23198557f, 6.46384096f,
  7.61606932f, 8.45357037f, 8.80313492f, 8.59537983f, 7.88141823f, 6.82018423f, 5.63952684f, 4.58059072f,
  3.83910894f, 3.51797271f, 3.60269284f, 3.96575284f, 4.39877987f, 4.66465425f, 4.55677891f, 3.95100069f
};
