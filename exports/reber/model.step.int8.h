/* reber_int8: one streaming step as plain C99; written by rnnzoo.
 * Usage: reber_int8_state s; reber_int8_init(&s); then for each sample
 *   reber_int8_step(&s, input, output);   and reber_int8_reset(&s) to start a new stream. */
#ifndef REBER_INT8_STEP_H
#define REBER_INT8_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define REBER_INT8_INPUT_SIZE 7   /* floats in one step's input */
#define REBER_INT8_OUTPUT_SIZE 2  /* floats in one step's prediction */
#define REBER_INT8_STATE_FLOATS 30  /* floats the state struct holds */
#define REBER_INT8_WORK_FLOATS 210  /* floats of work space reber_int8_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[30];
} reber_int8_state;

void reber_int8_init(reber_int8_state *s);   /* before the first step */
void reber_int8_reset(reber_int8_state *s);  /* start a new stream (a new window, a new sequence) */
void reber_int8_step(reber_int8_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
