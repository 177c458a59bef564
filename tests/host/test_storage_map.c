/* Host tests for frames/objframe.c, frames/diskrange.c and
 * frames/storage_map.c, with the real capability code (cap.c, kobj.c,
 * bank.c): object-frame slot operations, disk-range key derivation (never
 * wider, never more rights, revocable), and the storage-map walk with
 * every way a manager can get a map wrong - holes, wrong types, frames at
 * level 0, revoked or short keys, missing rights, self-referencing frames.
 * Frames and disks are static objects here; the kernel allocates them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "frames/diskrange.h"
#include "frames/objframe.h"
#include "frames/storage_map.h"
#include "kernel/core/cap.h"
#include "kernel/core/kobj.h"

#define NFRAMES 8
#define NSLOTS  16

static struct objframe frames[NFRAMES];
static struct disk disks[2];
static struct cap_slot slots[NSLOTS]; /* a capability space of the test's */
static struct cspace cs;
static struct kobj endpoint;

static void frame_destroy(struct kobj *o)
{
    objframe_clear_all((struct objframe *)o);
    kobj_kill(o);
}

static void plain_destroy(struct kobj *o)
{
    kobj_kill(o);
}

static int setup(void **state)
{
    (void)state;
    static const struct kobj_type_ops fops = {.destroy = frame_destroy};
    static const struct kobj_type_ops pops = {.destroy = plain_destroy};
    kobj_register_type(NS_CAP_OBJFRAME, &fops);
    kobj_register_type(NS_CAP_DISKRANGE, &pops);
    kobj_register_type(NS_CAP_ENDPOINT, &pops);
    memset(frames, 0, sizeof(frames));
    memset(disks, 0, sizeof(disks));
    cspace_init(&cs, slots, NSLOTS);
    for (unsigned i = 0; i < NFRAMES; i++) {
        kobj_init(&frames[i].obj, NS_CAP_OBJFRAME);
        objframe_init(&frames[i]);
    }
    for (unsigned i = 0; i < 2; i++) {
        kobj_init(&disks[i].obj, NS_CAP_DISKRANGE);
        disks[i].sectors = 1u << 20; /* 512 MiB */
        disks[i].index = i;
    }
    kobj_init(&endpoint, NS_CAP_ENDPOINT);
    return 0;
}

/* Slot 0: a read-write key to all of disk 0; slots 1..: capabilities to
 * frames 0.. (the test's own, as a manager holds them). */
static void give_keys_and_frames(void)
{
    diskrange_install(&slots[0], &disks[0], NS_RIGHT_READ | NS_RIGHT_WRITE);
    for (unsigned i = 0; i < 4; i++)
        cap_install(&slots[1 + i], &frames[i].obj, NS_RIGHTS_ALL, 0);
}

/* ---- keys ---- */

static void test_key_derive_narrows(void **state)
{
    (void)state;
    give_keys_and_frames();
    assert_int_equal(slots[0].badge, 0);
    assert_int_equal(slots[0].extent, 1u << 20);
    assert_int_equal(diskrange_derive(&slots[0], &slots[8], 100, 50, NS_RIGHT_READ), NS_OK);
    assert_int_equal(slots[8].badge, 100);
    assert_int_equal(slots[8].extent, 50);
    assert_int_equal(slots[8].rights, NS_RIGHT_READ);
    /* From the sub-range: offsets are relative to it, never past it. */
    assert_int_equal(diskrange_derive(&slots[8], &slots[9], 10, 40, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(slots[9].badge, 110);
    assert_int_equal(slots[9].rights, NS_RIGHT_READ); /* no right comes back */
    assert_int_equal(diskrange_derive(&slots[8], &slots[10], 10, 41, NS_RIGHT_READ),
                     NS_ERR_RANGE);
    assert_int_equal(diskrange_derive(&slots[8], &slots[10], 51, 1, NS_RIGHT_READ), NS_ERR_RANGE);
    assert_int_equal(diskrange_derive(&slots[8], &slots[10], UINT64_MAX, 2, NS_RIGHT_READ),
                     NS_ERR_RANGE);
    assert_int_equal(diskrange_derive(&slots[8], &slots[10], 0, 0, NS_RIGHT_READ),
                     NS_ERR_INVALID_ARG);
    assert_int_equal(diskrange_derive(&slots[8], &slots[9], 0, 1, NS_RIGHT_READ),
                     NS_ERR_SLOT_OCCUPIED);
    assert_int_equal(diskrange_derive(&slots[1], &slots[10], 0, 1, NS_RIGHT_READ),
                     NS_ERR_WRONG_TYPE);
    assert_int_equal(diskrange_derive(&slots[11], &slots[10], 0, 1, NS_RIGHT_READ),
                     NS_ERR_EMPTY_SLOT);
    /* A badge cannot be minted onto a key (it is the key's first sector). */
    assert_int_equal(cap_mint(&cs, 8, &cs, 10, NS_RIGHTS_ALL, 7), NS_ERR_INVALID_ARG);
    /* A plain copy keeps the range. */
    assert_int_equal(cap_copy(&cs, 8, &cs, 10, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(slots[10].badge, 100);
    assert_int_equal(slots[10].extent, 50);
}

static void test_key_check(void **state)
{
    (void)state;
    struct disk *d;
    uint64_t sector;
    give_keys_and_frames();
    assert_int_equal(diskrange_derive(&slots[0], &slots[8], 64, 16, NS_RIGHT_READ), NS_OK);
    assert_int_equal(diskrange_check(&slots[8], NS_RIGHT_READ, 8, 8, &d, &sector), NS_OK);
    assert_ptr_equal(d, &disks[0]);
    assert_int_equal(sector, 72);
    assert_int_equal(diskrange_check(&slots[8], NS_RIGHT_WRITE, 0, 8, &d, &sector),
                     NS_ERR_NO_RIGHTS);
    assert_int_equal(diskrange_check(&slots[8], NS_RIGHT_READ, 9, 8, &d, &sector), NS_ERR_RANGE);
    assert_int_equal(diskrange_check(&slots[1], NS_RIGHT_READ, 0, 8, &d, &sector),
                     NS_ERR_WRONG_TYPE);
    /* A key the device cannot hold (a corrupted one) is refused too. */
    slots[8].extent = 1u << 21;
    assert_int_equal(diskrange_check(&slots[8], NS_RIGHT_READ, 0, 8, &d, &sector), NS_ERR_RANGE);
}

static void test_key_revoke_reaches_frames(void **state)
{
    (void)state;
    give_keys_and_frames();
    assert_int_equal(diskrange_derive(&slots[0], &slots[8], 0, 1024, NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(objframe_store(&frames[0], 3, &slots[8], NS_RIGHT_READ), NS_OK);
    assert_int_equal(frames[0].slot[3].type, NS_CAP_DISKRANGE);
    assert_int_equal(frames[0].slot[3].rights, NS_RIGHT_READ);
    assert_int_equal(frames[0].slot[3].extent, 1024);
    /* Revoking the manager's key revokes the copy the map holds. */
    assert_int_equal(cap_revoke(&cs, 0), NS_OK);
    struct disk *d;
    uint64_t sector;
    assert_int_not_equal(diskrange_check(&frames[0].slot[3], NS_RIGHT_READ, 0, 8, &d, &sector),
                         NS_OK);
}

/* ---- object frames ---- */

static void test_objframe_slots(void **state)
{
    (void)state;
    give_keys_and_frames();
    cap_install(&slots[6], &endpoint, NS_RIGHTS_ALL, 0);
    assert_int_equal(objframe_store(&frames[0], 0, &slots[6], NS_RIGHT_WRITE), NS_OK);
    assert_int_equal(objframe_store(&frames[0], 0, &slots[6], NS_RIGHTS_ALL),
                     NS_ERR_SLOT_OCCUPIED);
    assert_int_equal(objframe_store(&frames[0], 16, &slots[6], NS_RIGHTS_ALL),
                     NS_ERR_INVALID_ARG);
    assert_int_equal(objframe_store(&frames[0], 1, &slots[12], NS_RIGHTS_ALL),
                     NS_ERR_EMPTY_SLOT);
    assert_int_equal(objframe_store(&frames[0], 1, &slots[6], 1u << 9), NS_ERR_INVALID_ARG);
    assert_int_equal(objframe_load(&frames[0], 0, &slots[12], NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(slots[12].type, NS_CAP_ENDPOINT);
    assert_int_equal(slots[12].rights, NS_RIGHT_WRITE); /* as stored */
    assert_int_equal(objframe_load(&frames[0], 0, &slots[12], NS_RIGHTS_ALL),
                     NS_ERR_SLOT_OCCUPIED);
    assert_int_equal(objframe_load(&frames[0], 2, &slots[13], NS_RIGHTS_ALL), NS_ERR_EMPTY_SLOT);
    assert_int_equal(endpoint.caps, 3);
    assert_int_equal(objframe_clear(&frames[0], 0), NS_OK);
    assert_int_equal(objframe_clear(&frames[0], 0), NS_OK); /* already empty */
    assert_int_equal(objframe_clear(&frames[0], 99), NS_ERR_INVALID_ARG);
    assert_int_equal(endpoint.caps, 2);
    /* A revoked capability is not stored, and a stale one in a slot makes
     * room when overwritten. */
    assert_int_equal(objframe_store(&frames[1], 5, &slots[6], NS_RIGHTS_ALL), NS_OK);
    kobj_kill(&endpoint);
    assert_int_equal(objframe_store(&frames[1], 6, &slots[6], NS_RIGHTS_ALL), NS_ERR_REVOKED);
    assert_int_equal(objframe_load(&frames[1], 5, &slots[13], NS_RIGHTS_ALL), NS_ERR_REVOKED);
    assert_int_equal(objframe_store(&frames[1], 5, &slots[0], NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(frames[1].slot[5].type, NS_CAP_DISKRANGE);
}

/* ---- the walk ---- */

/* Store into frame f slot i a key for `sectors` sectors at `first` of
 * disk 0, with `rights`. */
static void put_key(struct objframe *f, unsigned i, uint64_t first, uint64_t sectors,
                    uint32_t rights)
{
    struct cap_slot tmp = {0};
    assert_int_equal(diskrange_derive(&slots[0], &tmp, first, sectors, rights), NS_OK);
    assert_int_equal(objframe_store(f, i, &tmp, NS_RIGHTS_ALL), NS_OK);
    cap_slot_delete(&tmp);
}

static void put_frame(struct objframe *f, unsigned i, struct objframe *sub)
{
    struct cap_slot tmp = {0};
    cap_install(&tmp, &sub->obj, NS_RIGHTS_ALL, 0);
    assert_int_equal(objframe_store(f, i, &tmp, NS_RIGHTS_ALL), NS_OK);
    cap_slot_delete(&tmp);
}

static void test_walk_contiguous_one_frame(void **state)
{
    (void)state;
    struct smap_where w;
    give_keys_and_frames();
    /* Height 1: 16 pages, one key per page, at sectors 1000 + 8k. */
    for (unsigned i = 0; i < 16; i++)
        put_key(&frames[0], i, 1000 + 8 * i, 8, NS_RIGHT_READ);
    for (uint64_t p = 0; p < 16; p++) {
        assert_int_equal(smap_resolve(&frames[0], 1, p, NS_RIGHT_READ, &w), SMAP_MAPPED);
        assert_ptr_equal(w.disk, &disks[0]);
        assert_int_equal(w.sector, 1000 + 8 * p);
        assert_int_equal(w.run, 1);
    }
    assert_int_equal(smap_resolve(&frames[0], 1, 16, NS_RIGHT_READ, &w), SMAP_HOLE);
    assert_int_equal(smap_resolve(&frames[0], 1, 3, NS_RIGHT_WRITE, &w), SMAP_BAD);
    assert_int_equal(w.why, NS_ERR_NO_RIGHTS);
    /* Height 2 with one key in slot 1 covering pages 16-31 at sector 5000. */
    put_key(&frames[1], 1, 5000, 16 * 8, NS_RIGHT_READ | NS_RIGHT_WRITE);
    assert_int_equal(smap_resolve(&frames[1], 2, 20, NS_RIGHT_WRITE, &w), SMAP_MAPPED);
    assert_int_equal(w.sector, 5000 + 4 * 8);
    assert_int_equal(w.run, 12);
    assert_int_equal(w.level, 1);
    assert_int_equal(smap_resolve(&frames[1], 2, 3, NS_RIGHT_READ, &w), SMAP_HOLE);
}

static void test_walk_tree(void **state)
{
    (void)state;
    struct smap_where w;
    give_keys_and_frames();
    /* Height 3 (4096 pages): root slot 2 -> frame 1, whose slot 5 -> frame 2
     * (level 0), whose slot 9 holds a one-page key. */
    put_frame(&frames[0], 2, &frames[1]);
    put_frame(&frames[1], 5, &frames[2]);
    put_key(&frames[2], 9, 777, 8, NS_RIGHT_READ);
    uint64_t page = 2 * 256 + 5 * 16 + 9;
    assert_int_equal(smap_resolve(&frames[0], 3, page, NS_RIGHT_READ, &w), SMAP_MAPPED);
    assert_int_equal(w.sector, 777);
    assert_int_equal(w.level, 0);
    assert_int_equal(smap_resolve(&frames[0], 3, page + 1, NS_RIGHT_READ, &w), SMAP_HOLE);
    assert_int_equal(smap_resolve(&frames[0], 3, 4096, NS_RIGHT_READ, &w), SMAP_HOLE);
    assert_int_equal(smap_resolve(NULL, 3, 0, NS_RIGHT_READ, &w), SMAP_HOLE);
    assert_int_equal(smap_resolve(&frames[0], 0, 0, NS_RIGHT_READ, &w), SMAP_HOLE);
    assert_int_equal(smap_resolve(&frames[0], SMAP_MAX_HEIGHT + 1, 0, NS_RIGHT_READ, &w),
                     SMAP_HOLE);
}

static void test_walk_bad_maps(void **state)
{
    (void)state;
    struct smap_where w;
    give_keys_and_frames();
    cap_install(&slots[6], &endpoint, NS_RIGHTS_ALL, 0);
    /* A capability of another type. */
    assert_int_equal(objframe_store(&frames[0], 0, &slots[6], NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(smap_resolve(&frames[0], 1, 0, NS_RIGHT_READ, &w), SMAP_BAD);
    assert_int_equal(w.why, NS_ERR_WRONG_TYPE);
    /* A frame at level 0 (and a frame holding itself: bounded by height). */
    put_frame(&frames[0], 1, &frames[0]);
    assert_int_equal(smap_resolve(&frames[0], 1, 1, NS_RIGHT_READ, &w), SMAP_BAD);
    assert_int_equal(w.why, NS_ERR_WRONG_TYPE);
    assert_int_equal(smap_resolve(&frames[0], 4, 16 * 16 * 16 * 1 + 16 * 16 + 16 + 1,
                                  NS_RIGHT_READ, &w),
                     SMAP_BAD);
    /* A key shorter than its slot's span. */
    put_key(&frames[1], 0, 0, 15 * 8, NS_RIGHT_READ);
    assert_int_equal(smap_resolve(&frames[1], 2, 0, NS_RIGHT_READ, &w), SMAP_BAD);
    assert_int_equal(w.why, NS_ERR_RANGE);
    /* A revoked key: the manager's own key is revoked after building. */
    assert_int_equal(diskrange_derive(&slots[0], &slots[8], 0, 8, NS_RIGHT_READ), NS_OK);
    assert_int_equal(objframe_store(&frames[2], 0, &slots[8], NS_RIGHTS_ALL), NS_OK);
    assert_int_equal(smap_resolve(&frames[2], 1, 0, NS_RIGHT_READ, &w), SMAP_MAPPED);
    assert_int_equal(cap_revoke(&cs, 8), NS_OK);
    assert_int_not_equal(smap_resolve(&frames[2], 1, 0, NS_RIGHT_READ, &w), SMAP_MAPPED);
    /* A sub-frame that was destroyed. */
    put_frame(&frames[3], 0, &frames[1]);
    kobj_kill(&frames[1].obj);
    assert_int_equal(smap_resolve(&frames[3], 2, 0, NS_RIGHT_READ, &w), SMAP_BAD);
    assert_int_equal(w.why, NS_ERR_REVOKED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_key_derive_narrows, setup),
        cmocka_unit_test_setup(test_key_check, setup),
        cmocka_unit_test_setup(test_key_revoke_reaches_frames, setup),
        cmocka_unit_test_setup(test_objframe_slots, setup),
        cmocka_unit_test_setup(test_walk_contiguous_one_frame, setup),
        cmocka_unit_test_setup(test_walk_tree, setup),
        cmocka_unit_test_setup(test_walk_bad_maps, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
