/* reber: one streaming step as plain C99; written by rnnzoo.
 * Usage: reber_state s; reber_init(&s); then for each sample
 *   reber_step(&s, input, output);   and reber_reset(&s) to start a new stream. */
#ifndef REBER_STEP_H
#define REBER_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define REBER_INPUT_SIZE 7   /* floats in one step's input */
#define REBER_OUTPUT_SIZE 2  /* floats in one step's prediction */
#define REBER_STATE_FLOATS 30  /* floats the state struct holds */
#define REBER_WORK_FLOATS 210  /* floats of work space reber_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[30];
} reber_state;

void reber_init(reber_state *s);   /* before the first step */
void reber_reset(reber_state *s);  /* start a new stream (a new window, a new sequence) */
void reber_step(reber_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
