/* The page clock (see clock.h). */
#include "memobj/clock.h"

#include <stddef.h>

void clock_init(struct clock *c)
{
    c->hand = NULL;
    c->pages = 0;
}

void clock_insert(struct clock *c, struct cache_page *cp)
{
    if (!c->hand) {
        cp->lru_next = cp->lru_prev = cp;
        c->hand = cp;
    } else {
        /* Just behind the hand: the last the sweep reaches. */
        struct cache_page *h = c->hand;
        cp->lru_next = h;
        cp->lru_prev = h->lru_prev;
        h->lru_prev->lru_next = cp;
        h->lru_prev = cp;
    }
    c->pages++;
}

void clock_remove(struct clock *c, struct cache_page *cp)
{
    if (cp->lru_next == cp) {
        c->hand = NULL;
    } else {
        if (c->hand == cp)
            c->hand = cp->lru_next;
        cp->lru_prev->lru_next = cp->lru_next;
        cp->lru_next->lru_prev = cp->lru_prev;
    }
    cp->lru_next = cp->lru_prev = NULL;
    c->pages--;
}

void clock_scan(struct clock *c, uint64_t want, uint64_t max_scan, const struct clock_ops *ops,
                struct clock_result *out)
{
    struct clock_result r = {0};
    while (c->hand && r.freed + r.writing < want && r.scanned < max_scan) {
        struct cache_page *cp = c->hand;
        /* The hand moves first: reclaim may take cp (or others) off. */
        c->hand = cp->lru_next;
        r.scanned++;
        if (ops->referenced(cp, ops->ctx)) {
            r.referenced++;
            continue;
        }
        uint64_t pages = 1;
        switch (ops->reclaim(cp, ops->ctx, &pages)) {
        case CLOCK_FREED:
            r.freed += pages;
            break;
        case CLOCK_WRITING:
            r.writing += pages;
            break;
        default:
            r.skipped++;
            break;
        }
    }
    if (out)
        *out = r;
}
