# init's GUID-partition-table reader (user/init/gpt.c).
newsys_host_test(test_gpt test_gpt.c SOURCES ../../user/init/gpt.c
    ../../managers/disk/disk_table.c)
