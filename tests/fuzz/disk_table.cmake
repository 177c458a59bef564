# Fuzzer for the disk manager's table parser. Seeds: tests/fuzz/corpus/
# fuzz_disk_table (a flag byte, then superblocks and table copies made by
# mkdisk: empty, a few objects, a fragmented object).
newsys_fuzzer(fuzz_disk_table fuzz_disk_table.c SOURCES ../../managers/disk/disk_table.c)
