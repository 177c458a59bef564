/* counter: a spawned program with two threads of its own. The second
 * thread lives in the same address and capability spaces, on a stack in
 * the program's BSS (so in the memory object ns_spawn made for its data),
 * and is created from the program's own bank with the capabilities
 * ns_spawn gave it. Both threads count to
 * the process argument (default 5) and print as they go; main waits for
 * the second one and then returns, which ends the process.
 *
 * Lines are formatted into a local buffer and written with one system call
 * each: the runtime's stdout buffer is shared and not thread-safe. */
#include <stdio.h>

#include "user/rt/slots.h"
#include "user/rt/spawn.h"

static uint8_t worker_stack[4096] __attribute__((aligned(16)));

static void say(const char *who, unsigned long i, unsigned long n)
{
    char line[80];
    int len = snprintf(line, sizeof(line), "counter: %s counts %lu of %lu\n", who, i, n);
    if (len > 0)
        ns_debug_write(line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
}

static void count(const char *who, unsigned long n, uint64_t nap_us)
{
    for (unsigned long i = 1; i <= n; i++) {
        say(who, i, n);
        ns_sleep_us(nap_us); /* let the other thread in between lines */
    }
}

static volatile unsigned long worker_n;

static void worker(unsigned long n)
{
    count("thread B", n, 1500);
    worker_n = n;
}

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (!pi) {
        printf("counter: not started by ns_spawn (no process info)\n");
        return 1;
    }
    unsigned long n = pi->arg ? pi->arg : 5;
    unsigned long thread;
    long e = ns_slot_alloc(&thread);
    if (e == NS_OK)
        e = ns_thread_create(NS_SLOT_ROOT_BANK, thread, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE);
    if (e == NS_OK)
        e = ns_thread_start_fn(thread, worker,
                               (uint64_t)(uintptr_t)(worker_stack + sizeof(worker_stack)), n);
    if (e != NS_OK) {
        printf("counter: cannot start the second thread: %s\n", ns_strerror(e));
        return 1;
    }
    printf("counter: two threads counting to %lu\n", n);
    count("thread A", n, 1000);

    unsigned long state = 0;
    while ((e = ns_thread_info(thread, &state, NULL)) == NS_OK && state != NS_THREAD_STOPPED)
        ns_sleep_us(1000);
    if (e != NS_OK) {
        printf("counter: lost the second thread: %s\n", ns_strerror(e));
        return 1;
    }
    printf("counter: both threads done (thread B counted to %lu)\n", worker_n);
    return 0;
}
