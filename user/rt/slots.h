/* A slot allocator for the calling program's own capability space.
 *
 * The kernel does not allocate slots: every call names its destination. A
 * program that creates objects at run time (ns_spawn does) needs somewhere
 * to put them, so the runtime keeps one bitmap over the range of slots the
 * program may use freely: [NS_SLOT_FIRST_FREE, cspace_slots) for init (from
 * the boot-info page), the free range named in the process-info page for a
 * spawned program (spawn.h), or whatever ns_slot_init() was told.
 *
 * Slots outside the allocator's knowledge may be in use (a program may also
 * hard-code slots), so ns_slot_alloc() checks that a slot is really empty
 * before handing it out and skips, for good, any that is not. ns_slot_free()
 * deletes whatever capability is still in the slot: giving a slot back means
 * giving up what it holds. Not thread-safe: one thread per program manages
 * its slots. */
#ifndef NEWSYS_USER_SLOTS_H
#define NEWSYS_USER_SLOTS_H

#include "user/rt/newsys.h"

/* Largest capability space the allocator covers (the kernel's limit). */
#define NS_SLOTS_MAX 4096

/* Manage [first, end) instead of the range found from the boot or process
 * info. NS_ERR_INVALID_ARG if the range is empty, starts at slot 0 or goes
 * past NS_SLOTS_MAX; NS_ERR_BAD_STATE once slots have been handed out. */
long ns_slot_init(unsigned long first, unsigned long end);

/* A free, empty slot in *slot. NS_ERR_NO_QUOTA when the range is used up
 * (the capability space's size is the quota on slots); NS_ERR_BAD_STATE if
 * the program has neither boot info nor process info and no ns_slot_init(). */
long ns_slot_alloc(unsigned long *slot);

/* Delete the slot's capability, if any, and give the slot back.
 * NS_ERR_INVALID_SLOT if the slot is not one ns_slot_alloc() handed out. */
long ns_slot_free(unsigned long slot);

/* Slots still free in the range (for leak checks in tests). */
unsigned long ns_slot_count_free(void);

#endif
