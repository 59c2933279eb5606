/*
 * nestlin: a Linux program under a nesting parent's budget (user/nest
 * mode 9, kernel/src/tests/nesting_linux.rs, docs/nesting.md).
 *
 * Its parent gave it a budget of twice its program plus 256 frames: an
 * 8 MiB anonymous mmap and an 8 MiB brk must fail (ENOMEM; brk keeps the
 * old break), a 16 KiB mmap must work, and the program goes on: it forks
 * once (the copy fits the budget), and both processes spin until the
 * test kills the nesting parent. Before the fork it grows a file until
 * the budget refuses (EDQUOT for write and pwrite), then unlinks it.
 * Any failed check: exit status = count.
 */
#define TEST_NAME "nestlin"
#include "linux_test.h"
#include <errno.h>
#include <sys/mman.h>
#include <fcntl.h>
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
    /* A file it makes is charged to its budget too: writes grow it
     * until the budget says EDQUOT (never ENOMEM, a mapping's word), a
     * pwrite further out too; unlinked, the charge is back for the fork. */
    long fd = raw(SYS_open, (long)"/tmp/nestlin-quota", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0, "create /tmp/nestlin-quota: %ld", fd);
    if (fd >= 0) {
        static char chunk[65536];
        long wrote = 0, last = 0;
        while (wrote < BIG * 2) {
            last = raw(SYS_write, fd, (long)chunk, sizeof chunk);
            if (last <= 0)
                break;
            wrote += last;
        }
        CHECK(last == -EDQUOT || (last > 0 && last < (long)sizeof chunk),
              "writing a file past the budget: last write %ld after %ld bytes", last, wrote);
        CHECK(wrote > 0 && wrote < BIG, "the budget let the file grow to %ld bytes", wrote);
        long far = raw(SYS_pwrite64, fd, (long)chunk, 1, wrote + BIG);
        CHECK(far == -EDQUOT, "pwrite past the budget gave %ld", far);
        EXPECT(raw(SYS_close, fd), 0);
        EXPECT(raw(SYS_unlink, (long)"/tmp/nestlin-quota"), 0);
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
