/* Report labels of tests/guest/mprobe.c. */
#ifndef NEWSYS_TESTS_GUEST_MPROBE_H
#define NEWSYS_TESTS_GUEST_MPROBE_H

#define MPROBE_TOUCHED 1 /* word 0: sum of the first word of every page */
#define MPROBE_FAULT   2 /* word 0: fault kind of the last-page read (0: none), word 1: its word */

#endif
