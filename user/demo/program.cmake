newsys_program(demo ${NEWSYS_PROGRAM_DIR}/demo.c)
