/* gunpoint_int8: one streaming step as plain C99; written by rnnzoo.
 * Usage: gunpoint_int8_state s; gunpoint_int8_init(&s); then for each sample
 *   gunpoint_int8_step(&s, input, output);   and gunpoint_int8_reset(&s) to start a new stream. */
#ifndef GUNPOINT_INT8_STEP_H
#define GUNPOINT_INT8_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define GUNPOINT_INT8_INPUT_SIZE 1   /* floats in one step's input */
#define GUNPOINT_INT8_OUTPUT_SIZE 2  /* floats in one step's prediction */
#define GUNPOINT_INT8_STATE_FLOATS 1159  /* floats the state struct holds */
#define GUNPOINT_INT8_WORK_FLOATS 1803  /* floats of work space gunpoint_int8_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[64];
  float encoder_0[6];
  float encoder_1[512];
  float encoder_2[512];
  float readout_0[64];
  float readout_1[1];
} gunpoint_int8_state;

void gunpoint_int8_init(gunpoint_int8_state *s);   /* before the first step */
void gunpoint_int8_reset(gunpoint_int8_state *s);  /* start a new stream (a new window, a new sequence) */
void gunpoint_int8_step(gunpoint_int8_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
