newsys_program(fuzz ${NEWSYS_PROGRAM_DIR}/fuzz.c)
