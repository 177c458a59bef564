/* Page and slab allocation for kernel objects (see kmem.h). */
#include "kernel/core/kmem.h"

#include <string.h>

#include "frames/frame_alloc.h"
#include "kernel/arch/riscv/vm.h"

static struct frame_allocator *frames;

void kmem_init(struct frame_allocator *fa)
{
    frames = fa;
}
struct frame_allocator *kmem_frames(void)
{
    return frames;
}

void *kmem_page_alloc_dirty(uint64_t *pa)
{
    uint64_t p;
    if (frame_alloc(frames, &p) != FRAME_OK)
        return NULL;
    if (pa)
        *pa = p;
    return pa_to_va(p);
}

void *kmem_page_alloc(uint64_t *pa)
{
    void *va = kmem_page_alloc_dirty(pa);
    if (va)
        memset(va, 0, PAGE_SIZE);
    return va;
}

uint64_t kmem_free_pages(void)
{
    return frame_count_free(frames);
}

uint64_t kmem_total_pages(void)
{
    return frame_count_total(frames);
}

void kmem_page_free(void *va)
{
    frame_free(frames, direct_va_to_pa(va));
}

/* A free object's list link lives in its last word, away from the kept
 * header. */
static void **link(struct kcache *c, void *obj)
{
    return (void **)((char *)obj + c->size - 8);
}

bool kcache_grow(struct kcache *c)
{
    char *page = kmem_page_alloc(NULL);
    if (!page)
        return false;
    c->pages++;
    for (size_t off = 0; off + c->size <= PAGE_SIZE; off += c->size) {
        *link(c, page + off) = c->free_list;
        c->free_list = page + off;
    }
    return true;
}

void *kcache_alloc(struct kcache *c)
{
    char *obj = kcache_alloc_uninit(c);
    /* The first 8 bytes survive reuse: they hold struct kobj's type and
     * generation, which is what makes stale capabilities detectable. */
    if (obj)
        memset(obj + KCACHE_KEEP, 0, c->size - KCACHE_KEEP);
    return obj;
}

void kcache_free(struct kcache *c, void *obj)
{
    *link(c, obj) = c->free_list;
    c->free_list = obj;
    c->allocated--;
}
