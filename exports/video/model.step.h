/* video: one streaming step as plain C99; written by rnnzoo.
 * Usage: video_state s; video_init(&s); then for each sample
 *   video_step(&s, input, output);   and video_reset(&s) to start a new stream. */
#ifndef VIDEO_STEP_H
#define VIDEO_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#define VIDEO_INPUT_SIZE 1024   /* floats in one step's input */
#define VIDEO_OUTPUT_SIZE 4  /* floats in one step's prediction */
#define VIDEO_STATE_FLOATS 64  /* floats the state struct holds */
#define VIDEO_WORK_FLOATS 5120  /* floats of work space video_step takes on the stack */

/* The state the caller owns, one per stream (a model has no global mutable state). */
typedef struct {
  float state_0[64];
} video_state;

void video_init(video_state *s);   /* before the first step */
void video_reset(video_state *s);  /* start a new stream (a new window, a new sequence) */
void video_step(video_state *s, const float *input, float *output);

#ifdef __cplusplus
}
#endif
#endif
