/* init: the first user program. For now it reports what the kernel gave it
 * and shuts the machine down; starting other programs comes with threads,
 * address spaces and IPC as system calls. */
#include <stdio.h>
#include <string.h>

#include "user/rt/newsys.h"

int main(void)
{
    const struct ns_bootinfo *bi = ns_bootinfo;
    if (!bi) {
        printf("init: no boot info\n");
        return 1;
    }
    printf("init: hello from user mode; %lu harts, timebase %lu Hz, initrd %lu bytes at %#lx\n",
           (unsigned long)bi->hart_count, (unsigned long)bi->timebase_hz,
           (unsigned long)bi->initrd_size, (unsigned long)bi->initrd_va);
    /* The initrd is mapped read-only: show its first bytes are the cpio magic. */
    printf("init: initrd magic %.6s\n", (const char *)bi->initrd_va);

    uint64_t t0 = ns_clock_us();
    ns_sleep_us(20000);
    uint64_t slept = ns_clock_us() - t0;
    printf("init: slept %lu us (asked 20000)\n", (unsigned long)slept);

    volatile double x = 1.5;
    printf("init: floating point works: %d\n", (int)(x * 4.0));

    long e = ns_shutdown(NS_SLOT_MACHINE, 0);
    printf("init: shutdown returned %ld (%s)\n", e, ns_strerror(e));
    return 1;
}
