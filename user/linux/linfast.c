/*
 * linfast: a static Linux x86-64 program (glibc, `gcc -static`) for the
 * Linux personality's synthesized read/write (docs/unix.md, "Entry";
 * kernel/src/tests/linux_fast.rs). The xtask packs it into the initrd as
 * /bin/linfast.
 *
 * It makes a fixed sequence of read and write calls (raw `syscall`, so
 * each result is the kernel's value or -errno exactly) on /dev/zero,
 * /dev/null, RAM files and bad descriptors: the 1-byte and longer fast
 * paths, calls too long for a routine, bad buffers (-EFAULT), bad
 * descriptors (-EBADF, past the fd array, high bits in the fd register),
 * a closed descriptor reused by a file, a file truncated between calls
 * (reopened with O_TRUNC), an fd opened for the other direction; every
 * argument register kept across calls on each of those paths. Each
 * call's result and a checksum of the bytes it moved go to a log, written
 * at the end to the file argv[1] (and its checks' failure count is the
 * exit status). The kernel test runs it with the read/write slots on the
 * dispatcher and again on the generic entry, and compares the logs.
 *
 * argv[2] = "bench": 1000 1-byte reads of /dev/zero (nothing logged).
 * argv[2] = "trace": the kernel instructions of a 1-byte /dev/zero read and
 * a 1-byte /dev/null write, counted by single-stepping (the test kernel's
 * prctl options arm the counter and read it), logged as `name = count`.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>

#define TEST_NAME "linfast"
#include "linux_test.h"


/*
 * The call with every argument register set to a mark: Linux keeps all but
 * rax, rcx and r11, whatever path the call took. Returns the number of
 * registers changed.
 */
static int regs_changed(long n, long fd, long buf, long count)
{
    long ret;
    long rdi = fd, rsi = buf, rdx = count;
    register long r10 __asm__("r10") = 0x1010101010101010L;
    register long r8 __asm__("r8") = 0x0808080808080808L;
    register long r9 __asm__("r9") = 0x0909090909090909L;
    __asm__ volatile("syscall"
                     : "=a"(ret), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                     : "a"(n)
                     : "rcx", "r11", "memory");
    (void)ret;
    return (rdi != fd) + (rsi != buf) + (rdx != count) + (r10 != 0x1010101010101010L) +
           (r8 != 0x0808080808080808L) + (r9 != 0x0909090909090909L);
}

/* The call with RFLAGS.TF set just for the `syscall` (the counter is armed). */
static long traced3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\tsyscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory", "cc");
    return ret;
}

#define KTEST_PRCTL_TRACE_ARM 0x534b0001L
#define KTEST_PRCTL_TRACE_LAST 0x534b0002L

/* Kernel instructions of one traced call (0: not counted in 10 tries). */
static long count_call(long n, long fd, long buf, long count)
{
    for (int i = 0; i < 10; i++) {
        if (raw(SYS_prctl, KTEST_PRCTL_TRACE_ARM, 0, 0) != 0) {
            return 0;
        }
        traced3(n, fd, buf, count);
        long steps = raw(SYS_prctl, KTEST_PRCTL_TRACE_LAST, 0, 0);
        if (steps > 0) {
            return steps;
        }
    }
    return 0;
}

static char log_text[16384];
static size_t log_len;
static unsigned char big[1 << 20];
static unsigned char buf[4096];

static volatile int usr1_seen;

static void on_usr1(int signal)
{
    (void)signal;
    usr1_seen++;
}

#define KERNEL_ADDRESS 0xffff800000000000L

static uint64_t sum(const unsigned char *p, long n)
{
    uint64_t h = 1469598103934665603ULL;
    for (long i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }
    return h;
}

/* One call: its result and the checksum of the bytes it moved. */
static long note(const char *what, long result, const unsigned char *p, long expect, int check)
{
    uint64_t h = (p != 0 && result > 0 && result <= (long)sizeof(big)) ? sum(p, result) : 0;
    int n = snprintf(log_text + log_len, sizeof(log_text) - log_len, "%s = %ld #%016llx\n", what,
                     result, (unsigned long long)h);
    if (n > 0 && log_len + (size_t)n < sizeof(log_text)) {
        log_len += (size_t)n;
    }
    if (check && result != expect) {
        failures++;
        printf("linfast: FAIL %s = %ld, expected %ld\n", what, result, expect);
    }
    return result;
}

#define R(fd, p, len) raw(SYS_read, (long)(fd), (long)(p), (long)(len))
#define W(fd, p, len) raw(SYS_write, (long)(fd), (long)(p), (long)(len))
#define CHECKED(what, call, p, expect) note(what, call, (const unsigned char *)(p), expect, 1)
#define LOGGED(what, call, p) note(what, call, (const unsigned char *)(p), 0, 0)

static long open_path(const char *path, long flags)
{
    return raw(SYS_open, (long)path, flags, 0644);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[2], "bench") == 0) {
        long z = open_path("/dev/zero", O_RDONLY);
        for (int i = 0; i < 1000; i++) {
            if (R(z, buf, 1) != 1) {
                return 1;
            }
        }
        return 0;
    }
    const char *out = argc > 1 ? argv[1] : "/linfast.log";
    if (argc > 2 && strcmp(argv[2], "trace") == 0) {
        long z = open_path("/dev/zero", O_RDONLY);
        long n = open_path("/dev/null", O_WRONLY);
        note("read_zero_1", count_call(SYS_read, z, (long)buf, 1), 0, 0, 0);
        note("write_null_1", count_call(SYS_write, n, (long)buf, 1), 0, 0, 0);
        note("getppid", count_call(SYS_getppid, 0, 0, 0), 0, 0, 0);
        /* A signal posted and delivered: the read goes generic while it is
         * pending and back to the dispatcher after. */
        signal(SIGUSR1, on_usr1);
        raw(SYS_kill, raw(SYS_getpid, 0, 0, 0), SIGUSR1, 0);
        note("read_zero_after_signal", usr1_seen == 1 ? count_call(SYS_read, z, (long)buf, 1) : 0,
             0, 0, 0);
        long o = open_path(out, O_WRONLY | O_CREAT | O_TRUNC);
        return W(o, log_text, log_len) == (long)log_len ? 0 : 1;
    }

    /* /dev/zero: the routine's fast path, longer reads, bad buffers. */
    long z = open_path("/dev/zero", O_RDONLY);
    CHECKED("open zero", z >= 3 ? 0 : z, 0, 0);
    memset(buf, 0x55, sizeof(buf));
    CHECKED("read zero 1", R(z, buf, 1), buf, 1);
    CHECKED("zero byte", buf[0] | (buf[1] != 0x55), 0, 0);
    CHECKED("read zero 100", R(z, buf, 100), buf, 100);
    CHECKED("read zero 0", R(z, buf, 0), buf, 0);
    CHECKED("read zero kernel buffer", R(z, KERNEL_ADDRESS, 1), 0, -14);
    CHECKED("read zero null", R(z, 0, 1), 0, -14);
    CHECKED("read zero wrapping", R(z, -16L, 64), 0, -14);
    CHECKED("read zero long", R(z, big, sizeof(big)), big, (long)sizeof(big));
    CHECKED("read zero high fd bits", R((1L << 32) | z, buf, 3), buf, 3);
    CHECKED("write read-only zero", W(z, buf, 1), 0, -9);
    /* Registers kept on every path: routine, its slow path, -EFAULT, past
     * the fd array, an fd with no routine. */
    CHECKED("regs read zero 1", regs_changed(SYS_read, z, (long)buf, 1), 0, 0);
    CHECKED("regs read zero long", regs_changed(SYS_read, z, (long)big, sizeof(big)), 0, 0);
    CHECKED("regs read zero efault", regs_changed(SYS_read, z, KERNEL_ADDRESS, 1), 0, 0);
    CHECKED("regs read fd 1000", regs_changed(SYS_read, 1000, (long)buf, 1), 0, 0);
    CHECKED("regs write zero", regs_changed(SYS_write, z, (long)buf, 1), 0, 0);

    /* /dev/null. */
    long n = open_path("/dev/null", O_WRONLY);
    CHECKED("write null 5", W(n, "hello", 5), 0, 5);
    CHECKED("write null kernel buffer", W(n, KERNEL_ADDRESS, 5), 0, -14);
    CHECKED("write null long", W(n, big, sizeof(big)), 0, (long)sizeof(big));
    CHECKED("regs write null 5", regs_changed(SYS_write, n, (long)"hello", 5), 0, 0);
    CHECKED("read write-only null", R(n, buf, 5), buf, -9);

    /* Bad descriptors. */
    CHECKED("read fd 63", R(63, buf, 1), 0, -9);
    CHECKED("read fd 1000", R(1000, buf, 1), 0, -9);
    CHECKED("read fd -1", R(-1, buf, 1), 0, -9);
    CHECKED("write fd 63", W(63, buf, 1), 0, -9);
    CHECKED("write fd 1000", W(1000, buf, 1), 0, -9);

    /* A closed descriptor, then reused by a file: never the old routine. */
    CHECKED("close zero", raw(SYS_close, z, 0, 0), 0, 0);
    CHECKED("read closed", R(z, buf, 1), 0, -9);
    long f = open_path("/linfast.data", O_RDWR | O_CREAT | O_TRUNC);
    CHECKED("reused fd", f, 0, z);
    for (int i = 0; i < 200; i++) {
        buf[i] = (unsigned char)(i * 7 + 3);
    }
    CHECKED("write file 200", W(f, buf, 200), 0, 200);
    CHECKED("write file kernel buffer", W(f, KERNEL_ADDRESS, 8), 0, -14);
    CHECKED("seek file", raw(SYS_lseek, f, 0, 0), 0, 0);
    memset(buf, 0, 256);
    CHECKED("read file 1", R(f, buf, 1), buf, 1);
    CHECKED("file byte", buf[0], 0, 3);
    CHECKED("read file 50", R(f, buf, 50), buf, 50);
    CHECKED("read file kernel buffer", R(f, KERNEL_ADDRESS, 8), 0, -14);

    /* Truncated between calls (another open with O_TRUNC). */
    long t = open_path("/linfast.data", O_WRONLY | O_TRUNC);
    CHECKED("truncating open", t > f ? 0 : t, 0, 0);
    CHECKED("read truncated", R(f, buf, 10), buf, 0);
    CHECKED("write after truncate", W(f, "xyz", 3), 0, 3);
    CHECKED("seek again", raw(SYS_lseek, f, 0, 0), 0, 0);
    CHECKED("read sparse", R(f, buf, 100), buf, 54);
    CHECKED("sparse byte", buf[0] | buf[50], 0, 0);
    CHECKED("read write-only", R(t, buf, 5), buf, -9);
    CHECKED("close trunc", raw(SYS_close, t, 0, 0), 0, 0);

    /* A file grown past its first allocation between calls. */
    CHECKED("seek end", raw(SYS_lseek, f, 0, 2), 0, 54);
    CHECKED("write big", W(f, big, 65536), 0, 65536);
    CHECKED("seek start", raw(SYS_lseek, f, 0, 0), 0, 0);
    CHECKED("read grown", R(f, big, 4096), big, 4096);
    CHECKED("regs read file", regs_changed(SYS_read, f, (long)buf, 2), 0, 0);
    CHECKED("regs write file", regs_changed(SYS_write, f, (long)buf, 2), 0, 0);

    /* O_APPEND set by F_SETFL: the write goes to the end, whatever path. */
    CHECKED("seek start again", raw(SYS_lseek, f, 0, 0), 0, 0);
    CHECKED("setfl append", raw(SYS_fcntl, f, F_SETFL, O_APPEND), 0, 0);
    CHECKED("write appended", W(f, "end", 3), 0, 3);
    CHECKED("position after append", raw(SYS_lseek, f, 0, 1), 0, 54 + 65536 + 3);
    CHECKED("setfl plain", raw(SYS_fcntl, f, F_SETFL, 0), 0, 0);
    CHECKED("seek start plain", raw(SYS_lseek, f, 0, 0), 0, 0);
    CHECKED("write plain", W(f, "x", 1), 0, 1);
    CHECKED("position plain", raw(SYS_lseek, f, 0, 1), 0, 1);

    /* A pipe: each end's access mode, O_NONBLOCK set and cleared, EPIPE. */
    int p[2] = {-1, -1};
    CHECKED("pipe", raw(SYS_pipe2, (long)p, 0, 0), 0, 0);
    CHECKED("pipe write 2", W(p[1], "ab", 2), 0, 2);
    CHECKED("pipe read 1", R(p[0], buf, 1), buf, 1);
    CHECKED("pipe byte", buf[0], 0, 'a');
    CHECKED("pipe write to read end", W(p[0], "x", 1), 0, -9);
    CHECKED("pipe read from write end", R(p[1], buf, 1), 0, -9);
    CHECKED("pipe setfl nonblock", raw(SYS_fcntl, p[0], F_SETFL, O_NONBLOCK), 0, 0);
    CHECKED("pipe read nonblock 1", R(p[0], buf, 1), buf, 1);
    CHECKED("pipe read empty nonblock", R(p[0], buf, 1), 0, -11);
    CHECKED("pipe setfl block", raw(SYS_fcntl, p[0], F_SETFL, 0), 0, 0);
    CHECKED("pipe write 1", W(p[1], "c", 1), 0, 1);
    CHECKED("pipe read blocking 1", R(p[0], buf, 1), buf, 1);
    CHECKED("pipe dup", raw(SYS_dup2, p[1], 40, 0), 0, 40);
    CHECKED("pipe write dup", W(40, "d", 1), 0, 1);
    CHECKED("pipe read dup's", R(p[0], buf, 4), buf, 1);
    signal(SIGPIPE, SIG_IGN);
    CHECKED("pipe close read end", raw(SYS_close, p[0], 0, 0), 0, 0);
    CHECKED("pipe write no reader", W(p[1], "e", 1), 0, -32);
    CHECKED("pipe close write end", raw(SYS_close, p[1], 0, 0), 0, 0);
    CHECKED("pipe close dup", raw(SYS_close, 40, 0, 0), 0, 0);

    CHECKED("close file", raw(SYS_close, f, 0, 0), 0, 0);
    CHECKED("close null", raw(SYS_close, n, 0, 0), 0, 0);
    CHECKED("write closed null", W(n, "x", 1), 0, -9);

    long o = open_path(out, O_WRONLY | O_CREAT | O_TRUNC);
    if (o < 0 || W(o, log_text, log_len) != (long)log_len) {
        printf("linfast: cannot write %s\n", out);
        failures++;
    }
    raw(SYS_close, o, 0, 0);
    return failures;
}
