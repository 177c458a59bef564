newsys_program(sort ${NEWSYS_PROGRAM_DIR}/sort.c)
