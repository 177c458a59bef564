/* Kernel memory for kernel objects.
 *
 * Pages come from the frame allocator through the direct map. Objects of
 * one type come from a kcache: a simple slab whose pages are never given
 * back, so object memory is type-stable - a stale capability holding a
 * pointer to a destroyed object still points at an object of the same
 * type, whose generation tells it is not the one it named (kobj.h).
 * Accounting to space banks is done by the callers, in bytes. */
#ifndef NEWSYS_CORE_KMEM_H
#define NEWSYS_CORE_KMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame_allocator;

void kmem_init(struct frame_allocator *fa);
struct frame_allocator *kmem_frames(void);

/* A zeroed page: its kernel address, and its physical address in *pa. */
void *kmem_page_alloc(uint64_t *pa);
/* The same without zeroing, for a caller about to overwrite all of it. */
void *kmem_page_alloc_dirty(uint64_t *pa);
void kmem_page_free(void *va);
/* Page frames free now (memory pressure, memobj/clock.c). */
uint64_t kmem_free_pages(void);
uint64_t kmem_total_pages(void);

struct kcache {
    const char *name;
    size_t size;     /* object size, rounded up to 16 */
    void *free_list; /* objects linked through their first word */
    uint64_t pages, allocated;
};

/* Bytes at the start of an object that kcache_alloc does not clear. */
#define KCACHE_KEEP 8
#define KCACHE_INIT(n, type)                                                                       \
    {                                                                                              \
        .name = (n), .size = (sizeof(type) + 15) & ~(size_t)15                                     \
    }
/* The free-list link sits in an object's last word, clear of the kept
 * header, which needs objects of at least 16 bytes. */

/* An object zeroed except for its first KCACHE_KEEP bytes (fresh pages are
 * all zero), or NULL when out of memory. */
void *kcache_alloc(struct kcache *c);
void kcache_free(struct kcache *c, void *obj);
/* Refill an empty cache with a fresh page of objects; false when out of
 * memory. */
bool kcache_grow(struct kcache *c);

/* The same, not cleared: for records whose every field the caller sets
 * (page-cache records, reverse-map entries, mapping nodes, requests). The
 * fault path allocates several of these, so the pop is inline. */
static inline void *kcache_alloc_uninit(struct kcache *c)
{
    if (!c->free_list && !kcache_grow(c))
        return NULL;
    void *obj = c->free_list;
    /* The free-list link is the object's last word. */
    c->free_list = *(void **)((char *)obj + c->size - sizeof(void *));
    c->allocated++;
    return obj;
}

#endif
