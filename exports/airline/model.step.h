/* airline: one streaming step as plain C99; written by rnnzoo.
 * Usage: airline_state s; airline_init(&s); then for each sample
 *   airline_step(&s, input, output);   and airline_reset(&s) to start a new stream. */
#ifndef AIRLINE_STEP_H
#define AIRLINE_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define AIRLINE_INPUT_SIZE 1   /* floats in one step's input */
#define AIRLINE_OUTPUT_SIZE 24  /* floats in one step's prediction */
#define AIRLINE_STATE_FLOATS 66  /* floats the state struct holds */
#define AIRLINE_WORK_FLOATS 479  /* floats of work space airline_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[64];
  float encoder_0[1];
  float encoder_1[1];
} airline_state;

void airline_init(airline_state *s);   /* before the first step */
void airline_reset(airline_state *s);  /* start a new stream (a new window, a new sequence) */
void airline_step(airline_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
