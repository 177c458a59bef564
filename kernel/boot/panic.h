/* Ending the machine: clean shutdown with a reason, and panic for broken
 * kernel invariants. The reason becomes QEMU's exit status through the
 * sifive,test finisher when the board has one (see power.c). */
#ifndef NEWSYS_BOOT_PANIC_H
#define NEWSYS_BOOT_PANIC_H

struct platform;
struct trap_frame;

enum shutdown_reason {
    SHUTDOWN_OK = 0,      /* exit status 0 */
    SHUTDOWN_FAILURE = 1, /* a test or init failed: exit status 10 */
    SHUTDOWN_PANIC = 2,   /* kernel panic: exit status 11 */
};

/* QEMU exit statuses, kept stable for scripts/run and the tests. */
#define EXIT_STATUS_OK      0
#define EXIT_STATUS_FAILURE 10
#define EXIT_STATUS_PANIC   11

void power_init(const struct platform *p, unsigned long finisher_va);
_Noreturn void machine_shutdown(enum shutdown_reason reason);

_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void panic_trap(const struct trap_frame *tf, const char *what);

/* Print the frame-pointer chain starting at `fp`. */
void backtrace_from(unsigned long fp);

#endif
