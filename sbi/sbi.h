/* The Supervisor Binary Interface: the kernel's only way into M-mode.
 *
 * Every extension is probed (BASE probe_extension) before use; sbi_init()
 * records what the firmware offers in `sbi_features` and each call falls back
 * or fails with a typed error when its extension is missing. The legacy (v0.1)
 * console is used only when DBCN is absent, as on OpenSBI 1.1. */
#ifndef NEWSYS_SBI_H
#define NEWSYS_SBI_H

#include <stdbool.h>
#include <stdint.h>

enum sbi_ext_id {
    SBI_EXT_LEGACY_SET_TIMER = 0x00,
    SBI_EXT_LEGACY_PUTCHAR = 0x01,
    SBI_EXT_LEGACY_GETCHAR = 0x02,
    SBI_EXT_LEGACY_SHUTDOWN = 0x08,
    SBI_EXT_BASE = 0x10,
    SBI_EXT_TIME = 0x54494d45,
    SBI_EXT_IPI = 0x735049,
    SBI_EXT_RFENCE = 0x52464e43,
    SBI_EXT_HSM = 0x48534d,
    SBI_EXT_SRST = 0x53525354,
    SBI_EXT_DBCN = 0x4442434e,
};

/* Error codes from the SBI specification, kept as negative values. */
enum sbi_error {
    SBI_OK = 0,
    SBI_ERR_FAILED = -1,
    SBI_ERR_NOT_SUPPORTED = -2,
    SBI_ERR_INVALID_PARAM = -3,
    SBI_ERR_DENIED = -4,
    SBI_ERR_INVALID_ADDRESS = -5,
    SBI_ERR_ALREADY_AVAILABLE = -6,
    SBI_ERR_ALREADY_STARTED = -7,
    SBI_ERR_ALREADY_STOPPED = -8,
};

struct sbi_features {
    unsigned long spec_version; /* major << 24 | minor */
    unsigned long impl_id, impl_version;
    bool base; /* false: a pre-0.2 firmware, legacy calls only */
    bool time, ipi, rfence, hsm, srst, dbcn;
    bool legacy_console, legacy_timer, legacy_shutdown;
};

extern struct sbi_features sbi_features;

enum sbi_hart_state {
    SBI_HART_STARTED = 0,
    SBI_HART_STOPPED = 1,
    SBI_HART_START_PENDING = 2,
    SBI_HART_STOP_PENDING = 3,
    SBI_HART_SUSPENDED = 4,
};

enum sbi_reset_type { SBI_RESET_SHUTDOWN = 0, SBI_RESET_COLD = 1, SBI_RESET_WARM = 2 };
enum sbi_reset_reason { SBI_REASON_NONE = 0, SBI_REASON_FAILURE = 1 };

void sbi_init(void);
const char *sbi_impl_name(unsigned long impl_id);
const char *sbi_strerror(long err);

/* Console: DBCN when present, else the legacy putchar. */
void sbi_console_putc(char c);
void sbi_console_write(const char *s, unsigned long len);

/* Timer: program the next timer interrupt at absolute time `stime`. */
long sbi_set_timer(uint64_t stime);

/* IPI and remote fences: harts are named by a mask relative to `base`. */
long sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base);
long sbi_remote_fence_i(unsigned long hart_mask, unsigned long hart_mask_base);
long sbi_remote_sfence_vma(unsigned long hart_mask, unsigned long hart_mask_base,
                           unsigned long start, unsigned long size);
long sbi_remote_sfence_vma_asid(unsigned long hart_mask, unsigned long hart_mask_base,
                                unsigned long start, unsigned long size, unsigned long asid);

/* Hart state management. */
long sbi_hart_start(unsigned long hartid, unsigned long start_pa, unsigned long opaque);
long sbi_hart_stop(void);
long sbi_hart_status(unsigned long hartid, enum sbi_hart_state *state);

/* System reset; returns only if the firmware refused. */
long sbi_system_reset(enum sbi_reset_type type, enum sbi_reset_reason reason);

#endif
