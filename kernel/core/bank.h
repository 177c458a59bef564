/* Space banks: quotas of kernel memory.
 *
 * Banks form a tree. Every kernel object is charged (in bytes) to the bank
 * named when it was created, and the charge counts against that bank and
 * every ancestor, so a sub-bank can never spend more than its parents
 * allow: a charge that would take any bank on the path over its limit fails
 * with NS_ERR_NO_QUOTA and changes nothing. Limits are set in pages and
 * reported in pages and bytes.
 *
 * Destroying a bank destroys, depth first, its sub-banks and then every
 * object charged to it (through kobj_destroy, whose hooks uncharge), and
 * finally the bank itself; all capabilities to any of them become stale.
 * Portable: the bank's own memory comes from the caller.
 *
 * A sub-bank's own struct is an ordinary object of its parent: it sits on
 * the parent's object list with its charge, like any other object. The
 * child/sibling links are only the tree index over those same structs, not
 * a second ownership. So for every bank
 *     used_bytes = (charges of the objects on its list, sub-bank structs
 *                   included) + (loose bank_charge bytes)
 *                + (used_bytes of each sub-bank),
 * and a sub-bank's used_bytes never includes its own struct. Teardown walks
 * the tree index deepest first: by the time a bank's object list is
 * emptied, its sub-banks are gone and their structs already off the list.
 *
 * Loose charges (bank_charge without an object) belong to the object that
 * made them and must be given back by that object's destroy hook to the
 * same bank; whatever a torn-down bank still has loose at the end is
 * returned to its ancestors. Charges into a bank being torn down fail with
 * NS_ERR_BAD_STATE. Callers serialise (the kernel lock), as for kobj. */
#ifndef NEWSYS_CORE_BANK_H
#define NEWSYS_CORE_BANK_H

#include <stdint.h>

#include "include/newsys/errors.h"
#include "kernel/core/kobj.h"

#define BANK_PAGE_SIZE 4096u

struct bank {
    struct kobj obj; /* the bank itself, charged to its parent */
    struct bank *parent;
    struct bank *child, *sibling_prev, *sibling_next;
    uint64_t limit_bytes; /* UINT64_MAX: no limit of its own */
    uint64_t used_bytes;  /* charged here and in all sub-banks */
    struct kobj *objects; /* objects charged directly to this bank */
    uint64_t nobjects;
    bool dying;
};

/* The root bank: all of kernel memory available to user programs. This
 * also does kobj_init(&root->obj, NS_CAP_BANK); the root is charged to
 * nothing. */
void bank_init_root(struct bank *root, uint64_t limit_bytes);
/* A sub-bank of `parent`; the caller has already done kobj_init(&b->obj,
 * NS_CAP_BANK) and charged `b`'s own memory to `parent` with
 * bank_charge_object(parent, &b->obj, ...), which fails if the parent is
 * over quota or being torn down. b->obj is left alone here. */
void bank_init_child(struct bank *b, struct bank *parent, uint64_t limit_bytes);
/* Limits are set in pages; UINT64_MAX pages means no limit of its own. A
 * limit below what is already used is allowed: further charges fail until
 * usage drops. INVALID_ARG if pages * BANK_PAGE_SIZE overflows. */
enum ns_error bank_set_limit_pages(struct bank *b, uint64_t pages);

/* Charge `bytes` for `obj` to `b` and add obj to b's object list.
 * INVALID_ARG if obj is dead, BAD_STATE if it is already charged or `b` (or
 * an ancestor) is being torn down, NO_QUOTA if any bank on the path would
 * go over its limit. */
enum ns_error bank_charge_object(struct bank *b, struct kobj *obj, uint64_t bytes);
/* Undo bank_charge_object (called from destroy hooks). */
void bank_uncharge_object(struct kobj *obj);
/* Charges without an object (e.g. page-table pages of an address space).
 * Uncharging more than `b` uses is a caller bug; it is clamped to what `b`
 * uses, which keeps every ancestor's sum consistent. */
enum ns_error bank_charge(struct bank *b, uint64_t bytes);
void bank_uncharge(struct bank *b, uint64_t bytes);

/* Destroy everything charged to `b` and its sub-banks, then `b` itself
 * (through kobj_destroy(&b->obj), which the kernel's bank destroy hook
 * implements by calling bank_teardown, bank_uncharge_object, kobj_kill and
 * freeing the memory). Either entry works: calling bank_teardown directly
 * ends in the hook; the hook's own call finds the destruction of b->obj
 * already running and just empties the bank. Iterative over the bank tree;
 * on return every sub-bank and object below `b` is gone and `b` is off its
 * parent's tree and holds nothing; b's own hook has run too, unless a
 * destruction bracket (kobj_defer_begin) is open, in which case it runs
 * when the outermost bracket closes. */
void bank_teardown(struct bank *b);

/* UINT64_MAX when the bank has no limit of its own. */
uint64_t bank_limit_pages(const struct bank *b);
uint64_t bank_used_bytes(const struct bank *b);
/* Rounded up. */
uint64_t bank_used_pages(const struct bank *b);

#endif
