/* Sv39 page tables: three levels of 512 entries; a leaf may sit at any
 * level (1 GiB, 2 MiB or 4 KiB page). See sv39.h for the contract. */
#include "kernel/arch/riscv/sv39.h"

#include <stddef.h>

const char *sv39_strerror(enum sv39_err err)
{
    static const char *const names[SV39_ERR_COUNT] = {
        [SV39_OK] = "ok",
        [SV39_ERR_NO_MEMORY] = "out of memory for page tables",
        [SV39_ERR_MISALIGNED] = "address or size not page aligned",
        [SV39_ERR_RANGE] = "address not canonical or range wraps",
        [SV39_ERR_EXISTS] = "range already mapped",
        [SV39_ERR_BAD_FLAGS] = "bad permission flags",
    };
    return (unsigned)err < SV39_ERR_COUNT ? names[err] : "unknown sv39 error";
}

bool sv39_va_canonical(uint64_t va)
{
    /* Bits 63..39 must all equal bit 38. */
    uint64_t top = va >> 38;
    return top == 0 || top == (1ull << 26) - 1;
}

static pte_t *table(const struct sv39_ops *ops, uint64_t pa)
{
    return (pte_t *)ops->phys_to_virt(pa, ops->ctx);
}

enum sv39_err sv39_map(const struct sv39_ops *ops, uint64_t root_pa, uint64_t va, uint64_t pa,
                       uint64_t size, uint64_t flags, bool large)
{
    if ((va | pa | size) & (LEVEL_SIZE(0) - 1))
        return SV39_ERR_MISALIGNED;
    if (size == 0)
        return SV39_OK;
    if (!sv39_va_canonical(va) || !sv39_va_canonical(va + size - 1) || va + size < va ||
        (va >> 38) != ((va + size - 1) >> 38))
        return SV39_ERR_RANGE;
    if (!(flags & (PTE_R | PTE_W | PTE_X)) || ((flags & PTE_W) && !(flags & PTE_R)))
        return SV39_ERR_BAD_FLAGS;

    while (size) {
        int level = 0;
        if (large) {
            for (level = 2; level > 0; level--) {
                uint64_t sz = LEVEL_SIZE(level);
                if (!((va | pa) & (sz - 1)) && size >= sz)
                    break;
            }
        }
        pte_t *t = table(ops, root_pa);
        for (int l = 2; l > level; l--) {
            pte_t *e = &t[PTE_INDEX(va, l)];
            if (!(*e & PTE_V)) {
                uint64_t npa;
                if (!ops->alloc_table(&npa, ops->ctx))
                    return SV39_ERR_NO_MEMORY;
                *e = pte_make(npa, PTE_V);
            } else if (pte_is_leaf(*e)) {
                return SV39_ERR_EXISTS;
            }
            t = table(ops, pte_pa(*e));
        }
        pte_t *e = &t[PTE_INDEX(va, level)];
        if (*e & PTE_V)
            return SV39_ERR_EXISTS;
        *e = pte_make(pa, flags | PTE_V);
        va += LEVEL_SIZE(level);
        pa += LEVEL_SIZE(level);
        size -= LEVEL_SIZE(level);
    }
    return SV39_OK;
}

bool sv39_lookup(const struct sv39_ops *ops, uint64_t root_pa, uint64_t va, uint64_t *pa,
                 uint64_t *flags, int *level)
{
    if (!sv39_va_canonical(va))
        return false;
    pte_t *t = table(ops, root_pa);
    for (int l = 2; l >= 0; l--) {
        pte_t e = t[PTE_INDEX(va, l)];
        if (!(e & PTE_V))
            return false;
        if (pte_is_leaf(e)) {
            uint64_t off = va & (LEVEL_SIZE(l) - 1);
            *pa = pte_pa(e) + off;
            *flags = e & 0x3ff;
            *level = l;
            return true;
        }
        if (l == 0)
            return false; /* a non-leaf at level 0 is malformed */
        t = table(ops, pte_pa(e));
    }
    return false;
}

bool sv39_unmap_page(const struct sv39_ops *ops, uint64_t root_pa, uint64_t va, pte_t *old)
{
    if (!sv39_va_canonical(va) || (va & (LEVEL_SIZE(0) - 1)))
        return false;
    pte_t *t = table(ops, root_pa);
    for (int l = 2; l > 0; l--) {
        pte_t e = t[PTE_INDEX(va, l)];
        if (!(e & PTE_V) || pte_is_leaf(e))
            return false;
        t = table(ops, pte_pa(e));
    }
    pte_t *e = &t[PTE_INDEX(va, 0)];
    if (!(*e & PTE_V))
        return false;
    if (old)
        *old = *e;
    *e = 0;
    return true;
}

void sv39_free_tables(const struct sv39_ops *ops, uint64_t root_pa, unsigned first, unsigned last,
                      void (*free_table)(uint64_t pa, void *ctx))
{
    pte_t *root = table(ops, root_pa);
    for (unsigned i = first; i <= last && i < 512; i++) {
        pte_t e = root[i];
        if (!(e & PTE_V) || pte_is_leaf(e))
            continue;
        pte_t *l1 = table(ops, pte_pa(e));
        for (unsigned j = 0; j < 512; j++)
            if ((l1[j] & PTE_V) && !pte_is_leaf(l1[j]))
                free_table(pte_pa(l1[j]), ops->ctx);
        free_table(pte_pa(e), ops->ctx);
        root[i] = 0;
    }
}
