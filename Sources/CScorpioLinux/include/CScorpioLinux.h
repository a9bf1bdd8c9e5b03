// Thin C wrappers for Linux calls Swift cannot import directly: variadic ioctl(), calls and
// constants that glibc only declares under _GNU_SOURCE, macros (makedev, CMSG_*), and the
// dirent name field. The header uses only plain C types so it never depends on which glibc
// feature macros the Swift importer saw; the implementation defines _GNU_SOURCE itself.
#ifndef CSCORPIOLINUX_H
#define CSCORPIOLINUX_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/// ioctl(2) with a pointer argument.
int scorpio_ioctl_ptr(int fd, unsigned long request, void *arg);
/// renameat2(2); flags are RENAME_NOREPLACE (1), RENAME_EXCHANGE (2), RENAME_WHITEOUT (4).
int scorpio_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
/// openat2(2) of a directory as O_PATH, resolved beneath dirfd without following any symlink
/// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS); returns the fd or -1.
int scorpio_open_directory_beneath(int dirfd, const char *path);
/// fchmodat2(2) (Linux 6.6+) with AT_SYMLINK_NOFOLLOW: one syscall, where glibc's fchmodat
/// emulates the flag with an O_PATH open and a chmod through /proc. Falls back to that
/// emulation on older kernels (ENOSYS).
int scorpio_fchmodat_nofollow(int dirfd, const char *path, unsigned int mode);
/// Makes the calling thread create files as uid/gid (setfsuid/setfsgid, this thread only),
/// keeping its permitted capabilities in effect. -1 with errno when that is not possible (no
/// CAP_SETUID/CAP_SETGID); the identity is then unchanged.
int scorpio_become_fs_identity(unsigned int uid, unsigned int gid);
/// Gives the calling thread back the process's own filesystem identity and capabilities.
void scorpio_restore_fs_identity(void);
/// copy_file_range(2).
ssize_t scorpio_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len, unsigned int flags);
/// preadv2(2) of one buffer with RWF_NOWAIT: fails with EAGAIN instead of waiting for the disk.
ssize_t scorpio_pread_nowait(int fd, void *buf, size_t len, int64_t offset);
/// How many bytes of [offset, offset+length) are in the page cache, by cachestat(2) (Linux
/// 6.5+), counted in whole pages. Returns 0 or -errno (-ENOSYS on older kernels).
int scorpio_cached_bytes(int fd, uint64_t offset, uint64_t length, uint64_t *cached);
/// fallocate(2).
int scorpio_fallocate(int fd, int mode, int64_t offset, int64_t len);
/// mount(2) and umount2(2).
int scorpio_mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data);
int scorpio_umount2(const char *target, int flags);
/// accept4(2) with SOCK_CLOEXEC (glibc declares accept4 only with _GNU_SOURCE).
int scorpio_accept_cloexec(int listener);
/// Receives one file descriptor passed with SCM_RIGHTS (fusermount3's _FUSE_COMMFD protocol).
/// Returns the fd, or -1 with errno set (ENODATA when the message carried none).
int scorpio_recv_fd(int sock);
/// Sends bytes plus up to `nfds` descriptors with SCM_RIGHTS in one sendmsg(2).
ssize_t scorpio_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/// Receives bytes plus up to `maxfds` descriptors; `*nfds` receives how many arrived.
ssize_t scorpio_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds);

/// Name field of a struct dirent returned by readdir(3).
const char *scorpio_dirent_name(const void *dirent);
/// d_type and d_ino of a struct dirent.
unsigned char scorpio_dirent_type(const void *dirent);
uint64_t scorpio_dirent_ino(const void *dirent);

/// makedev(3), major(3), minor(3).
uint64_t scorpio_makedev(unsigned int major, unsigned int minor);
unsigned int scorpio_major(uint64_t dev);
unsigned int scorpio_minor(uint64_t dev);

/// Constants glibc hides behind _GNU_SOURCE.
int scorpio_o_path(void);
int scorpio_o_tmpfile(void);
int scorpio_o_direct(void);
int scorpio_o_noatime(void);
int scorpio_seek_data(void);
int scorpio_seek_hole(void);

/// Extended attributes on a path without following a final symlink (l*xattr(2)).
ssize_t scorpio_lgetxattr(const char *path, const char *name, void *value, size_t size);
int scorpio_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
ssize_t scorpio_llistxattr(const char *path, char *list, size_t size);
int scorpio_lremovexattr(const char *path, const char *name);
ssize_t scorpio_fgetxattr(int fd, const char *name, void *value, size_t size);
int scorpio_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
int scorpio_fremovexattr(int fd, const char *name);
ssize_t scorpio_flistxattr(int fd, char *list, size_t size);

/// eventfd(2) and memfd_create(2) for the vhost-user transport.
int scorpio_eventfd(unsigned int initval, int flags);
int scorpio_memfd_create(const char *name, unsigned int flags);

/// Virtqueue rings live in memory the guest writes concurrently: index loads need acquire and
/// stores release ordering, and the notification check needs a full fence (virtio spec 2.7.13).
static inline uint16_t scorpio_load_acquire_u16(const void *p) { return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE); }
static inline void scorpio_store_release_u16(void *p, uint16_t v) { __atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE); }
static inline void scorpio_fence_full(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
/// Counters in a file mapped by several processes (the blob pin tables of `cache gc`).
static inline uint32_t scorpio_atomic_add_u32(void *p, int32_t delta) { return __atomic_add_fetch((uint32_t *)p, (uint32_t)delta, __ATOMIC_RELAXED); }
static inline uint32_t scorpio_atomic_load_u32(const void *p) { return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED); }

/// posix_spawnp(3) of `file` with `argv`/`envp` (NULL-terminated). Each `from[i]` is dup2()ed
/// to `to[i]` in the child (the only descriptors passed beyond stdio). `new_session` starts the
/// child in its own session (POSIX_SPAWN_SETSID). Returns 0 or an errno value.
int scorpio_spawn(const char *file, char *const argv[], char *const envp[], const int *from, const int *to, int count, int new_session, pid_t *pid);

/// pipe2(2) with O_CLOEXEC.
int scorpio_pipe_cloexec(int fds[2]);

/// Ignores SIGPIPE for the process: a git server or socket peer that goes away must give
/// EPIPE on write, not kill the daemon. Spawned children get the default back.
void scorpio_ignore_broken_pipe(void);
/// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread (threads created later
/// inherit the mask), so that one thread can take them with `scorpio_wait_signal`.
int scorpio_block_termination_signals(void);
/// sigwait(3) for the signals blocked above; returns the signal number.
int scorpio_wait_signal(void);

/// io_uring for FUSE-over-io_uring (uring.c). `scorpio_uring_create` sets up a ring of
/// `entries` 128-byte SQEs and returns an opaque handle, or NULL with `*error` set.
void *scorpio_uring_create(unsigned entries, int *error);
void scorpio_uring_destroy(void *ring);
/// Queues one IORING_OP_URING_CMD to `target_fd` with `iovecs` (struct iovec[]) and
/// `payload_len` (at most 80) bytes copied into the SQE's command area, and submits it when
/// `submit` is nonzero (otherwise the next `scorpio_uring_wait` does). Safe from several
/// threads. Returns 0 or -errno.
int scorpio_uring_queue_command(void *ring, int target_fd, uint32_t command, const void *iovecs, unsigned iovec_count,
                                const void *payload, size_t payload_len, uint64_t user_data, int submit);
/// Submits queued commands, waits for the next completion and consumes it. One thread at a
/// time. Returns 0 or -errno.
int scorpio_uring_wait(void *ring, uint64_t *user_data, int32_t *res);
/// Restricts the calling thread to one CPU. Returns 0 or -errno.
int scorpio_pin_to_cpu(int cpu);

/// malloc_trim(3): gives memory glibc's allocator holds free back to the system.
int scorpio_malloc_trim(void);

#endif
