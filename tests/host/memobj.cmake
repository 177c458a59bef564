# Memory objects: the ordered mapping structure of an address space.
newsys_host_test(test_map_tree test_map_tree.c SOURCES ../../memobj/map_tree.c)
