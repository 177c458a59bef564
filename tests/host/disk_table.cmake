# The disk manager's on-disk format (managers/disk/disk_table.c).
newsys_host_test(test_disk_table test_disk_table.c SOURCES ../../managers/disk/disk_table.c)
# The mkdisk host tool, end to end on image files.
add_test(NAME test_mkdisk COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_mkdisk.py
    $<TARGET_FILE:mkdisk> ${CMAKE_CURRENT_BINARY_DIR}/mkdisk-work)
