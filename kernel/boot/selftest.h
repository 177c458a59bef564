/* Boot-time self-tests selected with `selftest=NAME` on the kernel command
 * line. They exercise paths that must end the machine (panic, stack
 * overflow) or that only the real MMU can check (W^X), for the QEMU boot
 * tests. */
#ifndef NEWSYS_BOOT_SELFTEST_H
#define NEWSYS_BOOT_SELFTEST_H

#include <stdbool.h>

/* Run the named test; false if the name is unknown or the test failed. */
bool selftest_run(const char *name);

#endif
