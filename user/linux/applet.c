/*
 * applet: a busybox applet "link" for a file system without links.
 *
 * The initrd holds one copy of busybox (/bin/busybox); each applet name
 * (/bin/cat, /bin/ls, ...) is this tiny static program, which runs
 * /bin/busybox with the same argv and envp. busybox picks the applet from
 * argv[0] as it would through a real link. No libc: the raw execve, and
 * exit status 127 if /bin/busybox cannot run (the shell's "not found").
 */
#include <sys/syscall.h>

static long raw3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

void applet_main(long *sp) __attribute__((noreturn, used));

void applet_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    raw3(SYS_execve, (long)"/bin/busybox", (long)argv, (long)envp);
    raw3(SYS_exit_group, 127, 0, 0);
    for (;;)
        ;
}

/* The GNU ABI tag (OS Linux, 3.2.0) every glibc program carries: a
 * Linux program's mark (a PT_NOTE), as the kernel's loader tells them
 * from native ones. */
__asm__(".section .note.ABI-tag, \"a\", @note\n"
        ".balign 4\n"
        ".long 4, 16, 1\n"
        ".asciz \"GNU\"\n"
        ".long 0, 3, 2, 0\n"
        ".previous\n");

__asm__(".globl _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call applet_main\n"
        "    ud2\n");
