/* I/O pins: the bookkeeping behind the page frames the kernel hands to
 * user-level drivers for DMA (DESIGN.md §3, issue 8).
 *
 * A driver gets a pinned frame only through a pin account, which only the
 * object server - holding the one sensitive capability that makes
 * accounts - can create. An account has a quota (pins held at once) and a
 * lease (how long each pin may be held). A pin past its lease is
 * *expired*: the driver's next use of it fails (so a driver that keeps
 * pins forever learns so at once), the kernel takes the frame away from
 * the driver, and - since a device the driver programmed may still write
 * into it - keeps the page out of use for one more lease (quarantine)
 * before it goes back to the page cache. Expired and quarantined pins
 * still count against the quota, so a driver that leaks pins runs into
 * its quota, not the cache: the cache cannot be livelocked by pinning.
 * Unpinning (or quarantine's end) releases the pin and its quota.
 *
 * Portable and host-tested (tests/host/test_iopin.c): times are in the
 * caller's ticks; the kernel owns the frames and does the unmapping and
 * freeing when this ledger says. */
#ifndef NEWSYS_FRAMES_IOPIN_H
#define NEWSYS_FRAMES_IOPIN_H

#include <stdbool.h>
#include <stdint.h>

enum pin_state {
    PIN_FREE = 0, /* not a pin (never taken, or released) */
    PIN_LIVE,     /* held, within its lease */
    PIN_EXPIRED,  /* past its lease: the driver loses it, the page is quarantined */
};

enum pin_err {
    PIN_OK = 0,
    PIN_ERR_QUOTA,   /* the account holds its limit of pins (expired ones count) */
    PIN_ERR_EXPIRED, /* the pin is past its lease */
    PIN_ERR_STATE,   /* not a live pin of this account (taken twice, released twice) */
    PIN_ERR_ARG,     /* a zero quota or lease, a page address not page aligned */
};

struct pin;

struct pin_account {
    uint32_t limit;   /* pins held at once, expired and quarantined ones included */
    uint32_t held;    /* pins now counted */
    uint64_t lease;   /* ticks a pin may be held */
    struct pin *pins; /* every pin counted, in the order taken */
    uint64_t taken, expired, released; /* totals, for the tests and the stats */
};

struct pin {
    struct pin *next;
    struct pin_account *account;
    uint64_t pa;    /* the pinned page */
    uint64_t until; /* LIVE: the lease's end; EXPIRED: the quarantine's end */
    uint8_t state;  /* enum pin_state */
};

enum pin_err pin_account_init(struct pin_account *a, uint32_t limit, uint64_t lease);

/* Count `p` (free) as a pin of `a` on page `pa` from `now`. */
enum pin_err pin_take(struct pin_account *a, struct pin *p, uint64_t pa, uint64_t now);

/* A use of `p` at `now` (its physical address asked for, a DMA set up):
 * OK within the lease; EXPIRED after it. When this call is the one that
 * finds the lease over, the pin is expired from now and the caller revokes
 * the frame itself (pin_expire will not call revoke for it again). */
enum pin_err pin_use(struct pin *p, uint64_t now);

/* The driver is done with `p`: LIVE -> released (its page is ordinary
 * again). An expired pin stays in quarantine: EXPIRED is returned and the
 * page waits for pin_expire. */
enum pin_err pin_release(struct pin *p);

/* The holder of live pin `p` is gone (its frame died with it, perhaps
 * mid-transfer): expired now, its page quarantined for a lease from `now`.
 * False if it was not live (an expired pin is in quarantine already). */
bool pin_abandon(struct pin *p, uint64_t now);

/* What the kernel must do now for `a`'s pins, at `now`: `revoke(p)` for
 * each pin whose lease just ended (take the frame from the driver; the
 * page stays out of use), `free(p)` for each whose quarantine is over
 * (the page goes back; the pin is released before the call). Returns how
 * many pins changed state. */
unsigned pin_expire(struct pin_account *a, uint64_t now, void (*revoke)(struct pin *p, void *ctx),
                    void (*free)(struct pin *p, void *ctx), void *ctx);

/* The account goes (its holder died): every pin is expired at once - the
 * frames are revoked now and the pages quarantined for one lease from
 * `now` - and the ledger keeps them until pin_expire frees them. */
void pin_account_close(struct pin_account *a, uint64_t now,
                       void (*revoke)(struct pin *p, void *ctx), void *ctx);

#endif
