/* The slot allocator (see slots.h). Two bitmaps: `taken` says a slot is not
 * available (handed out, or found occupied by someone who did not ask us),
 * `ours` says we handed it out, so only those can be freed. A rotating hint
 * keeps allocation O(1) amortised for the usual alloc/free patterns. */
#include "user/rt/slots.h"

#include "user/rt/spawn.h"

#define WORD_BITS 64

static uint64_t taken[NS_SLOTS_MAX / WORD_BITS];
static uint64_t ours[NS_SLOTS_MAX / WORD_BITS];
static unsigned long range_first, range_end, hint;
static bool ready, used_once;

static bool bit(const uint64_t *map, unsigned long s)
{
    return map[s / WORD_BITS] >> (s % WORD_BITS) & 1;
}

static void set_bit(uint64_t *map, unsigned long s, bool on)
{
    if (on)
        map[s / WORD_BITS] |= 1ull << (s % WORD_BITS);
    else
        map[s / WORD_BITS] &= ~(1ull << (s % WORD_BITS));
}

static void set_range(unsigned long first, unsigned long end)
{
    range_first = first;
    range_end = end;
    hint = first;
    ready = true;
}

long ns_slot_init(unsigned long first, unsigned long end)
{
    if (used_once)
        return NS_ERR_BAD_STATE;
    if (first == NS_SLOT_NULL || first >= end || end > NS_SLOTS_MAX)
        return NS_ERR_INVALID_ARG;
    set_range(first, end);
    return NS_OK;
}

/* The range a program owns, from what it was started with. */
static long find_range(void)
{
    const struct ns_procinfo *pi = ns_procinfo();
    unsigned long first, end;
    if (ns_bootinfo) {
        first = NS_SLOT_FIRST_FREE;
        end = ns_bootinfo->cspace_slots;
    } else if (pi) {
        first = pi->free_slot_first;
        end = pi->free_slot_end;
    } else {
        return NS_ERR_BAD_STATE;
    }
    if (end > NS_SLOTS_MAX)
        end = NS_SLOTS_MAX;
    if (first == NS_SLOT_NULL || first >= end)
        return NS_ERR_BAD_STATE;
    set_range(first, end);
    return NS_OK;
}

long ns_slot_alloc(unsigned long *slot)
{
    if (!ready) {
        long e = find_range();
        if (e != NS_OK)
            return e;
    }
    used_once = true;
    unsigned long n = range_end - range_first;
    for (unsigned long i = 0; i < n; i++) {
        unsigned long s = hint + i;
        if (s >= range_end)
            s -= n;
        if (bit(taken, s))
            continue;
        set_bit(taken, s, true);
        /* Anything but an empty slot (a live capability, a stale one, a
         * revoke tombstone) belongs to code that did not go through us. */
        if (ns_cap_identify(s, NULL) != NS_ERR_EMPTY_SLOT)
            continue;
        set_bit(ours, s, true);
        hint = s + 1 < range_end ? s + 1 : range_first;
        *slot = s;
        return NS_OK;
    }
    return NS_ERR_NO_QUOTA;
}

long ns_slot_free(unsigned long slot)
{
    if (!ready || slot < range_first || slot >= range_end || !bit(ours, slot))
        return NS_ERR_INVALID_SLOT;
    long e = ns_cap_delete(slot);
    if (e != NS_OK && e != NS_ERR_EMPTY_SLOT)
        return e;
    set_bit(ours, slot, false);
    set_bit(taken, slot, false);
    return NS_OK;
}

unsigned long ns_slot_count_free(void)
{
    if (!ready && find_range() != NS_OK)
        return 0;
    unsigned long n = 0;
    for (unsigned long s = range_first; s < range_end; s++)
        n += !bit(taken, s);
    return n;
}
