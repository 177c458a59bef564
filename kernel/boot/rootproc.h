/* The first user process: the kernel builds it from the initrd, as seL4
 * builds its root task; everything after it is started from user mode. */
#ifndef NEWSYS_BOOT_ROOTPROC_H
#define NEWSYS_BOOT_ROOTPROC_H

#include <stdbool.h>
#include <stdint.h>

struct hart;
struct platform;
struct initrd;

/* Create init (`name` from the initrd) with its root capabilities and make
 * it runnable on `h`. False, with the reason printed, if it cannot. */
bool rootproc_start(struct hart *h, const struct platform *p, const struct initrd *rd,
                    const char *name);

#endif
