/* The interface between the chip harness (harness.c) and a model adapter.
 *
 * An adapter (the generated C model, or TFLM's tflm_adapter.cc) implements the four functions
 * below; the harness streams the test rows through them and reports outputs, stack and arena.
 *
 * The build defines (compiler -D, rnnzoo.targets.chip.build sets them):
 *   RZ_IN_FLOATS        floats in one step's input
 *   RZ_OUT_FLOATS       floats one step writes: the prediction, then the new states, flattened
 *   RZ_MAX_STEPS_TOTAL  steps over all rows of one run (sizes the harness's I/O buffers)
 *   RZ_MAX_ROWS         rows of one run (optional, sizes the input buffer's row headers)
 */
#ifndef RZ_MODEL_H
#define RZ_MODEL_H

#ifdef __cplusplus
extern "C" {
#endif

/* Once, before streaming: set the model up. 0 = ready, nonzero = failed (the harness reports
 * the status and stops). */
int rz_init(void);

/* Start a new stream: every state back to its start value. */
void rz_reset(void);

/* One step: `in` holds RZ_IN_FLOATS floats; writes RZ_OUT_FLOATS floats to `out` (prediction,
 * then the new states) and keeps the new states for the next step. 0 = done, nonzero = failed. */
int rz_step(const float *in, float *out);

/* Bytes of interpreter arena in use after rz_init, 0 when the adapter has no arena. */
unsigned rz_arena_used(void);

#ifdef __cplusplus
}
#endif

#endif /* RZ_MODEL_H */
