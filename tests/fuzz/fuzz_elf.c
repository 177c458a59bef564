/* libFuzzer harness for kernel/lib/elf.c: any byte string must give a typed
 * answer without reading outside the input (ASan) or undefined behaviour
 * (UBSan), and an accepted image must really satisfy what elf.h promises the
 * loader. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/lib/elf.h"

static void check_promises(const struct elf_info *info, size_t len)
{
    if (info->nseg == 0 || info->nseg > ELF_MAX_SEGMENTS)
        abort();
    bool entry_ok = false;
    for (unsigned i = 0; i < info->nseg; i++) {
        const struct elf_segment *s = &info->seg[i];
        if (s->memsz == 0 || s->filesz > s->memsz)
            abort();
        if (s->filesz && (s->offset > len || s->filesz > len - s->offset))
            abort();
        if (s->vaddr < ELF_USER_MIN || s->vaddr + s->memsz > ELF_USER_TOP)
            abort();
        if ((s->flags & ELF_W) && (s->flags & ELF_X))
            abort();
        if (s->flags & ~(ELF_R | ELF_W | ELF_X))
            abort();
        if (s->vaddr < info->lowest || s->vaddr + s->memsz > info->highest)
            abort();
        if ((s->flags & ELF_X) && info->entry >= s->vaddr && info->entry < s->vaddr + s->memsz)
            entry_ok = true;
        for (unsigned j = 0; j < i; j++) {
            const struct elf_segment *t = &info->seg[j];
            uint64_t s_lo = s->vaddr & ~(ELF_PAGE_SIZE - 1);
            uint64_t t_lo = t->vaddr & ~(ELF_PAGE_SIZE - 1);
            uint64_t s_hi = (s->vaddr + s->memsz + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1);
            uint64_t t_hi = (t->vaddr + t->memsz + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1);
            if (s_lo < t_hi && t_lo < s_hi)
                abort();
        }
    }
    if (!entry_ok || (info->entry & 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct elf_info info;
    enum elf_err err = elf_check(data, size, &info);
    if ((unsigned)err >= ELF_ERR_COUNT)
        abort();
    if (elf_strerror(err) == NULL)
        abort();
    if (err == ELF_OK)
        check_promises(&info, size);
    return 0;
}
