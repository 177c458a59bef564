newsys_program(init ${NEWSYS_PROGRAM_DIR}/init.c ${NEWSYS_PROGRAM_DIR}/gpt.c
    ${CMAKE_SOURCE_DIR}/managers/disk/disk_table.c)
