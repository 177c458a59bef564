/* libFuzzer harness for kernel/lib/cpio.c, and for the ELF check behind it
 * as the kernel uses them: walk every entry of the archive, check each
 * regular file as a program, and look up /init. Every returned entry must
 * lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/lib/cpio.h"
#include "kernel/lib/elf.h"

static void check_inside(const struct cpio_entry *e, const uint8_t *data, size_t size)
{
    const uint8_t *name = (const uint8_t *)e->name;
    const uint8_t *p = e->data;
    if (name < data || e->name_len >= (size_t)(data + size - name) || name[e->name_len] != 0)
        abort();
    if (strlen(e->name) != e->name_len)
        abort();
    if (p < data || p > data + size || e->size > (size_t)(data + size - p))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cpio_iter it;
    struct cpio_entry e;
    enum cpio_err err;
    size_t n = 0;

    cpio_iter_init(&it, data, size);
    while ((err = cpio_next(&it, &e)) == CPIO_OK) {
        check_inside(&e, data, size);
        n++;
        if (cpio_is_regular(&e)) {
            struct elf_info info;
            if ((unsigned)elf_check(e.data, e.size, &info) >= ELF_ERR_COUNT)
                abort();
        }
    }
    if (err == CPIO_OK || (unsigned)err >= CPIO_ERR_COUNT || err == CPIO_ERR_NOT_FOUND)
        abort();
    if (cpio_next(&it, &e) != err) /* stopped iterators stay stopped */
        abort();

    enum cpio_err ferr = cpio_find(data, size, "/init", &e);
    if (ferr == CPIO_OK)
        check_inside(&e, data, size);
    else if (ferr != (err == CPIO_END ? CPIO_ERR_NOT_FOUND : err))
        abort();
    (void)n;
    return 0;
}
