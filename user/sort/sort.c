/* sort: a real workload on zero-fill memory. It takes 16 MiB from malloc
 * (so from its heap object, which the zero-fill manager fills on first
 * touch), fills it with a seeded pseudo-random sequence, sorts it in place,
 * and checks the result is in order and holds the same numbers (sum and
 * xor of all of them). It prints what it found and how many heap pages
 * the manager supplied, and exits 0 only when everything checked out.
 * Argument: the seed (0: 1). */
#include <stdio.h>
#include <stdlib.h>

#include "user/rt/spawn.h"

#define BYTES (16u << 20)
#define COUNT (BYTES / sizeof(uint64_t))

static uint64_t rng;

static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static void insertion_sort(uint64_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static void swap(uint64_t *x, uint64_t *y)
{
    uint64_t t = *x;
    *x = *y;
    *y = t;
}

/* Quicksort, median-of-three pivot, recursing into the smaller part only
 * (so the stack stays O(log n)) and leaving short runs to insertion sort. */
static void quicksort(uint64_t *a, size_t n)
{
    while (n > 16) {
        size_t mid = n / 2;
        if (a[mid] < a[0])
            swap(&a[mid], &a[0]);
        if (a[n - 1] < a[0])
            swap(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid])
            swap(&a[n - 1], &a[mid]);
        uint64_t pivot = a[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap(&a[i++], &a[j--]);
        }
        size_t left = j + 1; /* [0, j] <= pivot <= [j + 1, n) */
        if (left < n - left) {
            quicksort(a, left);
            a += left;
            n -= left;
        } else {
            quicksort(a + left, n - left);
            n = left;
        }
    }
    insertion_sort(a, n);
}

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    rng = pi && pi->arg ? pi->arg : 1;
    uint64_t t0 = ns_clock_us();
    uint64_t *a = malloc(BYTES);
    if (!a) {
        printf("sort: malloc of %u bytes failed\n", BYTES);
        return 2;
    }
    uint64_t sum = 0, x = 0;
    for (size_t i = 0; i < COUNT; i++) {
        a[i] = next();
        sum += a[i];
        x ^= a[i];
    }
    uint64_t t1 = ns_clock_us();
    quicksort(a, COUNT);
    uint64_t t2 = ns_clock_us();
    size_t disorder = 0;
    uint64_t sum2 = a[0], x2 = a[0];
    for (size_t i = 1; i < COUNT; i++) {
        disorder += a[i - 1] > a[i];
        sum2 += a[i];
        x2 ^= a[i];
    }
    bool ok = disorder == 0 && sum2 == sum && x2 == x;
    printf("sort: %lu numbers (%u MiB) filled in %lu ms, sorted in %lu ms: %s (%lu out of "
           "order, checksum %016lx %s)\n",
           (unsigned long)COUNT, BYTES >> 20, (unsigned long)(t1 - t0) / 1000,
           (unsigned long)(t2 - t1) / 1000, ok ? "in order" : "WRONG", (unsigned long)disorder,
           (unsigned long)sum2, sum2 == sum && x2 == x ? "matches" : "DIFFERS");
    uint64_t resident, requests;
    if (pi && pi->heap_pages &&
        ns_memobj_info(pi->mem_slot_first + 2, NULL, &resident, &requests) == NS_OK)
        printf("sort: heap object: %lu pages resident, %lu page requests to its manager\n",
               (unsigned long)resident, (unsigned long)requests);
    free(a);
    return ok ? 0 : 1;
}
