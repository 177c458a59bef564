newsys_program(disk ${NEWSYS_PROGRAM_DIR}/disk.c ${NEWSYS_PROGRAM_DIR}/disk_table.c)
