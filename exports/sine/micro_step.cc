// One streaming step of the model on TensorFlow Lite Micro; written by rnnzoo.
// float32, batch 1; where each tensor sits among the interpreter's inputs and outputs:
//   input: input 0
//   state_0: input 1, new value at output 1
//   the prediction: output 0
#include <cstring>

#include "model_data.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

constexpr int kArenaSize = 8880;  // measured: 7856 bytes on the host interpreter
alignas(16) static uint8_t tensor_arena[kArenaSize];
constexpr int kInput = 0, kPrediction = 0, kStates = 1;
constexpr int kStateIn[kStates] = {1};
constexpr int kStateOut[kStates] = {1};

int main() {
  const tflite::Model* model = tflite::GetModel(g_model);
  tflite::MicroMutableOpResolver<8> resolver;
  resolver.AddAdd();
  resolver.AddFullyConnected();
  resolver.AddLogistic();
  resolver.AddMul();
  resolver.AddReshape();
  resolver.AddSlice();
  resolver.AddSub();
  resolver.AddTanh();
  tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, kArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) return 1;
  for (int s = 0; s < kStates; ++s) {  // a stream starts from zero states
    TfLiteTensor* state = interpreter.input(kStateIn[s]);
    std::memset(state->data.raw, 0, state->bytes);
  }
  for (int t = 0; t < 10; ++t) {
    float* x = interpreter.input(kInput)->data.f;  // write the sample of step t here
    (void)x;
    if (interpreter.Invoke() != kTfLiteOk) return 1;
    float prediction = interpreter.output(kPrediction)->data.f[0];
    (void)prediction;
    for (int s = 0; s < kStates; ++s) {  // new state -> next step's state
      const TfLiteTensor* now = interpreter.output(kStateOut[s]);
      std::memcpy(interpreter.input(kStateIn[s])->data.raw, now->data.raw, now->bytes);
    }
  }
  return 0;
}
