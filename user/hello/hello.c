/* hello: the smallest program ns_spawn starts. It shows that a spawned
 * program finds its name and argument in its process-info page, can use its
 * own capabilities (here: asking its own bank what it has spent), and ends
 * by returning from main, which stops its thread for the parent to see. */
#include <stdio.h>

#include "user/rt/spawn.h"

/* Something small and checkable: the n-th Fibonacci number. */
static uint64_t fib(uint64_t n)
{
    uint64_t a = 0, b = 1;
    while (n--) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (!pi) {
        printf("hello: not started by ns_spawn (no process info)\n");
        return 1;
    }
    printf("hello: hello from %s, argument %lu\n", pi->name, (unsigned long)pi->arg);
    uint64_t n = pi->arg < 90 ? pi->arg : 90; /* fib(93) is the last that fits */
    printf("hello: fib(%lu) = %lu\n", (unsigned long)n, (unsigned long)fib(n));
    uint64_t limit, used;
    long e = ns_bank_info(NS_SLOT_ROOT_BANK, &limit, &used);
    if (e != NS_OK) {
        printf("hello: my bank: %s\n", ns_strerror(e));
        return 1;
    }
    printf("hello: my bank: %lu of %lu pages used\n", (unsigned long)((used + 4095) / 4096),
           (unsigned long)limit);
    return 0;
}
