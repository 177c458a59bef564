/* worker: useful work done while the fuzzer attacks the kernel. It counts
 * primes with a sieve in memory it maps itself, runs a floating-point
 * series, and passes messages through an endpoint between two threads of
 * its own; then it reports its results to the fuzz test, which knows what
 * they must be. Any corruption - of its memory, its registers (including
 * the FP ones, switched lazily), or its messages - shows up as a wrong
 * result. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "user/rt/newsys.h"
#include "user/rt/slots.h"
#include "user/rt/spawn.h"

#define SLOT_REPORT  NS_SLOT_FIRST_GIVEN
#define LABEL_RESULT 0x7e5
#define SIEVE_VA     0x40000000ull
#define SIEVE_PAGES  16
#define STACK2_VA    0x50000000ull

static unsigned long ep;

static uint64_t primes_below(uint64_t n)
{
    uint8_t *sieve = (uint8_t *)(uintptr_t)SIEVE_VA;
    memset(sieve, 1, n);
    sieve[0] = sieve[1] = 0;
    for (uint64_t i = 2; i * i < n; i++)
        if (sieve[i])
            for (uint64_t j = i * i; j < n; j += i)
                sieve[j] = 0;
    uint64_t c = 0;
    for (uint64_t i = 0; i < n; i++)
        c += sieve[i];
    return c;
}

static void echo(unsigned long slot)
{
    struct ns_msg m = {0};
    long e = ns_recv(slot, &m);
    while (e == NS_OK) {
        m.w[0] = m.w[0] * 3 + 1;
        m.info = NS_MSG_INFO(0, 1, 0);
        e = ns_reply_recv(slot, &m);
    }
}

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (!pi)
        return 1;
    unsigned rounds = (unsigned)pi->arg;

    for (unsigned i = 0; i < SIEVE_PAGES; i++) {
        unsigned long f;
        if (ns_slot_alloc(&f) || ns_frame_alloc(NS_SLOT_ROOT_BANK, f) ||
            ns_map_frame(NS_SLOT_SELF_ASPACE, f, SIEVE_VA + i * 4096ull,
                         NS_RIGHT_READ | NS_RIGHT_WRITE, NULL))
            return 1;
    }
    /* A second thread serving an endpoint. */
    unsigned long t2, stack;
    if (ns_slot_alloc(&ep) || ns_slot_alloc(&t2) || ns_slot_alloc(&stack) ||
        ns_endpoint_create(NS_SLOT_ROOT_BANK, ep) || ns_frame_alloc(NS_SLOT_ROOT_BANK, stack) ||
        ns_map_frame(NS_SLOT_SELF_ASPACE, stack, STACK2_VA, NS_RIGHT_READ | NS_RIGHT_WRITE, NULL) ||
        ns_thread_create(NS_SLOT_ROOT_BANK, t2, NS_SLOT_SELF_CSPACE, NS_SLOT_SELF_ASPACE) ||
        ns_thread_start_fn(t2, echo, STACK2_VA + 4096, ep))
        return 1;

    uint64_t primes = 0, msgs = 0;
    double series = 0;
    for (unsigned r = 0; r < rounds; r++) {
        primes += primes_below(SIEVE_PAGES * 4096);
        for (int k = 1; k <= 1000; k++)
            series += 1.0 / ((double)k * k);
        for (int k = 0; k < 50; k++) {
            struct ns_msg m = {.info = NS_MSG_INFO(0, 1, 0), .w = {(uint64_t)k}};
            if (ns_call(ep, &m) == NS_OK && m.w[0] == (uint64_t)k * 3 + 1)
                msgs++;
        }
        ns_yield();
    }
    /* Report: primes (6542 below 65536 per round), messages (50 per round)
     * and the series times 1e6 (1644 per round, sum of 1/k^2 to 1000). */
    struct ns_msg m = {.info = NS_MSG_INFO(LABEL_RESULT, 3, 0),
                       .w = {primes, msgs, (uint64_t)(series * 1e6 / rounds)}};
    ns_send(SLOT_REPORT, &m);
    printf("worker: %u rounds: %lu primes, %lu messages, series %lu\n", rounds,
           (unsigned long)primes, (unsigned long)msgs, (unsigned long)(series * 1e6 / rounds));
    return 0;
}
