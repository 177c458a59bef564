# Object frames, disk-range keys and storage-map walking (frames/), with the
# real capability code.
newsys_host_test(test_storage_map test_storage_map.c SOURCES ../../frames/objframe.c
    ../../frames/diskrange.c ../../frames/storage_map.c ../../kernel/core/kobj.c
    ../../kernel/core/cap.c ../../kernel/core/bank.c)
