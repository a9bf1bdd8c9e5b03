// Implementation of the wrappers declared in CScorpioLinux.h; see that header for why they exist.
#define _GNU_SOURCE
#include "CScorpioLinux.h"
#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <malloc.h>

int scorpio_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

int scorpio_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

int scorpio_open_directory_beneath(int dirfd, const char *path) {
    // struct open_how and the RESOLVE_* values from include/uapi/linux/openat2.h (Linux 5.6+),
    // spelled out: Debian 12's headers have them, but not every libc exposes them.
    struct { uint64_t flags, mode, resolve; } how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .mode = 0,
        .resolve = 0x08 /* RESOLVE_BENEATH */ | 0x04 /* RESOLVE_NO_SYMLINKS */ | 0x02 /* RESOLVE_NO_MAGICLINKS */,
    };
    return (int)syscall(437 /* SYS_openat2 */, dirfd, path, &how, sizeof how);
}

int scorpio_fchmodat_nofollow(int dirfd, const char *path, unsigned int mode) {
    long result = syscall(452 /* SYS_fchmodat2 */, dirfd, path, mode, AT_SYMLINK_NOFOLLOW);
    if (result == -1 && errno == ENOSYS) return fchmodat(dirfd, path, mode, AT_SYMLINK_NOFOLLOW);
    return (int)result;
}

ssize_t scorpio_pread_nowait(int fd, void *buf, size_t len, int64_t offset) {
    struct iovec vector = { .iov_base = buf, .iov_len = len };
    return preadv2(fd, &vector, 1, (off_t)offset, RWF_NOWAIT);
}

ssize_t scorpio_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len, unsigned int flags) {
    return copy_file_range(fd_in, (off64_t *)off_in, fd_out, (off64_t *)off_out, len, flags);
}

int scorpio_fallocate(int fd, int mode, int64_t offset, int64_t len) { return fallocate(fd, mode, offset, len); }

int scorpio_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data) {
    return mount(source, target, fstype, flags, data);
}

int scorpio_umount2(const char *target, int flags) { return umount2(target, flags); }

ssize_t scorpio_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    char control[CMSG_SPACE(sizeof(int) * 8)];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    memset(control, 0, sizeof(control));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 8) { errno = EINVAL; return -1; }
    if (nfds > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    ssize_t r;
    do { r = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    return r;
}

ssize_t scorpio_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    char control[CMSG_SPACE(sizeof(int) * 8)];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    *nfds = 0;
    ssize_t r;
    do { r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (r < 0 && errno == EINTR);
    if (r < 0) return r;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *received = (int *)CMSG_DATA(c);
        for (int i = 0; i < n; i++) {
            if (*nfds < maxfds) fds[(*nfds)++] = received[i];
            else close(received[i]);  // more than the caller can hold: never leak them
        }
    }
    return r;
}

int scorpio_accept_cloexec(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC); }

int scorpio_recv_fd(int sock) {
    char byte;
    int fd = -1, n = 0;
    ssize_t r = scorpio_recv_with_fds(sock, &byte, 1, &fd, 1, &n);
    if (r < 0) return -1;
    if (n == 0) { errno = ENODATA; return -1; }
    return fd;
}

const char *scorpio_dirent_name(const void *d) { return ((const struct dirent *)d)->d_name; }
unsigned char scorpio_dirent_type(const void *d) { return ((const struct dirent *)d)->d_type; }
uint64_t scorpio_dirent_ino(const void *d) { return ((const struct dirent *)d)->d_ino; }

uint64_t scorpio_makedev(unsigned int ma, unsigned int mi) { return makedev(ma, mi); }
unsigned int scorpio_major(uint64_t dev) { return major(dev); }
unsigned int scorpio_minor(uint64_t dev) { return minor(dev); }

int scorpio_o_path(void) { return O_PATH; }
int scorpio_o_tmpfile(void) { return O_TMPFILE; }
int scorpio_o_direct(void) { return O_DIRECT; }
int scorpio_o_noatime(void) { return O_NOATIME; }
int scorpio_seek_data(void) { return SEEK_DATA; }
int scorpio_seek_hole(void) { return SEEK_HOLE; }

ssize_t scorpio_lgetxattr(const char *p, const char *n, void *v, size_t s) { return lgetxattr(p, n, v, s); }
int scorpio_lsetxattr(const char *p, const char *n, const void *v, size_t s, int f) { return lsetxattr(p, n, v, s, f); }
ssize_t scorpio_llistxattr(const char *p, char *l, size_t s) { return llistxattr(p, l, s); }
int scorpio_lremovexattr(const char *p, const char *n) { return lremovexattr(p, n); }
ssize_t scorpio_fgetxattr(int fd, const char *n, void *v, size_t s) { return fgetxattr(fd, n, v, s); }
int scorpio_fsetxattr(int fd, const char *n, const void *v, size_t s, int f) { return fsetxattr(fd, n, v, s, f); }
int scorpio_fremovexattr(int fd, const char *n) { return fremovexattr(fd, n); }
ssize_t scorpio_flistxattr(int fd, char *l, size_t s) { return flistxattr(fd, l, s); }

int scorpio_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }
int scorpio_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }

int scorpio_spawn(const char *file, char *const argv[], char *const envp[], const int *from, const int *to, int count, int new_session, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    for (int i = 0; i < count; i++) posix_spawn_file_actions_adddup2(&actions, from[i], to[i]);
    sigset_t none;
    sigemptyset(&none);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawnattr_setsigmask(&attr, &none);  // the child must not inherit our blocked signals
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);  // we ignore SIGPIPE; git and ssh expect the default
    posix_spawnattr_setsigdefault(&attr, &defaults);
    if (new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, flags);
    int r = posix_spawnp(pid, file, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return r;
}

static void termination_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

void scorpio_ignore_broken_pipe(void) { signal(SIGPIPE, SIG_IGN); }

int scorpio_block_termination_signals(void) {
    sigset_t set;
    termination_set(&set);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int scorpio_wait_signal(void) {
    sigset_t set;
    termination_set(&set);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {}
    return sig;
}

int scorpio_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int scorpio_cached_bytes(int fd, uint64_t offset, uint64_t length, uint64_t *cached) {
    // cachestat(2), Linux 6.5 (syscall 451 on every architecture); Debian 12's headers predate it.
    struct { uint64_t off, len; } range = { offset, length };
    struct { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } stat;
    if (syscall(451, fd, &range, &stat, 0) != 0) return -errno;
    *cached = stat.nr_cache * (uint64_t)sysconf(_SC_PAGESIZE);
    return 0;
}

int scorpio_malloc_trim(void) { return malloc_trim(0); }


/* Per-thread filesystem identity (setfsuid/setfsgid act on the calling thread only; glibc does
 * not broadcast them to other threads as it does setuid). Changing the fsuid away from 0 drops
 * the file capabilities (CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_MKNOD...) from the
 * thread's effective set; the effective set the thread had is put back, so it keeps root's
 * access while new objects get the caller's owner, as overlayfs's creds override does. Every
 * credential change also resets the process's dumpable flag (no core dumps); it is set back. */
struct scorpio_cap_header { uint32_t version; int pid; };
struct scorpio_cap_data { uint32_t effective, permitted, inheritable; };

/* The calling thread's capabilities before the switch, put back by the restore. */
static __thread struct scorpio_cap_data scorpio_saved_caps[2];
static __thread int scorpio_caps_saved = 0;
/* The process's dumpable flag before the first switch (-1: not read yet). */
static int scorpio_initial_dumpable = -1;

static int scorpio_set_caps(struct scorpio_cap_data *data) {
    struct scorpio_cap_header header = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 };
    return (int)syscall(SYS_capset, &header, data);
}

int scorpio_become_fs_identity(unsigned int uid, unsigned int gid) {
    struct scorpio_cap_header header = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 };
    if (scorpio_initial_dumpable < 0) scorpio_initial_dumpable = prctl(PR_GET_DUMPABLE);
    if (syscall(SYS_capget, &header, scorpio_saved_caps) != 0) return -1;
    scorpio_caps_saved = 1;
    setfsgid(gid);
    setfsuid(uid);
    /* Each call returns the previous value: asking again tells whether the change took. */
    if ((unsigned int)setfsgid(gid) != gid || (unsigned int)setfsuid(uid) != uid) {
        scorpio_restore_fs_identity();
        errno = EPERM;
        return -1;
    }
    if (uid != 0 && scorpio_set_caps(scorpio_saved_caps) != 0) {
        int saved = errno;
        scorpio_restore_fs_identity();
        errno = saved;
        return -1;
    }
    return 0;
}

void scorpio_restore_fs_identity(void) {
    setfsgid(getegid());
    setfsuid(geteuid());
    /* Back at fsuid 0 the kernel raised the permitted file capabilities: keep exactly the set
     * the thread had. */
    if (scorpio_caps_saved) {
        scorpio_set_caps(scorpio_saved_caps);
        scorpio_caps_saved = 0;
    }
    if (scorpio_initial_dumpable == 1) prctl(PR_SET_DUMPABLE, 1);
}
