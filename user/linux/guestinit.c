/*
 * guestinit: /init of the Linux guest that runs the Linux test programs
 * (xtask/src/linux_suite.rs). A test program must not be pid 1 (Linux
 * gives pid 1 no default signal actions and makes it every orphan's
 * reaper), so this init runs each program named on its command line as a
 * child, waits for it, prints "guestinit: NAME exited with status N" and
 * powers the guest off.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const PROGRAMS[] = {"/bin/sigtest", "/bin/proctest", 0};

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    for (int i = 0; PROGRAMS[i]; i++) {
        pid_t child = fork();
        if (child == 0) {
            /* Its own session with the console as its controlling
             * terminal, as a login shell's child has (the programs check
             * the terminal's process group). */
            setsid();
            ioctl(0, TIOCSCTTY, 1);
            char *const argv[] = {(char *)PROGRAMS[i], 0};
            char *const envp[] = {"PATH=/bin", 0};
            execve(PROGRAMS[i], argv, envp);
            _exit(127);
        }
        int status = 0;
        while (waitpid(child, &status, 0) < 0)
            ;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        printf("guestinit: %s exited with status %d\n", PROGRAMS[i], code);
    }
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
