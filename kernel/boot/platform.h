/* The board as the kernel sees it: what platform_parse() extracts from an
 * opened devicetree into fixed-size tables (no allocation). Strings that are
 * not copied (bootargs) point into the blob, which must stay mapped. */
#ifndef NEWSYS_KERNEL_BOOT_PLATFORM_H
#define NEWSYS_KERNEL_BOOT_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/lib/fdt.h"

#define PLATFORM_MAX_MEM      16
#define PLATFORM_MAX_RESERVED 32
#define PLATFORM_MAX_HARTS    16
#define PLATFORM_MAX_UARTS    4
#define PLATFORM_MAX_VIRTIO   16

struct phys_region {
    uint64_t base, size;
};

enum uart_kind {
    UART_NS16550A,
    UART_SIFIVE,
    UART_DW_APB /* "snps,dw-apb-uart": 16550-compatible */
};

struct platform_uart {
    uint64_t base, size;
    enum uart_kind kind;
    uint32_t reg_shift /* default 0 */, reg_io_width /* default 1 */, clock_hz /* 0 if absent */,
        irq /* 0 if none */;
    int node;
};

struct platform_hart {
    uint64_t hartid;
    bool enabled;
    bool sv39; /* mmu-type sv39/sv48/sv57: the hart can run Sv39 */
    char isa[64];
    uint32_t intc_phandle; /* its "riscv,cpu-intc" child, 0 if none */
    int node;
};

struct platform_plic {
    bool present;
    uint64_t base, size;
    uint32_t ndev;
    uint32_t phandle;
    int32_t s_context[PLATFORM_MAX_HARTS]; /* S-mode context of harts[i], -1 if none */
};

struct platform_virtio {
    uint64_t base, size;
    uint32_t irq;
};

struct platform_reserved {
    uint64_t base, size;
    bool no_map;
    char name[32]; /* node name, or "memreserve" for the header's block */
};

struct platform {
    char model[64];
    struct phys_region mem[PLATFORM_MAX_MEM];
    unsigned mem_count;
    /* memreserve block ("memreserve") + /reserved-memory children with reg */
    struct platform_reserved reserved[PLATFORM_MAX_RESERVED];
    unsigned reserved_count;
    uint64_t timebase_hz;
    struct platform_hart harts[PLATFORM_MAX_HARTS];
    unsigned hart_count;
    struct platform_plic plic;
    struct platform_uart uarts[PLATFORM_MAX_UARTS];
    unsigned uart_count;
    /* index chosen by /chosen stdout-path (or linux,stdout-path; ":115200n8"
     * suffix and aliases handled), -1 if none */
    int stdout_uart;
    struct platform_virtio virtio[PLATFORM_MAX_VIRTIO];
    unsigned virtio_count;
    const char *bootargs;              /* into the blob, NUL-terminated, "" if absent */
    uint64_t initrd_start, initrd_end; /* linux,initrd-start/end, 32- or 64-bit; 0,0 if absent */
    struct {
        bool present;
        uint64_t base, size;
    } test_finisher;  /* compatible "sifive,test0"/"sifive,test1": QEMU's exit device */
    unsigned dropped; /* entries ignored because a table was full */
};

enum platform_err {
    PLATFORM_OK = 0,
    PLATFORM_ERR_FDT,       /* a node we need is malformed: see *fdt_detail */
    PLATFORM_ERR_NO_MEMORY, /* no usable memory node */
    PLATFORM_ERR_NO_TIMEBASE,
    PLATFORM_ERR_BAD_INITRD, /* end < start, or only one of the two */
    PLATFORM_ERR_BAD_REGION, /* base+size overflows */
    PLATFORM_ERR_COUNT
};

/* Fills *out from an fdt that fdt_open() accepted. Disabled nodes are
 * skipped (harts are listed with enabled = false). A node we use whose
 * properties cannot be decoded fails the whole parse with PLATFORM_ERR_FDT
 * and the reason in *fdt_detail (may be NULL; FDT_OK on other results):
 * better no boot than a guessed console or memory map. */
enum platform_err platform_parse(const struct fdt *fdt, struct platform *out,
                                 enum fdt_err *fdt_detail);
const char *platform_strerror(enum platform_err err);

#endif
