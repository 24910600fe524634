/* A QEMU TCG plugin that counts the guest instructions executed, printing at exit
 *
 *   insns: N        every instruction of the run
 *   window: M       those from the translation block at `begin` to the one at `end` (only when
 *                   both arguments are given and both addresses were executed)
 *
 * through qemu_plugin_outs, which writes to QEMU's log: run with `-d plugin -D FILE`.
 * Arguments: -plugin insn_count.so,begin=0xADDR,end=0xADDR (QEMU 7.2's key=value form).
 *
 * The count is an inline add of the block's instruction count at the start of every block (no
 * callback per block), so a block left early by an exception counts whole: exact for code that
 * does not fault. One vCPU (the MPS2 boards have one).
 *
 * Debian's QEMU 7.2 ships no qemu-plugin.h, so the few declarations this needs are here, as
 * QEMU 7.2 declares them: plugin API version 1 (QEMU_PLUGIN_VERSION; QEMU refuses a plugin whose
 * qemu_plugin_version is outside its [min, cur]). Build:
 *   gcc -shared -fPIC -O2 -o insn_count.so insn_count.c
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the plugin API (QEMU include/qemu/qemu-plugin.h, version 1) ------------------------- */

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;

typedef struct qemu_info_t {
  const char *target_name;
  struct {
    int min;
    int cur;
  } version;
  bool system_emulation;
  union {
    struct {
      int smp_vcpus;
      int max_vcpus;
    } system;
  };
} qemu_info_t;

struct qemu_plugin_tb;

enum qemu_plugin_cb_flags {
  QEMU_PLUGIN_CB_NO_REGS,
  QEMU_PLUGIN_CB_R_REGS,
  QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_op {
  QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
                                    void *userdata);
void qemu_plugin_outs(const char *string);

QEMU_PLUGIN_EXPORT extern int qemu_plugin_version;
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv);

/* ---- the counter --------------------------------------------------------------------------- */

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

static uint64_t insns;
static uint64_t begin_addr, end_addr;
static bool have_begin, have_end;
static uint64_t at_begin, at_end;
static bool seen_begin, seen_end;

static void on_begin(unsigned int vcpu_index, void *userdata) {
  (void)vcpu_index;
  (void)userdata;
  if (!seen_begin) {
    at_begin = insns;
    seen_begin = true;
  }
}

static void on_end(unsigned int vcpu_index, void *userdata) {
  (void)vcpu_index;
  (void)userdata;
  if (seen_begin && !seen_end) {
    at_end = insns;
    seen_end = true;
  }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  const uint64_t pc = qemu_plugin_tb_vaddr(tb);
  (void)id;
  if (have_begin && pc == begin_addr)
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
  if (have_end && pc == end_addr)
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns,
                                           qemu_plugin_tb_n_insns(tb));
}

static void on_atexit(qemu_plugin_id_t id, void *userdata) {
  char line[96];
  (void)id;
  (void)userdata;
  snprintf(line, sizeof line, "insns: %" PRIu64 "\n", insns);
  qemu_plugin_outs(line);
  if (seen_begin && seen_end) {
    snprintf(line, sizeof line, "window: %" PRIu64 "\n", at_end - at_begin);
    qemu_plugin_outs(line);
  }
}

/* "key=0x1234" with the given key: its value in *out. */
static bool parse_address(const char *arg, const char *key, uint64_t *out) {
  const size_t n = strlen(key);
  char *rest;
  if (strncmp(arg, key, n) != 0 || arg[n] != '=') return false;
  *out = strtoull(arg + n + 1, &rest, 0) & ~(uint64_t)1; /* a Thumb symbol's bit 0 */
  return *rest == '\0';
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv) {
  int i;
  (void)info;
  for (i = 0; i < argc; ++i) {
    if (parse_address(argv[i], "begin", &begin_addr)) {
      have_begin = true;
    } else if (parse_address(argv[i], "end", &end_addr)) {
      have_end = true;
    } else {
      fprintf(stderr, "insn_count: unknown argument %s\n", argv[i]);
      return 1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
  return 0;
}
