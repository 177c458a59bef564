/* Sv39 page-table construction and lookup.
 *
 * Portable C over an abstract physical memory: the caller supplies how to
 * reach a table's bytes (phys_to_virt) and where new tables come from
 * (alloc_table). The kernel passes its direct map and frame allocator; host
 * tests pass a fake RAM. Nothing here flushes TLBs: that is the caller's job,
 * because only it knows which harts and ASIDs can hold stale entries. */
#ifndef NEWSYS_ARCH_RISCV_SV39_H
#define NEWSYS_ARCH_RISCV_SV39_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/arch/riscv/pte.h"

struct sv39_ops {
    void *(*phys_to_virt)(uint64_t pa, void *ctx);
    /* A zeroed 4 KiB page for a new table; false when out of memory. */
    bool (*alloc_table)(uint64_t *pa, void *ctx);
    void *ctx;
};

enum sv39_err {
    SV39_OK = 0,
    SV39_ERR_NO_MEMORY,
    SV39_ERR_MISALIGNED, /* va, pa or size not page aligned */
    SV39_ERR_RANGE,      /* va not canonical, or va + size wraps */
    SV39_ERR_EXISTS,     /* part of the range is already mapped */
    SV39_ERR_BAD_FLAGS,  /* no R/W/X, or W without R */
    SV39_ERR_COUNT
};

const char *sv39_strerror(enum sv39_err err);

/* Map [va, va + size) to [pa, pa + size) with `flags` (PTE_R/W/X/U/G/A/D;
 * V is added), using 1 GiB and 2 MiB pages where both addresses and the
 * remaining size allow it and `large` is set. Fails without side effects
 * visible to lookups only for argument errors; on SV39_ERR_NO_MEMORY or
 * SV39_ERR_EXISTS the part already mapped stays mapped. */
enum sv39_err sv39_map(const struct sv39_ops *ops, uint64_t root_pa, uint64_t va, uint64_t pa,
                       uint64_t size, uint64_t flags, bool large);

/* Translate `va`: true with the physical address, the leaf's flags and its
 * level (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB) if mapped. */
bool sv39_lookup(const struct sv39_ops *ops, uint64_t root_pa, uint64_t va, uint64_t *pa,
                 uint64_t *flags, int *level);

bool sv39_va_canonical(uint64_t va);

/* Remove the 4 KiB leaf mapping `va`; false if there was none (or it is
 * part of a large page, which this does not split). *old gets the PTE. */
bool sv39_unmap_page(const struct sv39_ops *ops, uint64_t root_pa, uint64_t va, pte_t *old);

/* Free every page-table page reachable from root entries [first, last]
 * (not the leaf pages they map, nor the root), clearing those entries. */
void sv39_free_tables(const struct sv39_ops *ops, uint64_t root_pa, unsigned first, unsigned last,
                      void (*free_table)(uint64_t pa, void *ctx));

#endif
