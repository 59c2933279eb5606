/*
 * forkpark: a Linux process whose forks outlive it inside a nested group
 * (kernel/src/tests/nesting_linux.rs, docs/nesting.md "Linux processes
 * in the tree").
 *
 * The kernel test makes this process's SMACH a group's root (a
 * sub-scheduling policy) before it runs; it forks three spinning
 * children, which join its group: one holds the group's turn, two are
 * parked; each writes a byte to /tmp/forkpark.<i> every 100,000 spins.
 * Then it sleeps 200 ms and exits, and its forks become roots of their
 * own: each must go on running (the test watches their files grow, and
 * the scheduler's self-check). Exit status: the number of failed
 * forks.
 */
#define TEST_NAME "forkpark"
#include "linux_test.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

#define FORKS 3

int main(void)
{
    for (int i = 0; i < FORKS; i++) {
        long pid = raw(SYS_fork);
        if (pid == 0) {
            /* Its progress, for the test: a byte to /tmp/forkpark.<i>
             * every 100,000 spins. */
            char name[] = "/tmp/forkpark.0";
            name[sizeof name - 2] = (char)('0' + i);
            long fd = raw(SYS_open, (long)name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
            for (;;) {
                for (volatile unsigned long n = 0; n < 100000; n++)
                    ;
                raw(SYS_write, fd, (long)"x", 1);
            }
        }
        CHECK(pid > 0, "fork %d gave %ld", i, pid);
    }
    struct timespec nap = {0, 200 * 1000 * 1000};
    EXPECT(raw(SYS_nanosleep, (long)&nap, 0), 0);
    fflush(stdout);
    return failures;
}
