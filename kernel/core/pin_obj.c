/* Pin accounts and I/O-pinned frames (see pin_obj.h). */
#include "kernel/core/pin_obj.h"

#include <stddef.h>

#include "include/newsys/caps.h"
#include "kernel/arch/riscv/irq.h"
#include "kernel/core/bank.h"
#include "kernel/core/frame_obj.h"
#include "kernel/core/object.h"
#include "kernel/core/thread.h"

#define PIN_MAX_PINS     1024u
#define PIN_MAX_LEASE_US 60000000ull

static struct kcache account_cache = KCACHE_INIT("pin_account", struct pin_account_obj);
static struct kobj authority;
static struct pin_account_obj *accounts;
static uint64_t timebase_hz = 10000000;

struct kobj *pin_authority_object(void)
{
    if (!authority.live)
        kobj_init(&authority, NS_CAP_PIN_AUTHORITY);
    return &authority;
}

static struct frame_obj *frame_of(struct pin *p)
{
    return (struct frame_obj *)((char *)p - offsetof(struct frame_obj, pin));
}

/* The lease is over: the driver loses the frame (its address is no longer
 * told, nor can it be mapped again); the page stays out of use. */
static void revoke(struct pin *p, void *ctx)
{
    (void)ctx;
    frame_unmap(frame_of(p));
}

/* The quarantine is over: the page is the kernel's again if the frame is
 * gone, else the frame is an ordinary one. */
static void release(struct pin *p, void *ctx)
{
    (void)ctx;
    struct frame_obj *f = frame_of(p);
    f->pin_account = NULL;
    if (!f->obj.live)
        frame_release(f);
}

void pin_tick(uint64_t now)
{
    for (struct pin_account_obj **pp = &accounts; *pp;) {
        struct pin_account_obj *a = *pp;
        if (a->ledger.pins)
            pin_expire(&a->ledger, now, revoke, release, NULL);
        if (a->closed && a->ledger.held == 0) {
            *pp = a->next;
            obj_free(&account_cache, &a->obj);
            continue;
        }
        pp = &a->next;
    }
}

bool pin_frame_gone(struct frame_obj *f)
{
    if (!f->pin_account)
        return false;
    /* Its driver may have left a transfer running: the page waits a lease
     * (if it was expired, it is waiting already). */
    pin_abandon(&f->pin, timer_now());
    return true;
}

static void account_destroy(struct kobj *obj)
{
    struct pin_account_obj *a = (struct pin_account_obj *)obj;
    pin_account_close(&a->ledger, timer_now(), revoke, NULL);
    bank_uncharge_object(obj);
    kobj_kill(obj);
    a->closed = true; /* pin_tick frees it with its last pin */
}

void pin_types_init(void)
{
    static const struct kobj_type_ops ops = {.destroy = account_destroy};
    kobj_register_type(NS_CAP_PIN_ACCOUNT, &ops);
}

void pin_set_timebase(uint64_t hz)
{
    timebase_hz = hz;
}

enum ns_error sys_pin_account_create(struct thread *self, uint64_t authority_slot, uint64_t bank,
                                     uint64_t dst, uint64_t pins, uint64_t lease_us)
{
    struct cap_slot *ac;
    enum ns_error e = obj_lookup(self, authority_slot, NS_CAP_PIN_AUTHORITY, NS_RIGHT_WRITE, &ac);
    if (e != NS_OK)
        return e;
    if (pins == 0 || pins > PIN_MAX_PINS || lease_us == 0 || lease_us > PIN_MAX_LEASE_US)
        return NS_ERR_INVALID_ARG;
    struct obj_create c;
    if ((e = obj_create_decode(self, bank, dst, &c)) != NS_OK)
        return e;
    struct pin_account_obj *a;
    e = obj_create_alloc(&c, &account_cache, NS_CAP_PIN_ACCOUNT, (void **)&a);
    if (e != NS_OK)
        return e;
    uint64_t lease = (uint64_t)((unsigned __int128)lease_us * timebase_hz / 1000000);
    pin_account_init(&a->ledger, (uint32_t)pins, lease ? lease : 1);
    a->closed = false;
    a->next = accounts;
    accounts = a;
    obj_create_install(&c, a, NS_RIGHT_READ | NS_RIGHT_WRITE);
    return NS_OK;
}

enum ns_error sys_frame_pin(struct thread *self, uint64_t account, uint64_t bank, uint64_t dst)
{
    struct cap_slot *ac;
    enum ns_error e = obj_lookup(self, account, NS_CAP_PIN_ACCOUNT, NS_RIGHT_WRITE, &ac);
    if (e != NS_OK)
        return e;
    struct pin_account_obj *a = (struct pin_account_obj *)ac->obj;
    if (a->ledger.held >= a->ledger.limit)
        return NS_ERR_NO_QUOTA; /* decided before anything is made */
    struct obj_create c;
    if ((e = obj_create_decode(self, bank, dst, &c)) != NS_OK)
        return e;
    struct frame_obj *f;
    if ((e = frame_create(&c, &f)) != NS_OK)
        return e;
    if (pin_take(&a->ledger, &f->pin, f->pa, timer_now()) != PIN_OK) {
        frame_create_abort(&c, f); /* cannot happen: checked above */
        return NS_ERR_NO_QUOTA;
    }
    f->pin_account = a;
    obj_create_install(&c, f, NS_RIGHT_READ | NS_RIGHT_WRITE);
    return NS_OK;
}

/* The frame in slot `frame` (pinned or not: the callers tell). */
static enum ns_error frame_lookup(struct thread *self, uint64_t frame, uint32_t rights,
                                  struct frame_obj **out)
{
    struct cap_slot *fc;
    enum ns_error e = obj_lookup(self, frame, NS_CAP_FRAME, rights, &fc);
    if (e != NS_OK)
        return e;
    *out = (struct frame_obj *)fc->obj;
    return NS_OK;
}

enum ns_error sys_frame_info(struct thread *self, uint64_t frame, uint64_t *pa)
{
    struct frame_obj *f;
    enum ns_error e = frame_lookup(self, frame, 0, &f);
    if (e != NS_OK)
        return e;
    if (!f->pin_account)
        return NS_ERR_NO_RIGHTS; /* an ordinary frame's address is nobody's business */
    uint8_t was = f->pin.state;
    if (pin_use(&f->pin, timer_now()) != PIN_OK) {
        if (was == PIN_LIVE) /* this call found the lease over */
            revoke(&f->pin, NULL);
        return NS_ERR_TIMEOUT;
    }
    *pa = f->pa;
    return NS_OK;
}

enum ns_error sys_frame_unpin(struct thread *self, uint64_t frame)
{
    struct frame_obj *f;
    enum ns_error e = frame_lookup(self, frame, NS_RIGHT_WRITE, &f);
    if (e != NS_OK)
        return e;
    if (!f->pin_account)
        return NS_ERR_BAD_STATE;
    switch (pin_release(&f->pin)) {
    case PIN_OK:
        f->pin_account = NULL;
        return NS_OK;
    case PIN_ERR_EXPIRED:
        return NS_ERR_TIMEOUT;
    default:
        return NS_ERR_BAD_STATE;
    }
}
