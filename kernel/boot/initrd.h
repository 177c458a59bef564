/* The initrd: a newc cpio archive of user programs handed over by the boot
 * loader (/chosen linux,initrd-start/end). */
#ifndef NEWSYS_BOOT_INITRD_H
#define NEWSYS_BOOT_INITRD_H

#include <stdbool.h>
#include <stddef.h>

#include "kernel/lib/elf.h"

struct initrd {
    const void *data;
    size_t size;
};

/* List the archive on the console; false if it is malformed. */
bool initrd_list(const struct initrd *rd);
/* Find program `name` and check it is a RISC-V executable we can load. */
bool initrd_check_program(const struct initrd *rd, const char *name, struct elf_info *info);

#endif
