# mkdisk, the host tool for disk-manager images (scripts/mkdisk runs it):
# the same format code as the manager, checked by ASan and UBSan too.
add_executable(mkdisk ${CMAKE_SOURCE_DIR}/managers/disk/mkdisk.c
    ${CMAKE_SOURCE_DIR}/managers/disk/disk_table.c)
target_include_directories(mkdisk PRIVATE ${NEWSYS_PORTABLE_INCLUDES})
target_compile_options(mkdisk PRIVATE -Wall -Wextra -Werror -g -O1
    -fsanitize=address,undefined -fno-sanitize-recover=all)
target_link_options(mkdisk PRIVATE -fsanitize=address,undefined)
set_target_properties(mkdisk PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tools)
