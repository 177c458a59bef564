/* demo: processes sharing one memory object served by the zero-fill
 * manager. init gives each a capability to the same 16-page object at slot
 * NS_SLOT_FIRST_GIVEN: two writers (read-write) fill their halves; a reader
 * (read-only capability) then checks every page and tries nothing else.
 * Each maps the object with the rights it asks for and prints what it got. */
#include <stdio.h>

#include "user/rt/newsys.h"
#include "user/rt/spawn.h"

#define SLOT_OBJ  NS_SLOT_FIRST_GIVEN
#define OBJ_VA    0x50000000ull
#define OBJ_PAGES 16

int main(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    if (!pi)
        return 1;
    unsigned role = (unsigned)(pi->arg & 0xff);
    unsigned long eff;
    long e = ns_memobj_map(NS_SLOT_SELF_ASPACE, SLOT_OBJ, OBJ_VA, 0, OBJ_PAGES,
                           NS_RIGHT_READ | NS_RIGHT_WRITE, &eff);
    if (e != NS_OK) {
        printf("demo %u: map failed: %s\n", role, ns_strerror(e));
        return 1;
    }
    volatile uint64_t *obj = (volatile uint64_t *)OBJ_VA;
    if (role == 3) {
        /* Toucher (tests): read the first word of each of the object's
         * first N pages (N in the argument's upper bits). */
        uint64_t n = pi->arg >> 8, sum = 0;
        ns_memobj_unmap(NS_SLOT_SELF_ASPACE, OBJ_VA, OBJ_PAGES);
        if (ns_memobj_map(NS_SLOT_SELF_ASPACE, SLOT_OBJ, OBJ_VA, 0, n, NS_RIGHT_READ, &eff))
            return 1;
        for (uint64_t p = 0; p < n; p++)
            sum += obj[p * 512];
        printf("demo toucher: %lu pages, sum %lu\n", (unsigned long)n, (unsigned long)sum);
        return 0;
    }
    if (role < 2) {
        /* Writer: pages [8 * role, 8 * role + 8): first word = page number + 1. */
        for (unsigned p = 8 * role; p < 8 * role + 8; p++)
            obj[p * 512] = p + 1;
        printf("demo writer %u: mapped %s, wrote pages %u-%u\n", role,
               eff & NS_RIGHT_WRITE ? "read-write" : "read-only", 8 * role, 8 * role + 7);
        return 0;
    }
    uint64_t sum = 0, zeros = 0;
    for (unsigned p = 0; p < OBJ_PAGES; p++) {
        sum += obj[p * 512];
        zeros += obj[p * 512 + 1] == 0;
    }
    printf("demo reader: mapped %s (asked read-write), sum of first words %lu (expect 136), "
           "%lu pages zero-filled past them\n",
           eff & NS_RIGHT_WRITE ? "read-write" : "read-only", (unsigned long)sum,
           (unsigned long)zeros);
    return sum == 136 && !(eff & NS_RIGHT_WRITE) ? 0 : 1;
}
