# gdb settings for NewSys (loaded by scripts/gdb).
set architecture riscv:rv64
set confirm off
set pagination off
# The early boot code runs at its physical address before paging, where
# these symbols do not apply; kmain is the first place they do.
break kmain
break panic
break panic_trap
