/*
 * proctest: Linux processes and threads (docs/unix.md, phase 2), a static
 * glibc program like lintest. The xtask builds it into the initrd as
 * /bin/proctest; kernel/src/tests/linux_proc.rs runs it.
 *
 * argv[1] picks the mode:
 *   (none)          every check; exit 0 if all pass, else the failures.
 *   exec-child P    run by execve from the checks: exit 42 if getpid() is
 *                   P, argv[3] is "two" and the environment has K=V.
 *   exec-sig        run by execve from the signal checks: exit 43 if
 *                   SIGUSR1 is SIG_DFL and SIGUSR2 SIG_IGN.
 *   forkbomb        fork until fork fails; every child spins until it is
 *                   an orphan (getppid() == 1) and exits; the parent exits
 *                   with the number of children (at most 250) if the
 *                   failure was EAGAIN, else 255.
 *   memfork         map 300 MiB, fork until fork fails (a copy runs out of
 *                   memory part-way); exit 0 if that was ENOMEM after at
 *                   least one child, else 1.
 *   fork-cost N     fork N children that exit at once, reaping each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/futex.h>

#define TEST_NAME "proctest"
#include "linux_test.h"





static pid_t fork_flushed(void)
{
    fflush(stdout);
    return fork();
}

/* fork: pids, the child's return value, exit statuses, wait4, WNOHANG. */
static void fork_and_wait(void)
{
    pid_t me = getpid();
    EXPECT(raw(SYS_gettid, 0, 0, 0, 0, 0, 0), me);
    EXPECT(raw(SYS_wait4, -1, 0, WNOHANG, 0, 0, 0), -ECHILD);
    EXPECT(raw(SYS_wait4, -1, 0, 0, 0, 0, 0), -ECHILD);

    pid_t child = fork_flushed();
    if (child == 0) {
        /* Exit status says what the child saw. */
        int bad = 0;
        if (getppid() != me)
            bad |= 1;
        if (getpid() == me)
            bad |= 2;
        if (raw(SYS_gettid, 0, 0, 0, 0, 0, 0) != getpid())
            bad |= 4;
        _exit(bad ? 100 + bad : 7);
    }
    CHECK(child > 0 && child != me, "fork returned %d", child);
    int status = -1;
    struct rusage ru;
    memset(&ru, 0xab, sizeof ru);
    EXPECT(wait4(child, &status, 0, &ru), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status %#x", status);
    /* Written (Linux fills in the child's usage; Synthesis zeroes it). */
    CHECK(ru.ru_maxrss != (long)0xabababababababab, "rusage not written");
    EXPECT(raw(SYS_wait4, child, 0, 0, 0, 0, 0), -ECHILD);

    /* The low 8 bits of exit_group's status. */
    child = fork_flushed();
    if (child == 0)
        raw(SYS_exit_group, 300, 0, 0, 0, 0, 0);
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 44, "status %#x", status);

    /* WNOHANG while the child runs: 0; then it is reaped. */
    volatile int *gate = &failures; /* any word: the child only reads */
    (void)gate;
    child = fork_flushed();
    if (child == 0) {
        for (int i = 0; i < 200; i++)
            sched_yield();
        _exit(3);
    }
    EXPECT(waitpid(child, &status, WNOHANG), 0);
    EXPECT(waitpid(-1, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3, "status %#x", status);

    /* A child killed by the kernel (a fault): signaled, not exited. */
    child = fork_flushed();
    if (child == 0) {
        *(volatile long *)0xffff800000000000UL = 1;
        _exit(0);
    }
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFSIGNALED(status), "faulting child's status %#x", status);

    /* waitid: P_PID, P_ALL with WNOHANG, WNOWAIT. */
    child = fork_flushed();
    if (child == 0)
        _exit(9);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    EXPECT(waitid(P_PID, child, &info, WEXITED | WNOWAIT), 0);
    CHECK(info.si_pid == child && info.si_code == CLD_EXITED && info.si_status == 9,
          "waitid WNOWAIT pid %d code %d status %d", info.si_pid, info.si_code,
          info.si_status);
    memset(&info, 0, sizeof info);
    EXPECT(waitid(P_ALL, 0, &info, WEXITED), 0);
    CHECK(info.si_pid == child && info.si_signo == SIGCHLD && info.si_status == 9,
          "waitid pid %d signo %d status %d", info.si_pid, info.si_signo,
          info.si_status);
    EXPECT(raw(SYS_waitid, P_ALL, 0, (long)&info, WEXITED | WNOHANG, 0, 0), -ECHILD);
    EXPECT(raw(SYS_waitid, 7, 0, (long)&info, WEXITED, 0, 0), -EINVAL);

    child = fork_flushed();
    if (child == 0) {
        for (int i = 0; i < 200; i++)
            sched_yield();
        _exit(0);
    }
    memset(&info, 0xff, sizeof info);
    EXPECT(waitid(P_ALL, 0, &info, WEXITED | WNOHANG), 0);
    CHECK(info.si_pid == 0, "WNOHANG si_pid %d", info.si_pid);
    EXPECT(waitpid(child, &status, 0), child);

    /* Bad status pointer: EFAULT. */
    child = fork_flushed();
    if (child == 0)
        _exit(0);
    EXPECT(raw(SYS_wait4, child, 1, 0, 0, 0, 0), -EFAULT);
}

/* Every register but rax (and rcx, r11) comes back from fork in both. */
unsigned long regs_after[12];
static const unsigned long marks[12] = {0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666,
                                        0x7777, 0x8888, 0x9999, 0xaaaa, 0xbbbb, 0xcccc};

static __attribute__((noinline)) long fork_with_marks(void)
{
    long ret;
    __asm__ volatile("sub $128, %%rsp\n"
                     "push %%rbx\n push %%rbp\n push %%r12\n push %%r13\n push %%r14\n push %%r15\n"
                     "mov $0x1111, %%rbx\n mov $0x2222, %%rbp\n mov $0x3333, %%r12\n"
                     "mov $0x4444, %%r13\n mov $0x5555, %%r14\n mov $0x6666, %%r15\n"
                     "mov $0x7777, %%rdi\n mov $0x8888, %%rsi\n mov $0x9999, %%rdx\n"
                     "mov $0xaaaa, %%r10\n mov $0xbbbb, %%r8\n mov $0xcccc, %%r9\n"
                     "mov $57, %%eax\n"
                     "syscall\n"
                     "mov %%rbx, regs_after+0(%%rip)\n mov %%rbp, regs_after+8(%%rip)\n"
                     "mov %%r12, regs_after+16(%%rip)\n mov %%r13, regs_after+24(%%rip)\n"
                     "mov %%r14, regs_after+32(%%rip)\n mov %%r15, regs_after+40(%%rip)\n"
                     "mov %%rdi, regs_after+48(%%rip)\n mov %%rsi, regs_after+56(%%rip)\n"
                     "mov %%rdx, regs_after+64(%%rip)\n mov %%r10, regs_after+72(%%rip)\n"
                     "mov %%r8, regs_after+80(%%rip)\n mov %%r9, regs_after+88(%%rip)\n"
                     "pop %%r15\n pop %%r14\n pop %%r13\n pop %%r12\n pop %%rbp\n pop %%rbx\n"
                     "add $128, %%rsp\n"
                     : "=a"(ret)
                     :
                     : "rcx", "r11", "rdi", "rsi", "rdx", "r8", "r9", "r10", "memory");
    return ret;
}

static int registers_kept(void)
{
    for (int i = 0; i < 12; i++)
        if (regs_after[i] != marks[i])
            return 0;
    return 1;
}

static void fork_registers(void)
{
    fflush(stdout);
    long child = fork_with_marks();
    if (child == 0)
        _exit(registers_kept() ? 0 : 1);
    CHECK(child > 0, "raw fork %ld", child);
    CHECK(registers_kept(), "parent's registers after fork");
    int status = -1;
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child's registers after fork %#x",
          status);
}

/* Groups and sessions. */
static void groups(void)
{
    pid_t me = getpid();
    pid_t child = fork_flushed();
    if (child == 0) {
        int bad = 0;
        if (getpgid(0) != getpgid(me))
            bad |= 1;
        if (setsid() != getpid())
            bad |= 2;
        if (getsid(0) != getpid() || getpgrp() != getpid())
            bad |= 4;
        if (setsid() != -1 || errno != EPERM)
            bad |= 8;
        _exit(bad);
    }
    int status = -1;
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child group checks %#x", status);

    child = fork_flushed();
    if (child == 0) {
        for (int i = 0; i < 300; i++)
            sched_yield();
        _exit(getpgrp() == getpid() ? 0 : 1);
    }
    EXPECT(setpgid(child, child), 0);
    EXPECT(getpgid(child), child);
    EXPECT(raw(SYS_setpgid, child, -1, 0, 0, 0, 0), -EINVAL);
    EXPECT(raw(SYS_getpgid, 999999, 0, 0, 0, 0, 0), -ESRCH);
    EXPECT(waitpid(-child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child in its group %#x", status);
}

/* execve: itself with arguments and environment; its errors. */
static void exec(const char *self)
{
    pid_t child = fork_flushed();
    if (child == 0) {
        char pid[32];
        snprintf(pid, sizeof pid, "%d", getpid());
        char *args[] = {(char *)self, "exec-child", pid, "two", NULL};
        char *env[] = {"A=1", "K=V", NULL};
        execve(self, args, env);
        _exit(50 + errno);
    }
    int status = -1;
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42, "exec'd child status %#x", status);

    char *args[] = {"x", NULL};
    EXPECT(raw(SYS_execve, (long)"/no/such/file", (long)args, 0, 0, 0, 0), -ENOENT);
    EXPECT(raw(SYS_execve, (long)"/bin", (long)args, 0, 0, 0, 0), -EACCES);
    EXPECT(raw(SYS_execve, 1, (long)args, 0, 0, 0, 0), -EFAULT);
    EXPECT(raw(SYS_execve, (long)self, 1, 0, 0, 0, 0), -EFAULT);
    char *bad_args[] = {"x", (char *)8, NULL};
    EXPECT(raw(SYS_execve, (long)self, (long)bad_args, 0, 0, 0, 0), -EFAULT);
    /* A native program of this kernel: not Linux (on Linux, where there
     * is no such file, nothing to check). */
    if (access("/bin/worker", F_OK) == 0)
        EXPECT(raw(SYS_execve, (long)"/bin/worker", (long)args, 0, 0, 0, 0), -ENOEXEC);
    /* Garbage, and an ELF header with nothing behind it. */
    int fd = open("/proctest-garbage", O_CREAT | O_RDWR | O_TRUNC, 0755);
    CHECK(fd >= 0, "create garbage file: %d", errno);
    if (fd >= 0) {
        char junk[300];
        for (unsigned i = 0; i < sizeof junk; i++)
            junk[i] = (char)(i * 37 + 11);
        EXPECT(write(fd, junk, sizeof junk), sizeof junk);
        close(fd);
        EXPECT(raw(SYS_execve, (long)"/proctest-garbage", (long)args, 0, 0, 0, 0), -ENOEXEC);
    }
    fd = open("/proctest-elf", O_CREAT | O_RDWR | O_TRUNC, 0755);
    if (fd >= 0) {
        unsigned char header[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
        header[16] = 2;    /* ET_EXEC */
        header[18] = 0x3e; /* x86-64 */
        header[20] = 1;
        header[32] = 200; /* program headers past the end */
        header[54] = 56;
        header[56] = 9;
        EXPECT(write(fd, header, sizeof header), sizeof header);
        close(fd);
        EXPECT(raw(SYS_execve, (long)"/proctest-elf", (long)args, 0, 0, 0, 0), -ENOEXEC);
    }
    /* Still alive and well after every refusal. */
    EXPECT(getpid(), raw(SYS_gettid, 0, 0, 0, 0, 0, 0));
}

/* A file opened before fork: one position for parent and child. */
static void shared_position(void)
{
    int fd = open("/proctest-shared", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0, "open: %d", errno);
    if (fd < 0)
        return;
    EXPECT(write(fd, "ab", 2), 2);
    pid_t child = fork_flushed();
    if (child == 0) {
        int ok = write(fd, "cd", 2) == 2 && lseek(fd, 0, SEEK_CUR) == 4;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child write %#x", status);
    EXPECT(lseek(fd, 0, SEEK_CUR), 4);
    EXPECT(write(fd, "ef", 2), 2);
    char buf[16] = {0};
    EXPECT(pread(fd, buf, sizeof buf, 0), 6);
    CHECK(memcmp(buf, "abcdef", 6) == 0, "file holds %s", buf);
    close(fd);
}

/* A description lives while any descriptor names it: the parent's close
 * after fork leaves the child's descriptor working (a file, a pipe's
 * write end), and the reader sees EOF once the child's end goes too. */
static void descriptions_outlive_close(void)
{
    int fd = open("/proctest-shared", O_RDONLY);
    int sync[2], data[2];
    CHECK(fd >= 0 && pipe(sync) == 0 && pipe(data) == 0, "open/pipe: %d", errno);
    pid_t child = fork_flushed();
    if (child == 0) {
        char go, buf[8] = {0};
        close(sync[1]);
        close(data[0]);
        if (read(sync[0], &go, 1) != 1)
            _exit(2);
        /* The parent closed fd and data[1] by now. */
        int ok = pread(fd, buf, 6, 0) == 6 && memcmp(buf, "abcdef", 6) == 0;
        ok = ok && write(data[1], "hello", 5) == 5;
        _exit(ok ? 0 : 1);
    }
    close(sync[0]);
    EXPECT(close(fd), 0);
    EXPECT(close(data[1]), 0);
    EXPECT(write(sync[1], "g", 1), 1);
    char got[16] = {0};
    size_t have = 0;
    long n;
    while ((n = read(data[0], got + have, sizeof got - 1 - have)) > 0)
        have += (size_t)n;
    CHECK(n == 0 && have == 5 && memcmp(got, "hello", 5) == 0, "read %ld, have %zu: %s", n,
          have, got);
    int status = -1;
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child after close: %#x", status);
    close(data[0]);
    close(sync[1]);
}

static int thread_value;
static pid_t thread_tid;

static void *thread_main(void *arg)
{
    thread_tid = (pid_t)raw(SYS_gettid, 0, 0, 0, 0, 0, 0);
    for (int i = 0; i < 50; i++)
        sched_yield();
    thread_value = (int)(intptr_t)arg + (getpid() == thread_tid ? 1000 : 0);
    return (void *)(intptr_t)(thread_value + 1);
}

/* pthread_create and join: clone threads, CLEARTID, futex. */
static void threads(void)
{
    for (int round = 0; round < 3; round++) {
        pthread_t t;
        thread_value = 0;
        EXPECT(pthread_create(&t, NULL, thread_main, (void *)(intptr_t)(5 + round)), 0);
        void *result = NULL;
        EXPECT(pthread_join(t, &result), 0);
        EXPECT(thread_value, 5 + round);
        EXPECT((intptr_t)result, 6 + round);
        CHECK(thread_tid > 0 && thread_tid != getpid(), "thread tid %d", thread_tid);
    }
    /* futex: EAGAIN when the value differs, a timeout, EFAULT, EINVAL. */
    int word = 1;
    struct timespec ts = {0, 1000000};
    EXPECT(raw(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 2, 0, 0, 0), -EAGAIN);
    EXPECT(raw(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 1, (long)&ts, 0, 0), -ETIMEDOUT);
    EXPECT(raw(SYS_futex, (long)&word, FUTEX_WAIT, 1, (long)&ts, 0, 0), -ETIMEDOUT);
    EXPECT(raw(SYS_futex, 8, FUTEX_WAIT, 1, 0, 0, 0), -EFAULT);
    EXPECT(raw(SYS_futex, (long)&word + 1, FUTEX_WAIT, 1, 0, 0, 0), -EINVAL);
    EXPECT(raw(SYS_futex, (long)&word, FUTEX_WAKE, 1, 0, 0, 0), 0);
    /* Unsupported clone combinations. */
    EXPECT(raw(SYS_clone, CLONE_THREAD | SIGCHLD, 0, 0, 0, 0, 0), -EINVAL);
    EXPECT(raw(SYS_set_tid_address, (long)&word, 0, 0, 0, 0, 0), getpid());
}

/* Orphans go to init (pid 1). */
/* Signals joined with processes: SIGCHLD (si_pid, si_code, si_status),
 * killed-by-signal wait statuses, a wait and a futex wait cut short by a
 * signal (EINTR without SA_RESTART), fork keeping actions and the mask,
 * execve resetting handled actions (checked in exec-sig mode), kill(0)
 * reaching the caller's group, tgkill with a thread's tid. */
static volatile sig_atomic_t usr1_seen, chld_seen;
static volatile pid_t chld_pid;
static volatile int chld_code, chld_status;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_seen++;
}

static void on_chld(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    chld_seen++;
    chld_pid = info->si_pid;
    chld_code = info->si_code;
    chld_status = info->si_status;
}

static void *tgkill_thread(void *arg)
{
    (void)arg;
    thread_tid = (pid_t)raw(SYS_gettid, 0, 0, 0, 0, 0, 0);
    while (!usr1_seen)
        sched_yield();
    return NULL;
}

static void signals(const char *self)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    EXPECT(sigaction(SIGCHLD, &sa, NULL), 0);

    /* SIGCHLD for an exit. */
    pid_t child = fork_flushed();
    if (child == 0)
        _exit(9);
    int status = 0;
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(chld_seen == 1 && chld_pid == child && chld_code == CLD_EXITED &&
              chld_status == 9,
          "SIGCHLD seen %d pid %d code %d status %d", chld_seen, chld_pid,
          chld_code, chld_status);

    /* Killed by a signal: the status and SIGCHLD say so. */
    child = fork_flushed();
    if (child == 0) {
        for (;;)
            pause();
    }
    EXPECT(kill(child, SIGKILL), 0);
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %#x", status);
    CHECK(chld_code == CLD_KILLED && chld_status == SIGKILL, "SIGCHLD code %d status %d",
          chld_code, chld_status);
    child = fork_flushed();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL);
        volatile int *volatile bad = (volatile int *)8;
        *bad = 1;
        _exit(1);
    }
    EXPECT(waitpid(child, &status, 0), child);
    /* The core flag depends on RLIMIT_CORE on Linux: either code. */
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "segv status %#x", status);
    CHECK((chld_code == CLD_DUMPED) == !!WCOREDUMP(status) &&
              (chld_code == CLD_DUMPED || chld_code == CLD_KILLED),
          "SIGCHLD code %d, status %#x", chld_code, status);

    /* A handler and a blocked signal survive fork. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    EXPECT(sigaction(SIGUSR1, &sa, NULL), 0);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    EXPECT(sigprocmask(SIG_BLOCK, &block, &old), 0);
    child = fork_flushed();
    if (child == 0) {
        sigset_t now;
        struct sigaction got;
        sigprocmask(SIG_BLOCK, NULL, &now);
        sigaction(SIGUSR1, NULL, &got);
        usr1_seen = 0;
        raise(SIGUSR1);
        _exit(sigismember(&now, SIGUSR2) && got.sa_handler == on_usr1 && usr1_seen == 1
                  ? 0
                  : 1);
    }
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork kept signals: %#x", status);
    EXPECT(sigprocmask(SIG_SETMASK, &old, NULL), 0);

    /* execve resets a handled action (exec-sig checks SIGUSR1 is SIG_DFL)
     * and keeps an ignored one (SIGUSR2). */
    signal(SIGUSR2, SIG_IGN);
    child = fork_flushed();
    if (child == 0) {
        char *argv[] = {(char *)self, "exec-sig", NULL};
        char *envp[] = {NULL};
        execve(self, argv, envp);
        _exit(2);
    }
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 43, "exec-sig: %#x", status);
    signal(SIGUSR2, SIG_DFL);

    /* wait4 cut short: the child signals its parent and lives on. */
    usr1_seen = 0;
    pid_t parent = getpid();
    child = fork_flushed();
    if (child == 0) {
        kill(parent, SIGUSR1);
        for (;;)
            pause();
    }
    long r = raw(SYS_wait4, child, (long)&status, 0, 0, 0, 0);
    CHECK(r == -EINTR && usr1_seen == 1, "wait4 = %ld, usr1 %d", r, usr1_seen);
    EXPECT(kill(child, SIGTERM), 0);
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);

    /* A futex wait cut short. */
    usr1_seen = 0;
    child = fork_flushed();
    if (child == 0) {
        kill(parent, SIGUSR1);
        _exit(0);
    }
    static int word;
    r = raw(SYS_futex, (long)&word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
    CHECK(r == -EINTR && usr1_seen == 1, "futex = %ld, usr1 %d", r, usr1_seen);
    EXPECT(waitpid(child, &status, 0), child);

    /* kill(0, sig) reaches the caller's own group (the caller in it): a
     * child in a group of its own, so nothing else is hit. */
    child = fork_flushed();
    if (child == 0) {
        usr1_seen = 0;
        if (setpgid(0, 0) != 0)
            _exit(2);
        _exit(kill(0, SIGUSR1) == 0 && usr1_seen == 1 ? 0 : 1);
    }
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "kill(0): %#x", status);

    /* tgkill to another thread by its tid. */
    usr1_seen = 0;
    thread_tid = 0;
    pthread_t t;
    EXPECT(pthread_create(&t, NULL, tgkill_thread, NULL), 0);
    while (!thread_tid)
        sched_yield();
    CHECK(thread_tid != getpid(), "thread tid %d", thread_tid);
    EXPECT(raw(SYS_tgkill, getpid(), thread_tid, SIGUSR1, 0, 0, 0), 0);
    EXPECT(pthread_join(t, NULL), 0);
    CHECK(usr1_seen == 1, "tgkill: usr1 %d", usr1_seen);
    EXPECT(raw(SYS_tgkill, getpid() + 100000, getpid(), SIGUSR1, 0, 0, 0), -ESRCH);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
}

static void orphans(void)
{
    pid_t child = fork_flushed();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            for (int i = 0; i < 100000 && getppid() != 1; i++)
                sched_yield();
            _exit(0);
        }
        _exit(grandchild > 0 ? 0 : 1);
    }
    int status = -1;
    EXPECT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "middle child %#x", status);
    /* The grandchild is not ours. */
    EXPECT(raw(SYS_wait4, -1, 0, WNOHANG, 0, 0, 0), -ECHILD);
}

static int forkbomb(void)
{
    pid_t parent = getpid();
    int made = 0;
    for (;;) {
        pid_t child = fork();
        if (child == 0) {
            while (getppid() == parent)
                sched_yield();
            _exit(0);
        }
        if (child < 0)
            break;
        made++;
    }
    int err = errno;
    printf("proctest: forkbomb made %d children, then errno %d\n", made, err);
    return err == EAGAIN ? (made > 250 ? 250 : made) : 255;
}

/* Two 150 MiB mappings, then fork until it fails: past the first child
 * or two, a copy runs out of memory part-way. */
static int memfork(void)
{
    pid_t parent = getpid();
    for (int i = 0; i < 2; i++) {
        char *p = mmap(NULL, 150 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED)
            return 254;
        p[0] = (char)(i + 1);
    }
    int made = 0;
    for (; made < 20; made++) {
        pid_t child = fork();
        if (child == 0) {
            while (getppid() == parent)
                sched_yield();
            _exit(0);
        }
        if (child < 0)
            break;
    }
    int err = errno;
    printf("proctest: memfork made %d children, then errno %d\n", made, err);
    return err == ENOMEM && made >= 1 ? 0 : 1;
}

static int fork_cost(int n)
{
    for (int i = 0; i < n; i++) {
        pid_t child = fork();
        if (child == 0)
            _exit(0);
        if (child < 0 || waitpid(child, NULL, 0) != child)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 3 && strcmp(argv[1], "exec-child") == 0) {
        const char *k = getenv("K");
        int ok = getpid() == atoi(argv[2]) && strcmp(argv[3], "two") == 0 && k &&
                 strcmp(k, "V") == 0;
        return ok ? 42 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "exec-sig") == 0) {
        struct sigaction usr1, usr2;
        sigaction(SIGUSR1, NULL, &usr1);
        sigaction(SIGUSR2, NULL, &usr2);
        return usr1.sa_handler == SIG_DFL && usr2.sa_handler == SIG_IGN ? 43 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "forkbomb") == 0)
        return forkbomb();
    if (argc > 1 && strcmp(argv[1], "memfork") == 0)
        return memfork();
    if (argc > 2 && strcmp(argv[1], "fork-cost") == 0)
        return fork_cost(atoi(argv[2]));
    printf("proctest: pid %d\n", getpid());
    fork_and_wait();
    fork_registers();
    groups();
    exec(argv[0]);
    shared_position();
    descriptions_outlive_close();
    threads();
    signals(argv[0]);
    orphans();
    printf("proctest: %d failures\n", failures);
    return failures > 100 ? 100 : failures;
}
