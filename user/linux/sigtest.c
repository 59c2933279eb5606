/*
 * sigtest: a static Linux x86-64 program (glibc, `gcc -static`) for the
 * Linux personality's signals (docs/unix.md, "Signals"). The xtask builds
 * it and packs it into the initrd as /bin/sigtest;
 * kernel/src/tests/linux_signals.rs runs it.
 *
 * argv[1] picks the mode:
 *   (none)       every in-process check; exit 0 if all pass, else the
 *                number of failures (each printed).
 *   term         kill(getpid(), SIGTERM) at SIG_DFL (killed: 128 + 15).
 *   segv         NULL write, no handler (128 + 11).
 *   fpe          divide by zero, no handler (128 + 8).
 *   abort        glibc abort() (128 + 6).
 *   segv-loop    a SIGSEGV handler that faults again (128 + 11).
 *   storm        a SA_NODEFER handler that raises itself forever (128 + 11
 *                once the stack is full).
 *   forge-rip    rt_sigreturn with a kernel rip (128 + 11).
 *   forge-noncanon  ... with a non-canonical rip (128 + 11).
 *   forge-iopl   ... with IOPL 3 in rflags, resuming at `cli` (128 + 11:
 *                the IOPL was dropped; 99 if it was granted).
 *   forge-cs     ... with the kernel's cs: here the frame's cs is ignored
 *                and it resumes in user mode (exit 0 if cs has RPL 3, else
 *                98); Linux ORs in RPL 3 and the iret fails (SIGSEGV).
 *   badstack     a signal with a handler while rsp points at unmapped
 *                memory: the frame cannot be written (128 + 11).
 *   sleeper      nanosleep(100 s) then clock_nanosleep(TIMER_ABSTIME) each
 *                cut short by a SIGUSR1 the test posts: exit 0 if both
 *                fail with EINTR (the first with the time left) and the
 *                handler ran twice.
 *   spin         spins in user mode (no calls) until its SIGINT handler
 *                ran (the test posts it with Ctrl-C): exit 0; 3 if 4e8
 *                turns went by without it.
 *   fpspin       as spin, with a pattern in xmm0 that the handler
 *                clobbers: exit 0 if rt_sigreturn brought it back, 4 if
 *                not, 3 if the signal never came.
 *   restart      a console read with a SA_RESTART SIGUSR1 handler, then
 *                one without SA_RESTART: the first goes on after the
 *                handler (reads the line the test types), the second
 *                fails with EINTR; exit 0 if so.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <poll.h>
#include <sys/select.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define TEST_NAME "sigtest"
#include "linux_test.h"





#define KERNEL_ADDRESS 0xffffffff80000000L
#define NONCANONICAL 0x0000800000000000L

/* Registers after `marked_syscall`. */
struct regs {
    long rbx, rbp, r12, r13, r14, r15, rdi, rsi, rdx, r10, r8, r9, rcx, rax, r11;
};

/* marked_syscall(out, n, a, b, c): every register but rax/rdi/rsi/rdx (the
 * call and its arguments) set to a mark, `syscall`, then every register
 * stored to *out. `marked_syscall_ret` is the return address. */
extern void marked_syscall(struct regs *out, long n, long a, long b, long c);
extern char marked_syscall_ret[];
__asm__(".text\n"
        ".globl marked_syscall\n"
        "marked_syscall:\n"
        "push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "push %rdi\n"
        "mov %rsi, %rax\n mov %rdx, %rdi\n mov %rcx, %rsi\n mov %r8, %rdx\n"
        "movabs $0x1111111111111111, %rbx\n"
        "movabs $0x2222222222222222, %rbp\n"
        "movabs $0x3333333333333333, %r12\n"
        "movabs $0x4444444444444444, %r13\n"
        "movabs $0x5555555555555555, %r14\n"
        "movabs $0x6666666666666666, %r15\n"
        "movabs $0x0aaaaaaaaaaaaaaa, %r10\n"
        "movabs $0x0bbbbbbbbbbbbbbb, %r8\n"
        "movabs $0x0ccccccccccccccc, %r9\n"
        "syscall\n"
        ".globl marked_syscall_ret\n"
        "marked_syscall_ret:\n"
        "xchg %rax, (%rsp)\n"
        "mov %rbx, 0(%rax)\n mov %rbp, 8(%rax)\n mov %r12, 16(%rax)\n"
        "mov %r13, 24(%rax)\n mov %r14, 32(%rax)\n mov %r15, 40(%rax)\n"
        "mov %rdi, 48(%rax)\n mov %rsi, 56(%rax)\n mov %rdx, 64(%rax)\n"
        "mov %r10, 72(%rax)\n mov %r8, 80(%rax)\n mov %r9, 88(%rax)\n"
        "mov %rcx, 96(%rax)\n mov %r11, 112(%rax)\n"
        "pop %rcx\n mov %rcx, 104(%rax)\n"
        "pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "ret\n");

static volatile int runs;
static volatile int last_sig;
static volatile int last_code;
static volatile long last_pid;
static volatile long last_rip;
static volatile long last_mask_word;
static volatile int usr1_blocked_inside;
static volatile int rewrite_registers;
static volatile long handler_local;
static volatile int onstack_flags;

static void on_info(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    runs++;
    last_sig = info->si_signo == sig ? sig : -1;
    last_code = info->si_code;
    last_pid = info->si_pid;
    last_rip = uc->uc_mcontext.gregs[REG_RIP];
    last_mask_word = *(long *)&uc->uc_sigmask;
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    usr1_blocked_inside = sigismember(&now, SIGUSR1);
    handler_local = (long)&uc;
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0)
        onstack_flags = ss.ss_flags;
    if (rewrite_registers) {
        greg_t *g = uc->uc_mcontext.gregs;
        g[REG_RBX] = 0x0101; g[REG_RBP] = 0x0202; g[REG_R12] = 0x0303;
        g[REG_R13] = 0x0404; g[REG_R14] = 0x0505; g[REG_R15] = 0x0606;
        g[REG_RDI] = 0x0707; g[REG_RSI] = 0x0808; g[REG_RDX] = 0x0909;
        g[REG_R10] = 0x0a0a; g[REG_R8] = 0x0b0b; g[REG_R9] = 0x0c0c;
        g[REG_RCX] = 0x0d0d; g[REG_RAX] = 0x0e0e; g[REG_R11] = 0x0f0f;
    }
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        failures++;
        printf("sigtest: FAIL sigaction(%d)\n", sig);
    }
}

static sigjmp_buf jump;
static volatile long fault_addr;
static volatile int fault_code;
static volatile int fault_sig;

static void on_fault(int sig, siginfo_t *info, void *context)
{
    (void)context;
    fault_sig = sig;
    fault_addr = (long)info->si_addr;
    fault_code = info->si_code;
    siglongjmp(jump, 1);
}


/* Low addresses the compiler cannot see through. */
static volatile long low_address[2] = {8, 16};

static void check_sigaction_errors(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    EXPECT(raw(SYS_rt_sigaction, SIGKILL, (long)&sa, 0, 8), -22);
    EXPECT(raw(SYS_rt_sigaction, SIGSTOP, (long)&sa, 0, 8), -22);
    EXPECT(raw(SYS_rt_sigaction, 0, 0, 0, 8), -22);
    EXPECT(raw(SYS_rt_sigaction, 65, 0, 0, 8), -22);
    EXPECT(raw(SYS_rt_sigaction, SIGUSR1, 0, 0, 4), -22);
    EXPECT(raw(SYS_rt_sigaction, SIGUSR1, KERNEL_ADDRESS, 0, 8), -14);
    EXPECT(raw(SYS_rt_sigaction, SIGUSR1, 0, KERNEL_ADDRESS, 8), -14);
    EXPECT(raw(SYS_rt_sigaction, SIGKILL, 0, (long)&sa, 8), 0);
    EXPECT(raw(SYS_rt_sigprocmask, 7, (long)&sa, 0, 8), -22);
    EXPECT(raw(SYS_rt_sigprocmask, SIG_BLOCK, KERNEL_ADDRESS, 0, 8), -14);
    EXPECT(raw(SYS_tgkill, getpid(), getpid(), 65, 0), -22);
    EXPECT(raw(SYS_tgkill, getpid(), 0, SIGUSR1, 0), -22);
    EXPECT(raw(SYS_kill, 999999, SIGUSR1, 0, 0), -3);
    EXPECT(raw(SYS_kill, getpid(), 0, 0, 0), 0);
}

static void check_handler_and_registers(void)
{
    install(SIGUSR1, on_info, 0);
    runs = 0;
    EXPECT(raise(SIGUSR1), 0);
    CHECK(runs == 1, "handler ran %d times", runs);
    CHECK(last_sig == SIGUSR1, "siginfo signal %d", last_sig);
    CHECK(last_code == SI_TKILL, "si_code %d (SI_TKILL expected)", last_code);
    CHECK(last_pid == getpid(), "si_pid %ld", last_pid);
    CHECK(usr1_blocked_inside, "SIGUSR1 not blocked in its own handler");
    CHECK((last_mask_word & (1L << (SIGUSR1 - 1))) == 0, "uc_sigmask %#lx", last_mask_word);

    /* Every register survives a delivery at a call's return. */
    struct regs r;
    runs = 0;
    marked_syscall(&r, SYS_tgkill, getpid(), getpid(), SIGUSR1);
    CHECK(runs == 1, "handler ran %d times (marked)", runs);
    CHECK(last_rip == (long)marked_syscall_ret, "uc rip %#lx, expected %p", last_rip,
          (void *)marked_syscall_ret);
    CHECK(r.rax == 0, "rax %#lx after the handler", r.rax);
    CHECK(r.rbx == 0x1111111111111111L && r.rbp == 0x2222222222222222L &&
              r.r12 == 0x3333333333333333L && r.r13 == 0x4444444444444444L &&
              r.r14 == 0x5555555555555555L && r.r15 == 0x6666666666666666L,
          "a callee-saved register changed across the handler");
    CHECK(r.rdi == getpid() && r.rsi == getpid() && r.rdx == SIGUSR1 &&
              r.r10 == 0x0aaaaaaaaaaaaaaaL && r.r8 == 0x0bbbbbbbbbbbbbbbL &&
              r.r9 == 0x0cccccccccccccccL,
          "an argument register changed (rdi %#lx rsi %#lx rdx %#lx r10 %#lx r8 %#lx r9 %#lx)",
          r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9);
    CHECK(r.rcx == (long)marked_syscall_ret, "rcx %#lx", r.rcx);

    /* After rt_sigreturn every register is the frame's (rcx and r11 too). */
    rewrite_registers = 1;
    marked_syscall(&r, SYS_tgkill, getpid(), getpid(), SIGUSR1);
    rewrite_registers = 0;
    CHECK(r.rbx == 0x0101 && r.rbp == 0x0202 && r.r12 == 0x0303 && r.r13 == 0x0404 &&
              r.r14 == 0x0505 && r.r15 == 0x0606 && r.rdi == 0x0707 && r.rsi == 0x0808 &&
              r.rdx == 0x0909 && r.r10 == 0x0a0a && r.r8 == 0x0b0b && r.r9 == 0x0c0c,
          "sigreturn: rbx %#lx rbp %#lx r12 %#lx r13 %#lx r14 %#lx r15 %#lx rdi %#lx rsi %#lx "
          "rdx %#lx r10 %#lx r8 %#lx r9 %#lx",
          r.rbx, r.rbp, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9);
    CHECK(r.rcx == 0x0d0d && r.rax == 0x0e0e && r.r11 == 0x0f0f,
          "sigreturn: rcx %#lx rax %#lx r11 %#lx", r.rcx, r.rax, r.r11);
}

static void check_mask_and_pending(void)
{
    sigset_t block, old, pending;
    install(SIGUSR2, on_info, 0);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    EXPECT(sigprocmask(SIG_BLOCK, &block, &old), 0);
    runs = 0;
    EXPECT(raise(SIGUSR2), 0);
    CHECK(runs == 0, "a blocked signal ran its handler");
    EXPECT(sigpending(&pending), 0);
    CHECK(sigismember(&pending, SIGUSR2), "SIGUSR2 not pending while blocked");
    EXPECT(sigprocmask(SIG_SETMASK, &old, NULL), 0);
    CHECK(runs == 1, "unblocking did not deliver (runs %d)", runs);
    EXPECT(sigpending(&pending), 0);
    CHECK(!sigismember(&pending, SIGUSR2), "SIGUSR2 still pending");

    /* Default-ignored signals do nothing. */
    signal(SIGCHLD, SIG_DFL);
    signal(SIGURG, SIG_DFL);
    signal(SIGWINCH, SIG_DFL);
    EXPECT(kill(getpid(), SIGCHLD), 0);
    EXPECT(kill(getpid(), SIGURG), 0);
    EXPECT(kill(getpid(), SIGWINCH), 0);
    /* So do ignored ones. */
    signal(SIGTERM, SIG_IGN);
    EXPECT(kill(getpid(), SIGTERM), 0);
    signal(SIGTERM, SIG_DFL);
}

static void check_resethand(void)
{
    install(SIGUSR1, on_info, SA_RESETHAND);
    runs = 0;
    EXPECT(raise(SIGUSR1), 0);
    CHECK(runs == 1, "SA_RESETHAND handler ran %d times", runs);
    struct sigaction now;
    EXPECT(sigaction(SIGUSR1, NULL, &now), 0);
    CHECK(now.sa_handler == SIG_DFL, "SA_RESETHAND left the handler installed");
}

static void check_sigsuspend_and_pgrp(void)
{
    sigset_t block, old, none, now;
    install(SIGUSR1, on_info, 0);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    EXPECT(sigprocmask(SIG_BLOCK, &block, &old), 0);
    runs = 0;
    EXPECT(raise(SIGUSR1), 0);
    CHECK(runs == 0, "blocked SIGUSR1 ran");
    sigemptyset(&none);
    /* The pending signal runs its handler inside rt_sigsuspend, which then
     * fails with EINTR and puts the old mask back. */
    EXPECT(raw(SYS_rt_sigsuspend, (long)&none, 8, 0, 0), -4);
    CHECK(runs == 1, "sigsuspend: handler ran %d times", runs);
    /* The frame saves the mask from before rt_sigsuspend (Linux's
     * saved_sigmask), so the handler's return already blocks SIGUSR1. */
    CHECK((last_mask_word & (1L << (SIGUSR1 - 1))) != 0, "frame mask %#lx (the old mask expected)",
          last_mask_word);
    EXPECT(sigprocmask(SIG_BLOCK, NULL, &now), 0);
    CHECK(sigismember(&now, SIGUSR1), "sigsuspend did not restore the mask");
    EXPECT(sigprocmask(SIG_SETMASK, &old, NULL), 0);

    if (!isatty(0))
        return; /* the console's process group: only on a terminal */
    int pgrp = -1;
    EXPECT(raw(SYS_ioctl, 0, TIOCGPGRP, (long)&pgrp, 0), 0);
    CHECK(pgrp == getpid(), "TIOCGPGRP %d", pgrp);
    pgrp = getpid();
    EXPECT(raw(SYS_ioctl, 0, TIOCSPGRP, (long)&pgrp, 0), 0);
    pgrp = -5;
    EXPECT(raw(SYS_ioctl, 0, TIOCSPGRP, (long)&pgrp, 0), -22);
    pgrp = 999999;
    EXPECT(raw(SYS_ioctl, 0, TIOCSPGRP, (long)&pgrp, 0), -3);
    EXPECT(raw(SYS_ioctl, 0, TIOCGPGRP, KERNEL_ADDRESS, 0), -14);
}

static char alt_stack[64 * 1024];

static void check_altstack(void)
{
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
    EXPECT(sigaltstack(&ss, NULL), 0);
    install(SIGUSR1, on_info, SA_ONSTACK);
    handler_local = 0;
    onstack_flags = -1;
    EXPECT(raise(SIGUSR1), 0);
    CHECK(handler_local >= (long)alt_stack && handler_local < (long)alt_stack + (long)sizeof alt_stack,
          "handler ran at %#lx, not on the alternate stack", handler_local);
    CHECK(onstack_flags == SS_ONSTACK, "ss_flags in the handler %d", onstack_flags);
    stack_t now;
    EXPECT(sigaltstack(NULL, &now), 0);
    CHECK(now.ss_flags == 0 && now.ss_sp == alt_stack, "after: flags %d", now.ss_flags);
    /* Without SA_ONSTACK: the ordinary stack. */
    install(SIGUSR1, on_info, 0);
    EXPECT(raise(SIGUSR1), 0);
    CHECK(!(handler_local >= (long)alt_stack && handler_local < (long)alt_stack + (long)sizeof alt_stack),
          "handler without SA_ONSTACK ran on the alternate stack");
    ss.ss_flags = SS_DISABLE;
    EXPECT(sigaltstack(&ss, NULL), 0);
    ss.ss_flags = 0;
    ss.ss_size = 100;
    EXPECT(raw(SYS_sigaltstack, (long)&ss, 0, 0, 0), -12);
}

static void check_faults(void)
{
    install(SIGSEGV, on_fault, 0);
    fault_sig = 0;
    if (sigsetjmp(jump, 1) == 0) {
        *(volatile int *)0 = 1;
        CHECK(0, "NULL write did not fault");
    }
    CHECK(fault_sig == SIGSEGV, "fault signal %d", fault_sig);
    CHECK(fault_addr == 0, "si_addr %#lx", fault_addr);
    CHECK(fault_code == SEGV_MAPERR, "si_code %d", fault_code);
    /* The mask came back with siglongjmp: a second fault is caught too. */
    fault_sig = 0;
    if (sigsetjmp(jump, 1) == 0) {
        *(volatile int *)low_address[0] = 1;
    }
    CHECK(fault_sig == SIGSEGV && fault_addr == 8, "second fault: sig %d addr %#lx", fault_sig,
          fault_addr);

    install(SIGFPE, on_fault, 0);
    fault_sig = 0;
    if (sigsetjmp(jump, 1) == 0) {
        __asm__ volatile("xor %%ecx, %%ecx\n mov $1, %%eax\n cltd\n idiv %%ecx" ::: "eax", "ecx",
                         "edx");
    }
    CHECK(fault_sig == SIGFPE && fault_code == FPE_INTDIV, "divide: sig %d code %d", fault_sig,
          fault_code);

    install(SIGILL, on_fault, 0);
    fault_sig = 0;
    if (sigsetjmp(jump, 1) == 0) {
        __asm__ volatile("ud2");
    }
    CHECK(fault_sig == SIGILL && fault_code == ILL_ILLOPN, "ud2: sig %d code %d", fault_sig,
          fault_code);
}

static void on_loop_fault(int sig)
{
    (void)sig;
    *(volatile int *)low_address[1] = 1;
}

static void on_storm(int sig)
{
    kill(getpid(), sig);
}

/* Resumes here after a forged rt_sigreturn: `cli` faults unless IOPL 3. */
static void iopl_probe(void)
{
    __asm__ volatile("cli");
    __asm__ volatile("sti");
    _exit(99);
}

static void cs_probe(void)
{
    unsigned short cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    _exit((cs & 3) == 3 ? 0 : 98);
}

static char probe_stack[16 * 1024] __attribute__((aligned(16)));

/* rt_sigreturn on a forged frame. */
static void forge(long rip, long rflags, long cs)
{
    static long frame[64] __attribute__((aligned(16)));
    memset(frame, 0, sizeof frame);
    /* frame[0] pretcode; uc at 8; mcontext at 48: gregs[i] at 48 + 8i. */
    long *g = (long *)((char *)frame + 48);
    g[REG_RIP] = rip;
    g[REG_RSP] = (long)(probe_stack + sizeof probe_stack - 8);
    g[REG_EFL] = rflags;
    g[REG_CSGSFS] = cs;
    __asm__ volatile("mov %0, %%rsp\n mov $15, %%eax\n syscall\n ud2\n"
                     :
                     : "r"((char *)frame + 8)
                     : "memory");
}

static volatile int got_usr1;

static void on_usr1(int sig)
{
    (void)sig;
    got_usr1++;
}

static int sleeper(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    struct timespec req = {.tv_sec = 100, .tv_nsec = 0}, rem = {0, 0};
    long r = raw(SYS_nanosleep, (long)&req, (long)&rem, 0, 0);
    EXPECT(r, -4);
    CHECK(got_usr1 == 1, "handler ran %d times", got_usr1);
    CHECK(rem.tv_sec > 0 && rem.tv_sec <= 100 && (rem.tv_sec < 100 || rem.tv_nsec == 0),
          "remaining %ld s %ld ns", (long)rem.tv_sec, (long)rem.tv_nsec);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_sec += 100;
    r = raw(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, (long)&now, 0);
    EXPECT(r, -4);
    CHECK(got_usr1 == 2, "handler ran %d times", got_usr1);
    /* A short sleep still sleeps and returns 0. */
    req.tv_sec = 0;
    req.tv_nsec = 1000000;
    EXPECT(raw(SYS_nanosleep, (long)&req, 0, 0, 0), 0);
    req.tv_nsec = 1000000000;
    EXPECT(raw(SYS_nanosleep, (long)&req, 0, 0, 0), -22);
    EXPECT(raw(SYS_nanosleep, KERNEL_ADDRESS, 0, 0, 0), -14);
    return failures;
}

static volatile int got_int;

static void on_int(int sig)
{
    (void)sig;
    got_int = 1;
}

static int spin(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    /* Bounded by a count, not a time: 3 if the signal never came. */
    for (long i = 0; i < 400000000L && !got_int; i++)
        __asm__ volatile("");
    return got_int ? 0 : 3;
}

static volatile int fp_flag;

/* Clobbers xmm0 in the handler, as glibc's string functions would. */
static void on_int_fp(int sig)
{
    (void)sig;
    __asm__ volatile("pcmpeqd %%xmm0, %%xmm0" ::: "xmm0");
    fp_flag = 1;
}

/* xmm0 holds a pattern while the program spins (no calls) until a SIGINT
 * handler that clobbers xmm0 ran: after it, xmm0 must hold the pattern. */
static int fpspin(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int_fp;
    sigaction(SIGINT, &sa, NULL);
    static const unsigned char pattern[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    unsigned char after[16];
    long left = 400000000L;
    __asm__ volatile("movdqu (%[pattern]), %%xmm0\n"
                     "1: cmpl $0, %[flag]\n"
                     "jne 2f\n"
                     "dec %[left]\n"
                     "jnz 1b\n"
                     "2: movdqu %%xmm0, (%[after])\n"
                     : [left] "+r"(left)
                     : [pattern] "r"(pattern), [after] "r"(after), [flag] "m"(fp_flag)
                     : "xmm0", "memory");
    if (!fp_flag)
        return 3;
    return memcmp(after, pattern, 16) == 0 ? 0 : 4;
}

static int restart(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    char line[64];
    long n = raw(SYS_read, 0, (long)line, sizeof line, 0);
    CHECK(got_usr1 == 1, "handler ran %d times", got_usr1);
    CHECK(n > 0 && line[0] == 'x', "restarted read returned %ld", n);
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    n = raw(SYS_read, 0, (long)line, sizeof line, 0);
    EXPECT(n, -4);
    CHECK(got_usr1 == 2, "handler ran %d times", got_usr1);
    return failures;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "term")) {
        kill(getpid(), SIGTERM);
        return 1;
    }
    if (!strcmp(mode, "segv")) {
        *(volatile int *)0 = 1;
        return 1;
    }
    if (!strcmp(mode, "fpe")) {
        __asm__ volatile("xor %%ecx, %%ecx\n mov $1, %%eax\n cltd\n idiv %%ecx" ::: "eax", "ecx",
                         "edx");
        return 1;
    }
    if (!strcmp(mode, "abort"))
        abort();
    if (!strcmp(mode, "segv-loop")) {
        signal(SIGSEGV, on_loop_fault);
        *(volatile int *)0 = 1;
        return 1;
    }
    if (!strcmp(mode, "storm")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_storm;
        sa.sa_flags = SA_NODEFER;
        sigaction(SIGUSR1, &sa, NULL);
        kill(getpid(), SIGUSR1);
        return 1;
    }
    if (!strcmp(mode, "forge-rip"))
        forge(KERNEL_ADDRESS, 0x202, 0x33);
    if (!strcmp(mode, "forge-noncanon"))
        forge(NONCANONICAL, 0x202, 0x33);
    if (!strcmp(mode, "forge-iopl"))
        forge((long)iopl_probe, 0x202 | (3 << 12), 0x33);
    if (!strcmp(mode, "forge-cs"))
        forge((long)cs_probe, 0x202, 0x08);
    if (!strcmp(mode, "badstack")) {
        install(SIGUSR1, on_info, 0);
        long pid = getpid();
        /* The frame would go below an unmapped rsp: SIGSEGV. */
        __asm__ volatile("mov $0x1000, %%rsp\n syscall\n ud2\n"
                         :
                         : "a"((long)SYS_tgkill), "D"(pid), "S"(pid), "d"((long)SIGUSR1)
                         : "memory");
    }
    if (!strcmp(mode, "pollwait")) {
        /* Blocks in poll with nothing to wait for: only a signal ends it. */
        poll(0, 0, -1);
        return 5;
    }
    if (!strcmp(mode, "selectwait")) {
        select(0, 0, 0, 0, 0);
        return 6;
    }
    if (!strcmp(mode, "sleeper"))
        return sleeper();
    if (!strcmp(mode, "spin"))
        return spin();
    if (!strcmp(mode, "fpspin"))
        return fpspin();
    if (!strcmp(mode, "restart"))
        return restart();
    if (mode[0] != 0) {
        printf("sigtest: unknown mode %s\n", mode);
        return 2;
    }
    check_sigaction_errors();
    check_handler_and_registers();
    check_mask_and_pending();
    check_resethand();
    check_altstack();
    check_sigsuspend_and_pgrp();
    check_faults();
    printf("sigtest: %d failures\n", failures);
    return failures;
}
