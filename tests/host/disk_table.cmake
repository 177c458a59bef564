# The disk manager's on-disk format (managers/disk/disk_table.c).
newsys_host_test(test_disk_table test_disk_table.c SOURCES ../../managers/disk/disk_table.c)
