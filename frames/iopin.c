/* I/O pins (see iopin.h). */
#include "frames/iopin.h"

#include <stddef.h>

#define PAGE_MASK 0xfffull

enum pin_err pin_account_init(struct pin_account *a, uint32_t limit, uint64_t lease)
{
    if (limit == 0 || lease == 0)
        return PIN_ERR_ARG;
    *a = (struct pin_account){.limit = limit, .lease = lease};
    return PIN_OK;
}

enum pin_err pin_take(struct pin_account *a, struct pin *p, uint64_t pa, uint64_t now)
{
    if (pa & PAGE_MASK)
        return PIN_ERR_ARG;
    if (p->state != PIN_FREE)
        return PIN_ERR_STATE;
    if (a->held >= a->limit)
        return PIN_ERR_QUOTA;
    *p = (struct pin){.account = a, .pa = pa, .until = now + a->lease, .state = PIN_LIVE};
    /* At the tail: pin_expire then meets leases in the order they end. */
    struct pin **pp = &a->pins;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    a->held++;
    a->taken++;
    return PIN_OK;
}

static void unlink_pin(struct pin *p)
{
    struct pin_account *a = p->account;
    for (struct pin **pp = &a->pins; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    a->held--;
    a->released++;
    p->next = NULL;
    p->state = PIN_FREE;
}

static void expire(struct pin *p, uint64_t now)
{
    p->state = PIN_EXPIRED;
    p->until = now + p->account->lease; /* the quarantine: a device may still write */
    p->account->expired++;
}

enum pin_err pin_use(struct pin *p, uint64_t now)
{
    if (p->state == PIN_EXPIRED)
        return PIN_ERR_EXPIRED;
    if (p->state != PIN_LIVE)
        return PIN_ERR_STATE;
    if (now >= p->until) {
        expire(p, now);
        return PIN_ERR_EXPIRED;
    }
    return PIN_OK;
}

bool pin_abandon(struct pin *p, uint64_t now)
{
    if (p->state != PIN_LIVE)
        return false;
    expire(p, now);
    return true;
}

enum pin_err pin_release(struct pin *p)
{
    if (p->state == PIN_EXPIRED)
        return PIN_ERR_EXPIRED;
    if (p->state != PIN_LIVE)
        return PIN_ERR_STATE;
    unlink_pin(p);
    return PIN_OK;
}

unsigned pin_expire(struct pin_account *a, uint64_t now, void (*revoke)(struct pin *p, void *ctx),
                    void (*free)(struct pin *p, void *ctx), void *ctx)
{
    unsigned changed = 0;
    struct pin *next;
    for (struct pin *p = a->pins; p; p = next) {
        next = p->next; /* free() may reuse p */
        if (now < p->until)
            continue;
        if (p->state == PIN_LIVE) {
            expire(p, now);
            if (revoke)
                revoke(p, ctx);
        } else {
            unlink_pin(p);
            if (free)
                free(p, ctx);
        }
        changed++;
    }
    return changed;
}

void pin_account_close(struct pin_account *a, uint64_t now,
                       void (*revoke)(struct pin *p, void *ctx), void *ctx)
{
    for (struct pin *p = a->pins; p; p = p->next)
        if (pin_abandon(p, now) && revoke)
            revoke(p, ctx);
}
