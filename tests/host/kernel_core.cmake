# Host tests of the portable kernel pieces written with the boot path: the
# Sv39 page-table code (behind a fake physical memory) and the command line.
newsys_host_test(test_sv39 test_sv39.c SOURCES ../../kernel/arch/riscv/sv39.c)
newsys_host_test(test_cmdline test_cmdline.c SOURCES ../../kernel/lib/cmdline.c)
# The console UART drivers, on a fake register file.
newsys_host_test(test_uart test_uart.c SOURCES ../../kernel/console/uart_ns16550.c)
# The kernel lock, with host threads playing harts.
newsys_host_test(test_klock test_klock.c SOURCES ../../kernel/core/klock.c LIBS pthread)
