/*
 * rootlin: a Linux program whose SMACH has a root (viewtest mode 17,
 * kernel/src/tests/views.rs, docs/views.md "A directory as a child's
 * root"). The kernel test put it at /jail/rootlin, /jail/inside
 * ("inside the jail") and /secret ("SECRET") outside; its native parent
 * is rooted at /jail and started it as "/rootlin".
 *
 * Every Linux way to name a file must stay inside the root: `..` at the
 * root, absolute and relative names, `openat` from a directory, the
 * working directory, `getdents64` of "/", stat, access, mkdir, rename,
 * rmdir of the root, the shared devices, execve (of a name outside, and
 * of itself inside: run "again"), and a fork. Exit status: the number
 * of failed checks (0: confined).
 */
#define TEST_NAME "rootlin"
#include "linux_test.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const OUTSIDE[] = {
    "/secret", "../secret", "/../secret", "../../../secret", "//..//secret",
    "/jail/inside", "/./../jail/../secret",
};

static long open_ro(const char *path)
{
    return raw(SYS_open, (long)path, O_RDONLY);
}

/* Reads the file at `path` (from `dirfd`) into `buf`: its length or -errno. */
static long read_at(int dirfd, const char *path, char *buf, long size)
{
    long fd = raw(SYS_openat, dirfd, (long)path, O_RDONLY);
    if (fd < 0)
        return fd;
    long n = raw(SYS_read, fd, (long)buf, size);
    raw(SYS_close, fd);
    return n;
}

static void expect_inside(int dirfd, const char *path)
{
    char buf[64] = {0};
    long n = read_at(dirfd, path, buf, sizeof buf - 1);
    CHECK(n == 15 && memcmp(buf, "inside the jail", 15) == 0,
          "%s: read %ld bytes \"%s\", expected \"inside the jail\"", path, n, buf);
}

static void expect_cwd(const char *want)
{
    char buf[256] = {0};
    long n = raw(SYS_getcwd, (long)buf, sizeof buf);
    CHECK(n > 0 && strcmp(buf, want) == 0, "getcwd = %ld \"%s\", expected \"%s\"", n, buf, want);
}

/* The names getdents64 lists in "/": "inside" must be there, nothing of
 * the real root. */
static void list_root(void)
{
    long fd = raw(SYS_open, (long)"/", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0, "open / as a directory: %ld", fd);
    if (fd < 0)
        return;
    char buf[4096];
    int saw_inside = 0;
    for (;;) {
        long n = raw(SYS_getdents64, fd, (long)buf, sizeof buf);
        CHECK(n >= 0, "getdents64 of /: %ld", n);
        if (n <= 0)
            break;
        for (long at = 0; at < n;) {
            unsigned short reclen;
            memcpy(&reclen, buf + at + 16, sizeof reclen);
            const char *name = buf + at + 19;
            saw_inside |= strcmp(name, "inside") == 0;
            CHECK(strcmp(name, "secret") != 0 && strcmp(name, "jail") != 0 &&
                      strcmp(name, "bin") != 0,
                  "getdents64 of / lists \"%s\", outside the root", name);
            if (reclen == 0)
                break;
            at += reclen;
        }
    }
    CHECK(saw_inside, "getdents64 of / does not list \"inside\"");
    raw(SYS_close, fd);
}

static void names(void)
{
    for (unsigned i = 0; i < sizeof OUTSIDE / sizeof OUTSIDE[0]; i++) {
        EXPECT(open_ro(OUTSIDE[i]), -ENOENT);
        struct stat st;
        EXPECT(raw(SYS_stat, (long)OUTSIDE[i], (long)&st), -ENOENT);
        EXPECT(raw(SYS_access, (long)OUTSIDE[i], F_OK), -ENOENT);
    }
    expect_inside(AT_FDCWD, "/inside");
    expect_inside(AT_FDCWD, "../../inside");
    struct stat st;
    EXPECT(raw(SYS_stat, (long)"/", (long)&st), 0);
    CHECK(S_ISDIR(st.st_mode), "stat / is no directory (mode %o)", st.st_mode);
    list_root();
}

static void working_directory(void)
{
    expect_cwd("/");
    EXPECT(raw(SYS_chdir, (long)".."), 0);
    expect_cwd("/");
    EXPECT(raw(SYS_mkdir, (long)"/../sub", 0755), 0);
    EXPECT(raw(SYS_chdir, (long)"sub"), 0);
    expect_cwd("/sub");
    expect_inside(AT_FDCWD, "../inside");
    EXPECT(open_ro("../../secret"), -ENOENT);
    long dir = raw(SYS_open, (long)".", O_RDONLY | O_DIRECTORY);
    CHECK(dir >= 0, "open . as a directory: %ld", dir);
    if (dir >= 0) {
        EXPECT(raw(SYS_openat, dir, (long)"../../secret", O_RDONLY), -ENOENT);
        expect_inside(dir, "../inside");
        EXPECT(raw(SYS_chdir, (long)"/"), 0);
        EXPECT(raw(SYS_fchdir, dir), 0);
        expect_cwd("/sub");
        raw(SYS_close, dir);
    }
    EXPECT(raw(SYS_chdir, (long)"/"), 0);
}

static void changes(void)
{
    long fd = raw(SYS_open, (long)"/../made_lin", O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0, "create /../made_lin: %ld", fd);
    if (fd >= 0)
        raw(SYS_close, fd);
    EXPECT(raw(SYS_rename, (long)"/made_lin", (long)"../../moved_lin"), 0);
    EXPECT(raw(SYS_rmdir, (long)"/"), -EBUSY);
    EXPECT(raw(SYS_rename, (long)"/", (long)"/elsewhere"), -EBUSY);
    EXPECT(raw(SYS_rename, (long)"/sub", (long)"/"), -EBUSY);
    EXPECT(raw(SYS_unlink, (long)"/secret"), -ENOENT);
}

static void devices(void)
{
    long null = raw(SYS_open, (long)"/dev/null", O_WRONLY);
    CHECK(null >= 0, "open /dev/null: %ld", null);
    if (null >= 0)
        raw(SYS_close, null);
    struct stat st;
    EXPECT(raw(SYS_stat, (long)"/dev/null", (long)&st), 0);
    /* The private devices' names open devices, nothing else: no call
     * reaches the real tree's /dev through them (the kernel test made
     * one there). */
    EXPECT(raw(SYS_mkdir, (long)"/dev/port", 0755), -ENOENT);
    EXPECT(raw(SYS_stat, (long)"/dev/pipe", (long)&st), -ENOENT);
    long fd = raw(SYS_open, (long)"/dev_out", O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0, "create /dev_out: %ld", fd);
    if (fd >= 0)
        raw(SYS_close, fd);
    EXPECT(raw(SYS_rename, (long)"/dev_out", (long)"/dev/pipe"), -ENOENT);
    EXPECT(raw(SYS_unlink, (long)"/dev_out"), 0);
    /* The shared devices are reached only by a share under a root. */
    EXPECT(raw(SYS_open, (long)"/dev/tty", O_RDWR), -ENOENT);
    EXPECT(raw(SYS_open, (long)"/dev/mem", O_RDONLY), -ENOENT);
}

static void fork_inside(void)
{
    long pid = raw(SYS_fork);
    if (pid == 0)
        raw(SYS_exit_group, open_ro("/secret") == -ENOENT && open_ro("../secret") == -ENOENT ? 0 : 1);
    CHECK(pid > 0, "fork: %ld", pid);
    if (pid <= 0)
        return;
    int status = -1;
    EXPECT(raw(SYS_wait4, pid, (long)&status, 0, 0), pid);
    CHECK(status == 0, "the fork saw outside its root (status %#x)", status);
}

static void exec(void)
{
    char *const outside[] = {"busybox", "ls", "/", NULL};
    char *const env[] = {NULL};
    /* Out already: an execve that works would drop the failures. */
    if (failures)
        return;
    fflush(stdout);
    EXPECT(raw(SYS_execve, (long)"/bin/busybox", (long)outside, (long)env), -ENOENT);
    fflush(stdout);
    EXPECT(raw(SYS_execve, (long)"/../bin/ls", (long)outside, (long)env), -ENOENT);
    if (failures)
        return;
    char *const again[] = {"rootlin", "again", NULL};
    fflush(stdout);
    long got = raw(SYS_execve, (long)"/rootlin", (long)again, (long)env);
    CHECK(0, "execve of /rootlin inside the root: %ld", got);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "again") == 0) {
        /* The exec'd image: still inside. */
        EXPECT(open_ro("/secret"), -ENOENT);
        expect_inside(AT_FDCWD, "/inside");
        if (!failures)
            printf("rootlin: confined after execve\n");
        fflush(stdout);
        return failures;
    }
    names();
    working_directory();
    changes();
    devices();
    fork_inside();
    exec();
    fflush(stdout);
    return failures;
}
