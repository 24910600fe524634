/* sine_int8: one streaming step as plain C99; written by rnnzoo.
 * Usage: sine_int8_state s; sine_int8_init(&s); then for each sample
 *   sine_int8_step(&s, input, output);   and sine_int8_reset(&s) to start a new stream. */
#ifndef SINE_INT8_STEP_H
#define SINE_INT8_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define SINE_INT8_INPUT_SIZE 1   /* floats in one step's input */
#define SINE_INT8_OUTPUT_SIZE 1  /* floats in one step's prediction */
#define SINE_INT8_STATE_FLOATS 100  /* floats the state struct holds */
#define SINE_INT8_WORK_FLOATS 702  /* floats of work space sine_int8_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[100];
} sine_int8_state;

void sine_int8_init(sine_int8_state *s);   /* before the first step */
void sine_int8_reset(sine_int8_state *s);  /* start a new stream (a new window, a new sequence) */
void sine_int8_step(sine_int8_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
