/* airline_int8: one streaming step as plain C99; written by rnnzoo.
 * Usage: airline_int8_state s; airline_int8_init(&s); then for each sample
 *   airline_int8_step(&s, input, output);   and airline_int8_reset(&s) to start a new stream. */
#ifndef AIRLINE_INT8_STEP_H
#define AIRLINE_INT8_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define AIRLINE_INT8_INPUT_SIZE 1   /* floats in one step's input */
#define AIRLINE_INT8_OUTPUT_SIZE 24  /* floats in one step's prediction */
#define AIRLINE_INT8_STATE_FLOATS 66  /* floats the state struct holds */
#define AIRLINE_INT8_WORK_FLOATS 479  /* floats of work space airline_int8_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[64];
  float encoder_0[1];
  float encoder_1[1];
} airline_int8_state;

void airline_int8_init(airline_int8_state *s);   /* before the first step */
void airline_int8_reset(airline_int8_state *s);  /* start a new stream (a new window, a new sequence) */
void airline_int8_step(airline_int8_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
