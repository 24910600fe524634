/* The chip harness: streams test rows from in.bin through a model adapter (rz_model.h) and
 * writes the outputs, the stack the streaming used and the interpreter arena to out.bin.
 *
 * Files (semihosting, relative to QEMU's working directory), little-endian:
 *   in.bin   uint32 n_rows, uint32 in_floats, uint32 out_floats,
 *            then per row: uint32 steps, steps * in_floats float32
 *   out.bin  every row's outputs (steps * out_floats float32, rows in order), then the trailer
 *            uint32 stack_bytes, uint32 arena_used, uint32 RZ_MAGIC
 *
 * Each file is read or written with one fread/fwrite into a buffer in section .rz_io (PSRAM, see
 * mps2.ld), so neither the buffers nor stdio's own buffering count towards the model's RAM.
 *
 * Stack: just before streaming the stack below the current SP (less a margin) is painted; after
 * it the deepest word no longer holding the paint gives the bytes the streaming used below that
 * SP (rz_init's stack is not in it; the resolution is the 64-byte margin: a streaming that uses
 * less reads as 64). rz_window_begin/rz_window_end bracket the streaming, so an
 * instruction counter can count it alone.
 *
 * Exit status (QEMU's, through semihosting): 0 done; 2 in.bin does not match the build (floats
 * per step); 3 in.bin or out.bin could not be read or written, or is too large for the build;
 * 4 rz_init or rz_step failed; 5 the stack overflowed; 9 a fault (startup.c). Every failure
 * first prints one line "rz-error: ..." on stderr.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rz_model.h"

#ifndef RZ_IN_FLOATS
#error "RZ_IN_FLOATS (floats in one step's input) must be defined"
#endif
#ifndef RZ_OUT_FLOATS
#error "RZ_OUT_FLOATS (floats one step writes: prediction + new states) must be defined"
#endif
#ifndef RZ_MAX_STEPS_TOTAL
#error "RZ_MAX_STEPS_TOTAL (steps over all rows of one run) must be defined"
#endif
#ifndef RZ_MAX_ROWS
#define RZ_MAX_ROWS 1024
#endif
#if (RZ_IN_FLOATS) < 1 || (RZ_OUT_FLOATS) < 1 || (RZ_MAX_STEPS_TOTAL) < 1
#error "RZ_IN_FLOATS, RZ_OUT_FLOATS and RZ_MAX_STEPS_TOTAL must be at least 1"
#endif

#define RZ_MAGIC 0x4B4F5A52u
#define RZ_PAINT 0xC5A5C5A5u
#define RZ_PAINT_MARGIN_WORDS 16u /* below the SP at paint time: the painter's own frame */

enum {
  RZ_EXIT_MISMATCH = 2,
  RZ_EXIT_IO = 3,
  RZ_EXIT_MODEL = 4,
  RZ_EXIT_STACK = 5,
};

#define RZ_IN_WORDS (3u + (uint32_t)(RZ_MAX_ROWS) + (uint32_t)(RZ_IN_FLOATS) * (RZ_MAX_STEPS_TOTAL))
#define RZ_OUT_WORDS ((uint32_t)(RZ_OUT_FLOATS) * (RZ_MAX_STEPS_TOTAL) + 3u)

/* uint32 headers and float32 data share one buffer: a union reads either (C99 6.5.2.3). */
typedef union {
  uint32_t u[RZ_IN_WORDS];
  float f[RZ_IN_WORDS];
} rz_in_buffer;

typedef union {
  uint32_t u[RZ_OUT_WORDS];
  float f[RZ_OUT_WORDS];
} rz_out_buffer;

__attribute__((section(".rz_io"), aligned(8))) static rz_in_buffer rz_in;
__attribute__((section(".rz_io"), aligned(8))) static rz_out_buffer rz_out;

extern uint32_t __rz_stack_bottom[]; /* mps2.ld */

int main(void);
void rz_window_begin(void);
void rz_window_end(void);

/* ---- failures ------------------------------------------------------------------------------ */

__attribute__((noreturn, format(printf, 2, 3))) static void rz_fail(int status, const char *fmt,
                                                                     ...) {
  va_list args;
  fputs("rz-error: ", stderr);
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputs("\n", stderr);
  fflush(stderr);
  exit(status);
}

/* ---- in.bin -------------------------------------------------------------------------------- */

/* The whole of in.bin in rz_in (one fread); returns its length in words. */
static uint32_t rz_read_input(void) {
  FILE *file = fopen("in.bin", "rb");
  size_t n;
  if (file == NULL) rz_fail(RZ_EXIT_IO, "cannot open in.bin");
  setvbuf(file, NULL, _IONBF, 0);
  n = fread(rz_in.u, 1, sizeof rz_in.u, file);
  if (n == sizeof rz_in.u && fgetc(file) != EOF)
    rz_fail(RZ_EXIT_IO, "in.bin is larger than this build's input buffer (%u bytes)",
            (unsigned)sizeof rz_in.u);
  fclose(file);
  if (n % 4u != 0u || n < 12u) rz_fail(RZ_EXIT_IO, "in.bin is %u bytes: too short", (unsigned)n);
  return (uint32_t)(n / 4u);
}

/* Checks the header and every row against the build and the file's length; returns the total
 * number of steps. */
static uint32_t rz_check_input(uint32_t words) {
  const uint32_t n_rows = rz_in.u[0];
  uint32_t at = 3u;
  uint32_t total = 0u;
  uint32_t row;
  if (rz_in.u[1] != (uint32_t)RZ_IN_FLOATS || rz_in.u[2] != (uint32_t)RZ_OUT_FLOATS)
    rz_fail(RZ_EXIT_MISMATCH,
            "in.bin has %lu input and %lu output floats per step, the firmware was built for "
            "%lu and %lu",
            (unsigned long)rz_in.u[1], (unsigned long)rz_in.u[2], (unsigned long)RZ_IN_FLOATS,
            (unsigned long)RZ_OUT_FLOATS);
  if (n_rows > (uint32_t)RZ_MAX_ROWS)
    rz_fail(RZ_EXIT_IO, "in.bin has %lu rows, the firmware was built for at most %lu",
            (unsigned long)n_rows, (unsigned long)RZ_MAX_ROWS);
  for (row = 0u; row < n_rows; ++row) {
    uint32_t steps;
    if (at >= words) rz_fail(RZ_EXIT_IO, "in.bin ends before row %lu", (unsigned long)row);
    steps = rz_in.u[at++];
    if (steps > (uint32_t)RZ_MAX_STEPS_TOTAL - total)
      rz_fail(RZ_EXIT_IO, "in.bin has more than %lu steps, the firmware's limit",
              (unsigned long)RZ_MAX_STEPS_TOTAL);
    if (steps > (words - at) / (uint32_t)RZ_IN_FLOATS)
      rz_fail(RZ_EXIT_IO, "in.bin ends inside row %lu", (unsigned long)row);
    at += steps * (uint32_t)RZ_IN_FLOATS;
    total += steps;
  }
  if (at != words) rz_fail(RZ_EXIT_IO, "in.bin has bytes after its last row");
  return total;
}

/* ---- streaming ----------------------------------------------------------------------------- */

static volatile uint32_t rz_window_mark;

/* Empty markers the instruction counter looks for (by symbol); distinct bodies so that no
 * identical-code folding merges them. */
__attribute__((noinline, noipa, used)) void rz_window_begin(void) { rz_window_mark = 1u; }
__attribute__((noinline, noipa, used)) void rz_window_end(void) { rz_window_mark = 2u; }

typedef struct {
  int status; /* 0, or what rz_step returned */
  uint32_t row, step;
} rz_stream_result;

/* Every row through the model: rz_reset, then rz_step per step; outputs to rz_out. */
__attribute__((noinline)) static rz_stream_result rz_stream(void) {
  rz_stream_result result = {0, 0u, 0u};
  const uint32_t n_rows = rz_in.u[0];
  uint32_t at = 3u;
  float *out = rz_out.f;
  uint32_t row, step;
  for (row = 0u; row < n_rows; ++row) {
    const uint32_t steps = rz_in.u[at++];
    rz_reset();
    for (step = 0u; step < steps; ++step) {
      const int status = rz_step(&rz_in.f[at], out);
      if (status != 0) {
        result.status = status;
        result.row = row;
        result.step = step;
        return result;
      }
      at += (uint32_t)RZ_IN_FLOATS;
      out += RZ_OUT_FLOATS;
    }
  }
  return result;
}

/* ---- stack high-water mark ----------------------------------------------------------------- */

static inline uint32_t *rz_sp(void) {
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

__attribute__((noinline)) static void rz_paint(uint32_t *from, uint32_t *to) {
  while (from < to) *from++ = RZ_PAINT;
}

/* The lowest word in [from, to) that no longer holds the paint (to when none). */
__attribute__((noinline)) static uint32_t *rz_deepest(uint32_t *from, uint32_t *to) {
  while (from < to && *from == RZ_PAINT) ++from;
  return from;
}

/* ---- out.bin ------------------------------------------------------------------------------- */

static void rz_write_output(uint32_t total_steps, uint32_t stack_bytes, uint32_t arena) {
  const uint32_t n_floats = total_steps * (uint32_t)RZ_OUT_FLOATS;
  const size_t words = (size_t)n_floats + 3u;
  FILE *file;
  rz_out.u[n_floats] = stack_bytes;
  rz_out.u[n_floats + 1u] = arena;
  rz_out.u[n_floats + 2u] = RZ_MAGIC;
  file = fopen("out.bin", "wb");
  if (file == NULL) rz_fail(RZ_EXIT_IO, "cannot create out.bin");
  setvbuf(file, NULL, _IONBF, 0);
  if (fwrite(rz_out.u, 4, words, file) != words) rz_fail(RZ_EXIT_IO, "cannot write out.bin");
  if (fclose(file) != 0) rz_fail(RZ_EXIT_IO, "cannot write out.bin");
}

int main(void) {
  const uint32_t words = rz_read_input();
  const uint32_t total_steps = rz_check_input(words);
  uint32_t *paint_sp, *bottom, *deepest;
  rz_stream_result result;
  int status = rz_init();
  if (status != 0) rz_fail(RZ_EXIT_MODEL, "rz_init failed (status %d)", status);

  paint_sp = rz_sp();
  bottom = __rz_stack_bottom;
  rz_paint(bottom, paint_sp - RZ_PAINT_MARGIN_WORDS);
  rz_window_begin();
  result = rz_stream();
  rz_window_end();
  deepest = rz_deepest(bottom, paint_sp - RZ_PAINT_MARGIN_WORDS);

  if (result.status != 0)
    rz_fail(RZ_EXIT_MODEL, "rz_step failed (status %d) at row %lu, step %lu", result.status,
            (unsigned long)result.row, (unsigned long)result.step);
  if (deepest == bottom)
    rz_fail(RZ_EXIT_STACK, "the stack overflowed: the streaming used more than %lu bytes",
            (unsigned long)((char *)paint_sp - (char *)bottom));
  rz_write_output(total_steps, (uint32_t)((char *)paint_sp - (char *)deepest), rz_arena_used());
  return 0;
}
