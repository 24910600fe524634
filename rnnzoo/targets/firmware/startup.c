/* Start-up code of the chip harness: vector table, reset, fault reports (Cortex-M, QEMU MPS2).
 *
 * Reset_Handler enables the FPU (when compiled for one) and the configurable faults, guards the
 * stack (Armv7-M: an MPU no-access region of 1 KB below it; Armv8-M: MSPLIM), copies .data from
 * flash, zeroes .bss, opens newlib's semihosting handles (librdimon), runs the static
 * constructors, then exit(main()). A fault prints one line through semihosting SYS_WRITE0,
 *
 *   rz-fault: UsageFault INVSTATE pc=0x00000000 lr=0x000001f3
 *
 * and stops QEMU with exit status RZ_EXIT_FAULT (semihosting SYS_EXIT_EXTENDED). The report runs
 * on a stack of its own and uses no newlib: the stack, the heap or stdio may be what broke.
 * C99, no CMSIS.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* QEMU's exit status after a fault (harness.c uses 2 to 8). */
#define RZ_EXIT_FAULT 9

/* From the linker script (mps2.ld). */
extern uint32_t __rz_data_load[], __rz_data_start[], __rz_data_end[];
extern uint32_t __rz_bss_start[], __rz_bss_end[];
extern char __rz_heap_start[], __rz_heap_end[];
extern uint32_t __rz_stack_guard[], __rz_stack_bottom[], __rz_stack_top[];

extern int main(void);
extern void initialise_monitor_handles(void); /* newlib librdimon: stdin/stdout/stderr */
extern void __libc_init_array(void);          /* newlib: .preinit_array/.init_array */

void Reset_Handler(void);
void Default_Handler(void);
void NMI_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void SecureFault_Handler(void);
void rz_fault_report(const uint32_t *frame, uint32_t kind);
void *_sbrk(ptrdiff_t incr);
void _init(void);
void _fini(void);

/* ---- system control block ---------------------------------------------------------------- */

#define RZ_REG(addr) (*(volatile uint32_t *)(addr))
#define RZ_SCB_CCR RZ_REG(0xE000ED14u)
#define RZ_SCB_SHCSR RZ_REG(0xE000ED24u)
#define RZ_SCB_CFSR RZ_REG(0xE000ED28u)
#define RZ_SCB_HFSR RZ_REG(0xE000ED2Cu)
#define RZ_SCB_MMFAR RZ_REG(0xE000ED34u)
#define RZ_SCB_BFAR RZ_REG(0xE000ED38u)
#define RZ_SCB_CPACR RZ_REG(0xE000ED88u)
#define RZ_MPU_TYPE RZ_REG(0xE000ED90u)
#define RZ_MPU_CTRL RZ_REG(0xE000ED94u)
#define RZ_MPU_RNR RZ_REG(0xE000ED98u)
#define RZ_MPU_RBAR RZ_REG(0xE000ED9Cu)
#define RZ_MPU_RASR RZ_REG(0xE000EDA0u)
#define RZ_SAU_SFSR RZ_REG(0xE000EDE4u)
#define RZ_SAU_SFAR RZ_REG(0xE000EDE8u)

/* ---- semihosting (no newlib) -------------------------------------------------------------- */

#define RZ_SYS_WRITE0 0x04
#define RZ_SYS_EXIT 0x18
#define RZ_SYS_EXIT_EXTENDED 0x20
#define RZ_ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t rz_semihost(uint32_t op, const void *arg) {
  register uint32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static void rz_semihost_exit(uint32_t status) {
  uint32_t block[2];
  block[0] = RZ_ADP_STOPPED_APPLICATION_EXIT;
  block[1] = status;
  rz_semihost(RZ_SYS_EXIT_EXTENDED, block);
  /* A host without SYS_EXIT_EXTENDED: any reason other than ApplicationExit is a failure. */
  rz_semihost(RZ_SYS_EXIT, (const void *)(uintptr_t)0x20023u); /* ADP_Stopped_RunTimeError */
  for (;;) {
  }
}

/* ---- vector table -------------------------------------------------------------------------- */

typedef void (*rz_handler)(void);

/* 16 system exceptions, then the external interrupts (the harness enables none). */
#define RZ_N_IRQS 32

#define RZ_IRQS_8                                                                        \
  Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, \
      Default_Handler, Default_Handler, Default_Handler

typedef struct {
  uint32_t *initial_sp;
  rz_handler handlers[15 + RZ_N_IRQS];
} rz_vector_table;

__attribute__((section(".isr_vector"), used)) const rz_vector_table rz_vectors = {
    __rz_stack_top,
    {
        Reset_Handler,       /* 1 */
        NMI_Handler,         /* 2 */
        HardFault_Handler,   /* 3 */
        MemManage_Handler,   /* 4 */
        BusFault_Handler,    /* 5 */
        UsageFault_Handler,  /* 6 */
        SecureFault_Handler, /* 7 (Armv8-M; reserved on v7-M) */
        Default_Handler,     /* 8 */
        Default_Handler,     /* 9 */
        Default_Handler,     /* 10 */
        Default_Handler,     /* 11 SVCall */
        Default_Handler,     /* 12 DebugMonitor */
        Default_Handler,     /* 13 */
        Default_Handler,     /* 14 PendSV */
        Default_Handler,     /* 15 SysTick */
        RZ_IRQS_8, RZ_IRQS_8, RZ_IRQS_8, RZ_IRQS_8, /* external interrupts 0-31 */
    },
};

/* ---- reset -------------------------------------------------------------------------------- */

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
/* Armv7-M MPU: region 0 = the 1 KB guard below the stack, no access, never executable; the
 * default memory map for everything else (PRIVDEFENA: the harness runs privileged). */
static void rz_guard_stack(void) {
  if (((RZ_MPU_TYPE >> 8) & 0xFFu) == 0u) return; /* no MPU */
  RZ_MPU_RNR = 0u;
  RZ_MPU_RBAR = (uint32_t)(uintptr_t)__rz_stack_guard; /* 1 KB aligned (mps2.ld) */
  RZ_MPU_RASR = (1u << 28) /* XN */ | (0u << 24) /* AP: no access */ | (9u << 1) /* 2^10 */ | 1u;
  RZ_MPU_CTRL = (1u << 2) /* PRIVDEFENA */ | 1u /* ENABLE */;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
}
#endif

void Reset_Handler(void) {
#if defined(__ARM_FP)
  RZ_SCB_CPACR |= 0xFu << 20; /* CP10 and CP11: full access */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_8M_MAIN__)
  /* Stack limit: a stack that grows into the heap is a UsageFault (STKOF), not a silent overrun. */
  __asm__ volatile("msr msplim, %0" ::"r"(__rz_stack_bottom));
#elif defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
  rz_guard_stack();
#endif
  /* MemManage, BusFault and UsageFault reported as themselves (and SecureFault on Armv8-M),
   * not escalated to HardFault. */
  RZ_SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18)
#if defined(__ARM_ARCH_8M_MAIN__)
                  | (1u << 19)
#endif
      ;
  __asm__ volatile("dsb\n\tisb" ::: "memory");

  {
    const uint32_t *src = __rz_data_load;
    uint32_t *dst = __rz_data_start;
    while (dst < __rz_data_end) *dst++ = *src++;
  }
  {
    uint32_t *dst = __rz_bss_start;
    while (dst < __rz_bss_end) *dst++ = 0u;
  }

  initialise_monitor_handles();
  __libc_init_array();
  exit(main());
}

/* newlib's __libc_init_array calls _init (crti.o's, not linked: -nostartfiles). */
__attribute__((weak)) void _init(void) {}
__attribute__((weak)) void _fini(void) {}

/* C++ static objects register their destructors against this (crtbegin.o's, not linked). */
__attribute__((weak)) void *__dso_handle = 0;

/* The heap: [__rz_heap_start, __rz_heap_end), below the stack; not librdimon's _sbrk, which
 * grows up to the stack pointer and would let malloc write into the painted stack. */
void *_sbrk(ptrdiff_t incr) {
  static char *brk = __rz_heap_start;
  char *previous = brk;
  if (incr > __rz_heap_end - brk || incr < __rz_heap_start - brk) {
    errno = ENOMEM;
    return (void *)-1;
  }
  brk += incr;
  return previous;
}

/* ---- faults ------------------------------------------------------------------------------- */

enum { RZ_NMI, RZ_HARDFAULT, RZ_MEMMANAGE, RZ_BUSFAULT, RZ_USAGEFAULT, RZ_SECUREFAULT, RZ_OTHER };

static const char *const rz_fault_names[] = {
    "NMI", "HardFault", "MemManage", "BusFault", "UsageFault", "SecureFault", "exception",
};

/* CFSR bits by name (MemManage 0-7, BusFault 8-15, UsageFault 16-31). */
static const struct {
  uint32_t bit;
  const char *name;
} rz_cfsr_bits[] = {
    {0, "IACCVIOL"},   {1, "DACCVIOL"},   {3, "MUNSTKERR"},  {4, "MSTKERR"},
    {5, "MLSPERR"},    {8, "IBUSERR"},    {9, "PRECISERR"},  {10, "IMPRECISERR"},
    {11, "UNSTKERR"},  {12, "STKERR"},    {13, "LSPERR"},    {16, "UNDEFINSTR"},
    {17, "INVSTATE"},  {18, "INVPC"},     {19, "NOCP"},      {20, "STKOF"},
    {24, "UNALIGNED"}, {25, "DIVBYZERO"},
};

typedef struct {
  char text[200];
  unsigned n;
} rz_line;

static void rz_put(rz_line *line, const char *s) {
  while (*s != '\0' && line->n + 1u < sizeof line->text) line->text[line->n++] = *s++;
  line->text[line->n] = '\0';
}

static void rz_put_hex(rz_line *line, uint32_t value) {
  static const char digits[] = "0123456789abcdef";
  char buf[11];
  int i;
  buf[0] = '0';
  buf[1] = 'x';
  for (i = 0; i < 8; ++i) buf[2 + i] = digits[(value >> (28 - 4 * i)) & 0xFu];
  buf[10] = '\0';
  rz_put(line, buf);
}

static void rz_put_field(rz_line *line, const char *name, uint32_t value) {
  rz_put(line, " ");
  rz_put(line, name);
  rz_put(line, "=");
  rz_put_hex(line, value);
}

/* The stack the report runs on: in .rz_io (PSRAM), so it is no part of the RAM figure. */
__attribute__((section(".rz_io"), aligned(8), used)) uint32_t rz_fault_stack[256];

/* Called by the fault entries below with the exception frame (r0-r3, r12, lr, pc, xpsr), on
 * rz_fault_stack. A frame outside the stack (an overflow) is not read. */
void rz_fault_report(const uint32_t *frame, uint32_t kind) {
  rz_line line;
  const uint32_t cfsr = RZ_SCB_CFSR;
  const uint32_t hfsr = RZ_SCB_HFSR;
  unsigned i;
  line.n = 0;
  line.text[0] = '\0';
  if (kind > RZ_OTHER) kind = RZ_OTHER;
  rz_put(&line, "rz-fault: ");
  rz_put(&line, rz_fault_names[kind]);
  if (kind == RZ_OTHER) {
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    rz_put_field(&line, "number", ipsr & 0x1FFu);
  }
  if (kind == RZ_HARDFAULT && (hfsr & (1u << 1)) != 0u) rz_put(&line, " VECTTBL");
  if (kind == RZ_HARDFAULT && (hfsr & (1u << 30)) != 0u) rz_put(&line, " FORCED");
  for (i = 0; i < sizeof rz_cfsr_bits / sizeof rz_cfsr_bits[0]; ++i) {
    if ((cfsr & (1u << rz_cfsr_bits[i].bit)) != 0u) {
      rz_put(&line, " ");
      rz_put(&line, rz_cfsr_bits[i].name);
    }
  }
  if (frame >= __rz_stack_bottom && frame + 8 <= __rz_stack_top) {
    rz_put_field(&line, "pc", frame[6]);
    rz_put_field(&line, "lr", frame[5]);
  } else {
    rz_put_field(&line, "sp", (uint32_t)(uintptr_t)frame);
  }
  if ((cfsr & (1u << 7)) != 0u) rz_put_field(&line, "address", RZ_SCB_MMFAR);
  if ((cfsr & (1u << 15)) != 0u) rz_put_field(&line, "address", RZ_SCB_BFAR);
#if defined(__ARM_ARCH_8M_MAIN__)
  if (kind == RZ_SECUREFAULT) {
    rz_put_field(&line, "sfsr", RZ_SAU_SFSR);
    rz_put_field(&line, "sfar", RZ_SAU_SFAR);
  }
#endif
  rz_put(&line, "\n");
  rz_semihost(RZ_SYS_WRITE0, line.text);
  rz_semihost_exit(RZ_EXIT_FAULT);
}

/* Each entry passes the stacked frame (MSP or PSP, by EXC_RETURN bit 2) and its kind, and moves
 * to rz_fault_stack (on Armv8-M dropping MSPLIM first: that stack lies below the limit). */
#if defined(__ARM_ARCH_8M_MAIN__)
#define RZ_DROP_STACK_LIMIT "movs r2, #0\n\tmsr msplim, r2\n\t"
#else
#define RZ_DROP_STACK_LIMIT ""
#endif

#define RZ_FAULT_ENTRY(handler, kind)                                         \
  __attribute__((naked)) void handler(void) {                                 \
    __asm__ volatile("tst lr, #4\n\t"                                          \
                     "ite eq\n\t"                                              \
                     "mrseq r0, msp\n\t"                                       \
                     "mrsne r0, psp\n\t"                                       \
                     "movs r1, #" #kind "\n\t" RZ_DROP_STACK_LIMIT             \
                     "movw r2, #:lower16:rz_fault_stack + 1024\n\t"            \
                     "movt r2, #:upper16:rz_fault_stack + 1024\n\t"            \
                     "mov sp, r2\n\t"                                          \
                     "b rz_fault_report\n\t");                                 \
  }

RZ_FAULT_ENTRY(NMI_Handler, 0)
RZ_FAULT_ENTRY(HardFault_Handler, 1)
RZ_FAULT_ENTRY(MemManage_Handler, 2)
RZ_FAULT_ENTRY(BusFault_Handler, 3)
RZ_FAULT_ENTRY(UsageFault_Handler, 4)
RZ_FAULT_ENTRY(SecureFault_Handler, 5)
RZ_FAULT_ENTRY(Default_Handler, 6)
