/* video_int8: one streaming step as plain C99; written by rnnzoo.
 * Usage: video_int8_state s; video_int8_init(&s); then for each sample
 *   video_int8_step(&s, input, output);   and video_int8_reset(&s) to start a new stream. */
#ifndef VIDEO_INT8_STEP_H
#define VIDEO_INT8_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define VIDEO_INT8_INPUT_SIZE 1024   /* floats in one step's input */
#define VIDEO_INT8_OUTPUT_SIZE 4  /* floats in one step's prediction */
#define VIDEO_INT8_STATE_FLOATS 64  /* floats the state struct holds */
#define VIDEO_INT8_WORK_FLOATS 5120  /* floats of work space video_int8_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[64];
} video_int8_state;

void video_int8_init(video_int8_state *s);   /* before the first step */
void video_int8_reset(video_int8_state *s);  /* start a new stream (a new window, a new sequence) */
void video_int8_step(video_int8_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
