/*
 * nestlin: a Linux program under a nesting parent's budget (user/nest
 * mode 9, kernel/src/tests/nesting_linux.rs, docs/nesting.md).
 *
 * Its parent gave it a budget of twice its program plus 256 frames: an
 * 8 MiB anonymous mmap and an 8 MiB brk must fail (ENOMEM; brk keeps the
 * old break), a 16 KiB mmap must work, and the program goes on: it forks
 * once (the copy fits the budget), and both processes spin until the
 * test kills the nesting parent. Any failed check: exit status = count.
 */
#define TEST_NAME "nestlin"
#include "linux_test.h"
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define BIG (8L << 20)

static void spin(void)
{
    volatile unsigned long n = 0;
    for (;;)
        n++;
}

int main(void)
{
    long big = raw(SYS_mmap, 0, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(big == -ENOMEM, "8 MiB mmap over the budget gave %ld", big);
    long old = raw(SYS_brk, 0);
    long moved = raw(SYS_brk, old + BIG);
    CHECK(moved == old, "8 MiB brk over the budget moved the break to %#lx from %#lx", moved, old);
    long small = raw(SYS_mmap, 0, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(small > 0, "16 KiB mmap within the budget gave %ld", small);
    if (small > 0) {
        ((volatile char *)small)[0] = 1;
        EXPECT(raw(SYS_munmap, small, 16384), 0);
    }
    if (failures) {
        fflush(stdout);
        return failures;
    }
    long pid = raw(SYS_fork);
    CHECK(pid >= 0, "fork within the budget gave %ld", pid);
    if (failures) {
        fflush(stdout);
        return failures;
    }
    spin();
    return 0;
}
