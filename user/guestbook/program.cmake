newsys_program(guestbook ${NEWSYS_PROGRAM_DIR}/guestbook.c ${CMAKE_SOURCE_DIR}/managers/disk/disk_table.c)
