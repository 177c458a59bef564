/* Reading the initrd. The archive is untrusted input like any disk: the cpio
 * and ELF parsers bound-check everything, and a bad archive is reported, not
 * fatal to the kernel. */
#include "kernel/boot/initrd.h"

#include "kernel/console/console.h"
#include "kernel/lib/cpio.h"

bool initrd_list(const struct initrd *rd)
{
    struct cpio_iter it;
    struct cpio_entry e;
    enum cpio_err err;
    unsigned files = 0;
    size_t bytes = 0;
    cpio_iter_init(&it, rd->data, rd->size);
    while ((err = cpio_next(&it, &e)) == CPIO_OK) {
        kprintf("initrd: %c %8lu %s\n",
                cpio_is_dir(&e)       ? 'd'
                : cpio_is_regular(&e) ? '-'
                                      : '?',
                (unsigned long)e.size, cpio_short_name(&e));
        files++;
        bytes += e.size;
    }
    if (err != CPIO_END) {
        kprintf("initrd: malformed archive after %u entries: %s\n", files, cpio_strerror(err));
        return false;
    }
    kprintf("initrd: %u entries, %lu bytes\n", files, (unsigned long)bytes);
    return true;
}

bool initrd_check_program(const struct initrd *rd, const char *name, struct elf_info *info)
{
    struct cpio_entry e;
    enum cpio_err cerr = cpio_find(rd->data, rd->size, name, &e);
    if (cerr != CPIO_OK) {
        kprintf("init: %s: %s\n", name, cpio_strerror(cerr));
        return false;
    }
    if (!cpio_is_regular(&e)) {
        kprintf("init: %s: not a regular file\n", name);
        return false;
    }
    enum elf_err eerr = elf_check(e.data, e.size, info);
    if (eerr != ELF_OK) {
        kprintf("init: %s: %s\n", name, elf_strerror(eerr));
        return false;
    }
    kprintf("init: %s: RISC-V ELF64 executable, entry %#lx, %u segments, [%#lx, %#lx)\n", name,
            (unsigned long)info->entry, info->nseg, (unsigned long)info->lowest,
            (unsigned long)info->highest);
    return true;
}
