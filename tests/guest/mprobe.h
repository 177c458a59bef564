/* Report labels of tests/guest/mprobe.c. */
#ifndef NEWSYS_TESTS_GUEST_MPROBE_H
#define NEWSYS_TESTS_GUEST_MPROBE_H

#define MPROBE_TOUCHED 1 /* word 0: sum of the first word of every page */
#define MPROBE_FAULT   2 /* word 0: fault kind of the last-page read (0: none), word 1: its word */
/* With argument MPROBE_ARG_PIN: the given capability is a frame; word 0:
 * what NS_SYS_FRAME_INFO said of it, word 1: how many of the child's
 * slots made a pin account or pinned a frame (0: none could). */
#define MPROBE_PIN     3
#define MPROBE_ARG_PIN (~0ull)

#endif
