/*
 * lintest: a static Linux x86-64 program (glibc, `gcc -static`) for the
 * Linux personality's phase 1 (docs/unix.md). The xtask builds it and
 * packs it into the initrd as /bin/lintest; kernel/src/tests/linux.rs runs
 * it. Unmodified glibc start-up (brk, arch_prctl, set_tid_address, ...)
 * runs first; then each call of phase 1 and its error paths. Raw calls go
 * through `raw()` (inline `syscall`, no errno) so a failing call shows its
 * -errno exactly as the kernel returned it.
 *
 * argv[1] picks the mode:
 *   (none)   every check; exit 0 if all pass, else the number of failures.
 *   exit N   exit_group(N) at once (the status reaches the parent).
 *   fs M     own FS base with marker M, 300 sched_yields, the marker
 *            checked through %fs after each (exit 0, or 1 on a mismatch).
 *   kwrite   store to a kernel address (must be killed, the kernel lives).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <time.h>

#define TEST_NAME "lintest"
#include "linux_test.h"





#define KERNEL_ADDRESS 0xffffffff80000000L
#define NONCANONICAL 0x0000800000000000L
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ENOSYS_ 38
#define EFAULT_ 14
#define EBADF_ 9
#define EPERM_ 1
#define ENOENT_ 2
#define EINVAL_ 22
#define ENOTTY_ 25
#define ESPIPE_ 29

/* Registers after a `syscall`: the Linux ABI preserves every one but rax,
 * rcx (the return address) and r11 (RFLAGS). */
struct regs {
    long rbx, rbp, r12, r13, r14, r15, rdi, rsi, rdx, r10, r8, r9, rcx, rax;
};

/* Sets every preserved register to a mark, makes call `n`, saves them. */
static void call_with_marks(long n, struct regs *out, long *return_address)
{
    __asm__ volatile(
        "push %%rbx\n push %%rbp\n push %%r12\n push %%r13\n push %%r14\n push %%r15\n"
        "push %0\n"                    /* out */
        "push %1\n"                    /* return_address */
        "mov %2, %%rax\n"
        "mov $0x1111111111111111, %%rbx\n"
        "mov $0x2222222222222222, %%rbp\n"
        "mov $0x3333333333333333, %%r12\n"
        "mov $0x4444444444444444, %%r13\n"
        "mov $0x5555555555555555, %%r14\n"
        "mov $0x6666666666666666, %%r15\n"
        "mov $0x7777777777777777, %%rdi\n"
        "mov $0x0888888888888888, %%rsi\n"
        "mov $0x0999999999999999, %%rdx\n"
        "mov $0x0aaaaaaaaaaaaaaa, %%r10\n"
        "mov $0x0bbbbbbbbbbbbbbb, %%r8\n"
        "mov $0x0ccccccccccccccc, %%r9\n"
        "syscall\n"
        "1:\n"
        "xchg %%rax, 8(%%rsp)\n"        /* rax <- out, result saved */
        "mov %%rbx, 0(%%rax)\n mov %%rbp, 8(%%rax)\n mov %%r12, 16(%%rax)\n"
        "mov %%r13, 24(%%rax)\n mov %%r14, 32(%%rax)\n mov %%r15, 40(%%rax)\n"
        "mov %%rdi, 48(%%rax)\n mov %%rsi, 56(%%rax)\n mov %%rdx, 64(%%rax)\n"
        "mov %%r10, 72(%%rax)\n mov %%r8, 80(%%rax)\n mov %%r9, 88(%%rax)\n"
        "mov %%rcx, 96(%%rax)\n"
        "mov 8(%%rsp), %%rcx\n mov %%rcx, 104(%%rax)\n"
        "pop %%rcx\n"                  /* return_address */
        "lea 1b(%%rip), %%rdx\n mov %%rdx, (%%rcx)\n"
        "add $8, %%rsp\n"
        "pop %%r15\n pop %%r14\n pop %%r13\n pop %%r12\n pop %%rbp\n pop %%rbx\n"
        :
        : "r"(out), "r"(return_address), "r"(n)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
}

static void check_registers(long n, long expect)
{
    struct regs r;
    long at = 0;
    call_with_marks(n, &r, &at);
    CHECK(r.rax == expect, "call %ld: rax %#lx, expected %#lx", n, r.rax, expect);
    CHECK(r.rbx == 0x1111111111111111L && r.rbp == 0x2222222222222222L &&
              r.r12 == 0x3333333333333333L && r.r13 == 0x4444444444444444L &&
              r.r14 == 0x5555555555555555L && r.r15 == 0x6666666666666666L,
          "call %ld: a callee-saved register changed", n);
    CHECK(r.rdi == 0x7777777777777777L && r.rsi == 0x0888888888888888L &&
              r.rdx == 0x0999999999999999L && r.r10 == 0x0aaaaaaaaaaaaaaaL &&
              r.r8 == 0x0bbbbbbbbbbbbbbbL && r.r9 == 0x0cccccccccccccccL,
          "call %ld: an argument register changed (rdi %#lx rsi %#lx rdx %#lx r10 %#lx r8 %#lx r9 %#lx)",
          n, r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9);
    CHECK(r.rcx == at, "call %ld: rcx %#lx, not the return address %#lx", n, r.rcx, at);
}

static int fs_mode(long marker)
{
    static long block[4];
    long glibc_fs = 0;
    int bad = 0;
    block[0] = marker;
    raw(SYS_arch_prctl, ARCH_GET_FS, (long)&glibc_fs, 0, 0, 0, 0);
    /* From here to the restore: raw calls only (glibc's TLS is away). */
    raw(SYS_arch_prctl, ARCH_SET_FS, (long)block, 0, 0, 0, 0);
    for (int i = 0; i < 300; i++) {
        long seen;
        raw(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
        __asm__ volatile("mov %%fs:0, %0" : "=r"(seen));
        if (seen != marker)
            bad = 1;
    }
    raw(SYS_arch_prctl, ARCH_SET_FS, glibc_fs, 0, 0, 0, 0);
    printf("lintest: fs %ld %s\n", marker, bad ? "MISMATCH" : "kept");
    return bad;
}

static void files(void)
{
    char buf[16];
    struct stat st, st2;
    int fd = open("/bin/lintest", O_RDONLY);
    CHECK(fd >= 3, "open /bin/lintest = %d", fd);
    EXPECT(read(fd, buf, 4), 4);
    CHECK(memcmp(buf, "\177ELF", 4) == 0, "not an ELF header");
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 4096, "fstat");
    CHECK(stat("/bin/lintest", &st2) == 0 && st2.st_size == st.st_size, "stat size");
    EXPECT(lseek(fd, 1, SEEK_SET), 1);
    EXPECT(read(fd, buf, 3), 3);
    CHECK(memcmp(buf, "ELF", 3) == 0, "read after lseek");
    EXPECT(raw(SYS_pread64, fd, (long)buf, 4, 0, 0, 0), 4);
    CHECK(memcmp(buf, "\177ELF", 4) == 0, "pread");
    EXPECT(lseek(fd, 0, SEEK_CUR), 4);
    EXPECT(raw(SYS_lseek, fd, 0, 7, 0, 0, 0), -EINVAL_);
    EXPECT(raw(SYS_read, fd, KERNEL_ADDRESS, 4, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_read, fd, 8, 4, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_fstat, fd, KERNEL_ADDRESS, 0, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_ioctl, fd, 0x5401, (long)buf, 0, 0, 0), -ENOTTY_);
    EXPECT(close(fd), 0);
    EXPECT(raw(SYS_close, fd, 0, 0, 0, 0, 0), -EBADF_);
    EXPECT(raw(SYS_open, (long)"/no/such/file", O_RDONLY, 0, 0, 0, 0), -ENOENT_);
    /* The native pipe and port paths are no files: refused, and nothing
     * is left behind (1,100 tries would fill the handle table if each
     * made two handles). */
    for (int i = 0; i < 1100; i++) {
        long r = raw(SYS_open, (long)(i % 2 ? "/dev/port" : "/dev/pipe"), O_RDWR, 0, 0, 0, 0);
        if (r != -ENOENT_) {
            CHECK(0, "open of a pipe or port path, try %d: %ld", i, r);
            break;
        }
    }
    int after = open("/bin/lintest", O_RDONLY);
    CHECK(after >= 3, "open after the pipe paths = %d", after);
    if (after >= 3)
        close(after);
    EXPECT(raw(SYS_open, KERNEL_ADDRESS, O_RDONLY, 0, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_openat, -100, (long)"/bin/lintest", O_RDONLY, 0, 0, 0), 3);
    EXPECT(raw(SYS_close, 3, 0, 0, 0, 0, 0), 0);
    EXPECT(raw(SYS_lseek, 1, 0, SEEK_CUR, 0, 0, 0), -ESPIPE_);
}

static void console(void)
{
    const char line[] = "lintest: write\n";
    char term[64];
    unsigned short winsize[4];
    struct iovec iov[2] = {{"lintest: ", 9}, {"writev\n", 7}};
    EXPECT(write(1, line, sizeof line - 1), sizeof line - 1);
    EXPECT(writev(1, iov, 2), 16);
    EXPECT(raw(SYS_write, 1, 1, 10, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_write, 1, KERNEL_ADDRESS, 10, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_write, 99, (long)line, 1, 0, 0, 0), -EBADF_);
    EXPECT(raw(SYS_write, -1, (long)line, 1, 0, 0, 0), -EBADF_);
    EXPECT(raw(SYS_read, 7, (long)term, 1, 0, 0, 0), -EBADF_);
    EXPECT(raw(SYS_ioctl, 0, 0x5401, (long)term, 0, 0, 0), 0);
    EXPECT(raw(SYS_ioctl, 1, 0x5413, (long)winsize, 0, 0, 0), 0);
    CHECK(winsize[0] > 0 && winsize[1] > 0, "TIOCGWINSZ %u x %u", winsize[0], winsize[1]);
    EXPECT(raw(SYS_ioctl, 1, 0x5401, KERNEL_ADDRESS, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_ioctl, 1, 0x1234, 0, 0, 0, 0), -ENOTTY_);
}

static void memory(void)
{
    char *big = malloc(1 << 20); /* glibc: an mmap */
    CHECK(big != NULL, "malloc 1 MiB");
    if (big) {
        memset(big, 0x5a, 1 << 20);
        CHECK(big[(1 << 20) - 1] == 0x5a, "malloc'd memory");
        free(big);
    }
    long top = raw(SYS_brk, 0, 0, 0, 0, 0, 0);
    EXPECT(raw(SYS_brk, top + 8192, 0, 0, 0, 0, 0), top + 8192);
    ((volatile char *)top)[8000] = 1;
    EXPECT(raw(SYS_brk, top, 0, 0, 0, 0, 0), top);
    /* More than the machine has: the break stays, the mapping fails,
     * and everything still works after. */
    EXPECT(raw(SYS_brk, top + (1L << 40), 0, 0, 0, 0, 0), top);
    EXPECT(raw(SYS_mmap, 0, 1L << 40, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
           -12);
    EXPECT(raw(SYS_brk, top + 4096, 0, 0, 0, 0, 0), top + 4096);
    ((volatile char *)top)[100] = 1;
    EXPECT(raw(SYS_brk, top, 0, 0, 0, 0, 0), top);
    char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap");
    if (p != MAP_FAILED) {
        CHECK(p[0] == 0 && p[3 * 4096 - 1] == 0, "mmap not zeroed");
        p[4096] = 7;
        EXPECT(mprotect(p, 4096, PROT_READ), 0);
        EXPECT(munmap(p, 3 * 4096), 0);
    }
    EXPECT(raw(SYS_munmap, 4095, 4096, 0, 0, 0, 0), -EINVAL_);
    /* Regions are kernel heap: mprotect of every other page splits one
     * mapping until the map is full (ENOMEM, Synthesis's limit of 4,096
     * regions; Linux's is 65,530), and memory still works after. */
    long pages = 4200;
    char *q = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q != MAP_FAILED, "mmap of %ld pages", pages);
    if (q != MAP_FAILED) {
        long splits = 0, result = 0;
        for (long page = 1; page < pages; page += 2) {
            result = raw(SYS_mprotect, (long)(q + page * 4096), 4096, PROT_READ, 0, 0, 0);
            if (result != 0)
                break;
            splits++;
        }
        CHECK(result == -12 && splits > 1000 && splits < 2100,
              "mprotect splits: %ld, then %ld (want ENOMEM near 2,047)", splits, result);
        EXPECT(munmap(q, pages * 4096), 0);
        char *again = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(again != MAP_FAILED, "mmap after a full map");
        if (again != MAP_FAILED)
            EXPECT(munmap(again, 4096), 0);
    }
}

static void identity(void)
{
    struct utsname u;
    struct timespec a, b;
    unsigned char random[32] = {0};
    CHECK(uname(&u) == 0 && strcmp(u.sysname, "Linux") == 0 && strcmp(u.machine, "x86_64") == 0,
          "uname");
    EXPECT(raw(SYS_uname, KERNEL_ADDRESS, 0, 0, 0, 0, 0), -EFAULT_);
    CHECK(getpid() > 0, "getpid");
    CHECK(raw(SYS_gettid, 0, 0, 0, 0, 0, 0) > 0, "gettid");
    EXPECT(getuid(), 0);
    EXPECT(geteuid(), 0);
    EXPECT(getgid(), 0);
    EXPECT(getegid(), 0);
    CHECK(getppid() >= 0, "getppid");
    CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0 && clock_gettime(CLOCK_MONOTONIC, &b) == 0 &&
              (b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)),
          "clock_gettime");
    EXPECT(raw(SYS_clock_gettime, CLOCK_MONOTONIC, KERNEL_ADDRESS, 0, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_getrandom, (long)random, 32, 0, 0, 0, 0), 32);
    int nonzero = 0;
    for (int i = 0; i < 32; i++)
        nonzero |= random[i];
    CHECK(nonzero, "getrandom gave zeros");
    EXPECT(raw(SYS_sched_yield, 0, 0, 0, 0, 0, 0), 0);
    EXPECT(raw(SYS_rt_sigprocmask, 0, 0, 0, 8, 0, 0), 0);
    EXPECT(raw(SYS_rt_sigaction, 9, (long)random, 0, 8, 0, 0), -EINVAL_);
    EXPECT(raw(SYS_rt_sigaction, 2, KERNEL_ADDRESS, 0, 8, 0, 0), -EFAULT_);
}

static void hostile(void)
{
    long fs = 0;
#ifndef HOST_CHECK
    /* Numbers past the table, unassigned and huge: -ENOSYS, nothing else.
     * (Linux 6.1 takes only the low 32 bits: 2^32+1 is `write` there;
     * here every bit counts, docs/unix.md.) */
    EXPECT(raw(-1, 0, 0, 0, 0, 0, 0), -ENOSYS_);
    EXPECT(raw(451, 0, 0, 0, 0, 0, 0), -ENOSYS_);
    EXPECT(raw(0x100000001L, 0, 0, 0, 0, 0, 0), -ENOSYS_);
    EXPECT(raw(0x7fffffffffffffffL, 0, 0, 0, 0, 0, 0), -ENOSYS_);
    EXPECT(raw(335, 0, 0, 0, 0, 0, 0), -ENOSYS_);
    EXPECT(raw(335, 0, 0, 0, 0, 0, 0), -ENOSYS_);
#endif
    /* arch_prctl: kernel-half and non-canonical bases refused. */
    EXPECT(raw(SYS_arch_prctl, ARCH_GET_FS, (long)&fs, 0, 0, 0, 0), 0);
    long tcb;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tcb));
    CHECK(fs != 0 && tcb == fs, "FS base %#lx, fs:0 %#lx", fs, tcb);
    EXPECT(raw(SYS_arch_prctl, ARCH_SET_FS, KERNEL_ADDRESS, 0, 0, 0, 0), -EPERM_);
    EXPECT(raw(SYS_arch_prctl, ARCH_SET_FS, NONCANONICAL, 0, 0, 0, 0), -EPERM_);
    EXPECT(raw(SYS_arch_prctl, ARCH_SET_FS, -1L, 0, 0, 0, 0), -EPERM_);
    EXPECT(raw(SYS_arch_prctl, ARCH_GET_FS, KERNEL_ADDRESS, 0, 0, 0, 0), -EFAULT_);
    EXPECT(raw(SYS_arch_prctl, 0x9999, 0, 0, 0, 0, 0), -EINVAL_);
    long after = 0;
    raw(SYS_arch_prctl, ARCH_GET_FS, (long)&after, 0, 0, 0, 0);
    CHECK(after == fs, "a refused arch_prctl changed the FS base");
#ifndef HOST_CHECK
    /* A file named like a kernel object (/dev/pipe, /dev/port,
     * /dev/audio) opens nothing: each open is ENOENT, and none leaves
     * native handles behind (found by a hostile review: 2,000 opens would
     * pass the SMACH's 1,024 handles). */
    static const char *objects[] = {"/dev/pipe", "/dev/port", "/dev/audio"};
    for (int k = 0; k < 3; k++) {
        int made = open("/tmp/kobj", O_CREAT | O_WRONLY, 0644);
        CHECK(made >= 0, "create /tmp/kobj");
        close(made);
        EXPECT(raw(SYS_rename, (long)"/tmp/kobj", (long)objects[k], 0, 0, 0, 0), 0);
        for (int i = 0; i < 700; i++) {
            long r = raw(SYS_open, (long)objects[k], O_RDWR, 0, 0, 0, 0);
            if (r != -ENOENT_) {
                CHECK(0, "open %s (a file) = %ld, expected ENOENT", objects[k], r);
                if (r >= 0)
                    close(r);
                break;
            }
        }
        EXPECT(raw(SYS_unlink, (long)objects[k], 0, 0, 0, 0, 0), 0);
    }
    int after_all = open("/tmp/kobj2", O_CREAT | O_WRONLY, 0644);
    CHECK(after_all >= 0, "an open after the kernel-object names: %d", after_all);
    close(after_all);
    unlink("/tmp/kobj2");
#endif
    /* Registers at return: a value, an error, past the table, unknown. */
    check_registers(SYS_getpid, getpid());
    check_registers(SYS_getuid, 0);
    check_registers(SYS_close, -EBADF_); /* rdi = 0x7777...: a bad fd */
#ifndef HOST_CHECK
    check_registers(451, -ENOSYS_);
    check_registers(-1, -ENOSYS_);
    check_registers(335, -ENOSYS_);
#endif
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "exit") == 0)
        raw(SYS_exit_group, atoi(argv[2]), 0, 0, 0, 0, 0);
    if (argc > 2 && strcmp(argv[1], "fs") == 0)
        return fs_mode(atol(argv[2]));
    if (argc > 1 && strcmp(argv[1], "kwrite") == 0) {
        *(volatile long *)KERNEL_ADDRESS = 1;
        return 99;
    }
    printf("lintest: hello from a static glibc program, argc %d, argv[0] %s\n", argc, argv[0]);
    console();
    files();
    memory();
    identity();
    hostile();
    printf("lintest: %d failures\n", failures);
    return failures > 100 ? 100 : failures;
}
