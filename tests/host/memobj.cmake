# Memory objects: the ordered mapping structure of an address space.
newsys_host_test(test_map_tree test_map_tree.c SOURCES ../../memobj/map_tree.c)
# memobj.c itself (faults, requests, supply, length, accounting): the real
# module with the real mapping tree, page cache, IPC and capability code,
# behind the fake kernel of fake_kernel.c.
newsys_host_test(test_memobj test_memobj.c SOURCES fake_kernel.c ../../memobj/memobj.c
    ../../memobj/clock.c
    ../../memobj/map_tree.c ../../memobj/page_cache.c ../../kernel/core/ipc.c
    ../../kernel/core/notification.c ../../kernel/core/object.c ../../kernel/core/kobj.c
    ../../kernel/core/cap.c ../../kernel/core/bank.c ../../frames/storage_map.c
    ../../frames/diskrange.c ../../frames/objframe.c ../../virtio-blk/blk.c)
# The page clock (second chance) over real page-cache records.
newsys_host_test(test_clock test_clock.c SOURCES ../../memobj/clock.c)
