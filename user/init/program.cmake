newsys_program(init ${NEWSYS_PROGRAM_DIR}/init.c)
