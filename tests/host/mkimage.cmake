# scripts/mkimage: the SD-card image of every board, read back on the host
# (needs the RISC-V build's kernel, initrd and trees, which `all` makes).
add_test(NAME test_mkimage COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_mkimage.py
    ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/mkimage-work)
set_tests_properties(test_mkimage PROPERTIES TIMEOUT 120)
