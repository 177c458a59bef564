/* The first user program. The boot foundation only checks that it is a
 * loadable RISC-V executable; it starts running with the core issue. */
int main(void);

int main(void)
{
    for (;;)
        ;
}
