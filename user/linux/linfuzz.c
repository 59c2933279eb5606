/*
 * linfuzz: a hostile static Linux x86-64 program (glibc, `gcc -static`)
 * for issue 12's acceptance check 4: bad pointers and odd values to every
 * Linux call number. The xtask packs it into the initrd as /bin/linfuzz;
 * kernel/src/tests/linux_fuzz.rs runs it and checks the kernel carries on
 * and leaks nothing.
 *
 * usage: linfuzz SEED CALLS
 *
 * Each call takes a number from 0..=470 (a few past Linux's last) and six
 * arguments from two pools: addresses no user program may touch (NULL,
 * page 1, unmapped user pages, a hole made by munmap, non-canonical and
 * kernel-half addresses) and integers (0, 1, -1, a live file descriptor,
 * a closed one, page sizes, huge values). Most calls aim at live objects:
 * the first argument is, half of the time, the live file descriptor.
 * No argument is ever a pointer to readable or writable memory of this
 * program, so no call can change its memory; the calls that change the
 * process itself in ways a fuzzer cannot survive by design (exit, exec,
 * fork, signals to itself, memory maps, its TLS base, seccomp) are left
 * out, as are the ones that may block forever without a readable
 * pointer (poll with no descriptors, pause).
 *
 * Every result must be a value or a -errno in 1..=4095, and the program
 * must live: a kernel that answers a bad pointer with SIGSEGV instead of
 * EFAULT kills it (the kernel's test sees the status). Exit 0 when every
 * call answered; 1 if a result was out of range (each printed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define TEST_NAME "linfuzz"
#include "linux_test.h"


/* xorshift64*: the same calls for the same seed. */
static uint64_t state;
static uint64_t next(void)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
}

/* Calls this program cannot survive by design, or that may block forever. */
static int is_left_out(long n)
{
    switch (n) {
    case SYS_mmap: case SYS_mprotect: case SYS_munmap: case SYS_brk:
    case SYS_rt_sigreturn: case SYS_mremap: case SYS_madvise:
    case SYS_shmat: case SYS_pause: case SYS_alarm: case SYS_setitimer:
    case SYS_clone: case SYS_fork: case SYS_vfork: case SYS_execve:
    case SYS_exit: case SYS_kill: case SYS_prctl: case SYS_arch_prctl:
    case SYS_tkill: case SYS_exit_group: case SYS_tgkill:
    case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo:
    case SYS_rt_sigsuspend: case SYS_execveat: case SYS_seccomp:
    case SYS_clone3: case SYS_poll: case SYS_ppoll: case SYS_select:
    case SYS_pselect6: case SYS_epoll_wait: case SYS_epoll_pwait:
    case SYS_epoll_pwait2: case SYS_dup2: case SYS_dup3:
    case SYS_close_range: case SYS_pkey_mprotect: case SYS_remap_file_pages:
    case SYS_mlockall: case SYS_munlockall: case SYS_setrlimit:
    case SYS_prlimit64: case SYS_sigaltstack: case SYS_rt_sigaction:
    case SYS_rt_sigprocmask: case SYS_set_tid_address:
    case SYS_set_robust_list: case SYS_rseq: case SYS_unshare:
    case SYS_setsid: case SYS_setpgid: case SYS_pidfd_send_signal:
    case SYS_wait4: case SYS_waitid: case SYS_reboot:
        return 1;
    default:
        return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        printf("usage: linfuzz SEED CALLS\n");
        return 2;
    }
    state = strtoull(argv[1], 0, 0) | 1;
    long calls = strtol(argv[2], 0, 0);

    /* A live file and a hole in the address map. */
    int live = open("/tmp/linfuzz.file", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (live < 0 || write(live, "synthesis", 9) != 9) {
        printf("linfuzz: cannot make its file\n");
        return 2;
    }
    char *hole = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hole == MAP_FAILED || munmap(hole, 3 * 4096) != 0) {
        printf("linfuzz: cannot make a hole\n");
        return 2;
    }
    const long addresses[] = {
        0, 1, 4096, 0x10000, (long)hole, (long)hole + 4095,
        0x00007ffffffff000L, 0x0000800000000000L, 0x00007fffffffffffL,
        (long)0xffff800000000000UL, (long)0xffffffff80000000UL,
        (long)0xfffffffffffff000UL, -1L,
    };
    const long integers[] = {
        0, 1, 2, -1, live, live + 40, 999, 4096, 0x7fffffff,
        0x80000000L, 1L << 40, 64, 0x40, 0x800,
    };
    const long n_addresses = sizeof addresses / sizeof addresses[0];
    const long n_integers = sizeof integers / sizeof integers[0];

    long bad = 0, answered = 0;
    for (long i = 0; i < calls; i++) {
        long n = (long)(next() % 471);
        if (is_left_out(n))
            continue;
        long a[6];
        for (int k = 0; k < 6; k++) {
            uint64_t r = next();
            a[k] = (r & 1) ? addresses[(r >> 1) % n_addresses]
                           : integers[(r >> 1) % n_integers];
        }
        /* Aim at live objects: half the calls get the live descriptor. */
        if (next() & 1)
            a[0] = live;
        /* Never the console's descriptors first (a read would wait for a
         * person at the keyboard). */
        if (a[0] >= 0 && a[0] <= 2)
            a[0] = live + 40;
        long r = raw(n, a[0], a[1], a[2], a[3], a[4], a[5]);
        answered++;
        if (r < 0 && r < -4095) {
            bad++;
            printf("linfuzz: call %ld (%lx, %lx, %lx, %lx, %lx, %lx) = %ld: not a value or -errno\n",
                   n, a[0], a[1], a[2], a[3], a[4], a[5], r);
        }
        /* The live file may have been closed; open it again. */
        if (raw(SYS_lseek, live, 0, SEEK_CUR, 0, 0, 0) == -9 /* EBADF */) {
            int again = open("/tmp/linfuzz.file", O_RDWR | O_CREAT, 0644);
            if (again < 0) {
                printf("linfuzz: cannot open its file again\n");
                return 1;
            }
            if (again != live) {
                if (raw(SYS_dup2, again, live, 0, 0, 0, 0) != live) {
                    printf("linfuzz: cannot put its file back at %d\n", live);
                    return 1;
                }
                close(again);
            }
        }
    }
    close(live);
    unlink("/tmp/linfuzz.file");
    printf("linfuzz: %ld calls answered, %ld out of range\n", answered, bad);
    return bad != 0;
}
