// A minimal io_uring for FUSE-over-io_uring: one ring of 128-byte SQEs, submissions of
// IORING_OP_URING_CMD to /dev/fuse, and completion reaping. Written against the kernel ABI
// (linux/io_uring.h) because Debian 12 ships no liburing new enough for URING_CMD; the ring
// indices are shared with the kernel and need acquire/release ordering, which C states directly.
#define _GNU_SOURCE
#include "CScorpioLinux.h"
#include <errno.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

struct scorpio_uring {
    int fd;
    pthread_mutex_t submit_lock;  // several threads of one queue submit; the kernel wants one tail writer
    unsigned *sq_head, *sq_tail, *sq_array, sq_mask, sq_entries;
    unsigned *cq_head, *cq_tail, cq_mask;
    struct io_uring_cqe *cqes;
    struct io_uring_sqe *sqes;  // 128-byte entries (IORING_SETUP_SQE128)
    void *ring_map; size_t ring_len;
    size_t sqes_len;
};

void *scorpio_uring_create(unsigned entries, int *error) {
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 2;
    int fd = (int)syscall(SYS_io_uring_setup, entries, &params);
    if (fd < 0) { *error = errno; return NULL; }
    if (!(params.features & IORING_FEAT_SINGLE_MMAP)) { close(fd); *error = ENOSYS; return NULL; }
    struct scorpio_uring *ring = calloc(1, sizeof(*ring));
    if (!ring) { close(fd); *error = ENOMEM; return NULL; }
    ring->fd = fd;
    size_t sq_len = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    size_t cq_len = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    ring->ring_len = sq_len > cq_len ? sq_len : cq_len;
    char *map = mmap(NULL, ring->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (map == MAP_FAILED) { *error = errno; close(fd); free(ring); return NULL; }
    ring->ring_map = map;
    ring->sqes_len = params.sq_entries * 128;
    void *sqes = mmap(NULL, ring->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sqes == MAP_FAILED) { *error = errno; munmap(map, ring->ring_len); close(fd); free(ring); return NULL; }
    ring->sqes = sqes;
    ring->sq_head = (unsigned *)(map + params.sq_off.head);
    ring->sq_tail = (unsigned *)(map + params.sq_off.tail);
    ring->sq_array = (unsigned *)(map + params.sq_off.array);
    ring->sq_mask = *(unsigned *)(map + params.sq_off.ring_mask);
    ring->sq_entries = params.sq_entries;
    ring->cq_head = (unsigned *)(map + params.cq_off.head);
    ring->cq_tail = (unsigned *)(map + params.cq_off.tail);
    ring->cq_mask = *(unsigned *)(map + params.cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe *)(map + params.cq_off.cqes);
    pthread_mutex_init(&ring->submit_lock, NULL);
    return ring;
}

void scorpio_uring_destroy(void *opaque) {
    struct scorpio_uring *ring = opaque;
    munmap(ring->sqes, ring->sqes_len);
    munmap(ring->ring_map, ring->ring_len);
    close(ring->fd);
    pthread_mutex_destroy(&ring->submit_lock);
    free(ring);
}

int scorpio_uring_queue_command(void *opaque, int target_fd, uint32_t command, const void *iovecs, unsigned iovec_count,
                                const void *payload, size_t payload_len, uint64_t user_data, int submit) {
    struct scorpio_uring *ring = opaque;
    if (payload_len > 80) return -EINVAL;  // the command area of a 128-byte SQE
    pthread_mutex_lock(&ring->submit_lock);
    unsigned tail = *ring->sq_tail;
    unsigned head = __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
    if (tail - head >= ring->sq_entries) { pthread_mutex_unlock(&ring->submit_lock); return -EBUSY; }
    unsigned index = tail & ring->sq_mask;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)((char *)ring->sqes + (size_t)index * 128);
    memset(sqe, 0, 128);
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = target_fd;
    sqe->cmd_op = command;
    sqe->addr = (uint64_t)(uintptr_t)iovecs;
    sqe->len = iovec_count;
    sqe->user_data = user_data;
    memcpy(sqe->cmd, payload, payload_len);
    ring->sq_array[index] = index;
    __atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);
    int result = 0;
    if (submit) {
        do {
            result = (int)syscall(SYS_io_uring_enter, ring->fd, ring->sq_entries, 0, 0, NULL, 0);
        } while (result < 0 && errno == EINTR);
    }
    int saved = result < 0 ? errno : 0;
    pthread_mutex_unlock(&ring->submit_lock);
    return result < 0 ? -saved : 0;
}

int scorpio_uring_wait(void *opaque, uint64_t *user_data, int32_t *res) {
    struct scorpio_uring *ring = opaque;
    for (;;) {
        unsigned head = *ring->cq_head;
        unsigned tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
        if (head != tail) {
            struct io_uring_cqe *cqe = &ring->cqes[head & ring->cq_mask];
            *user_data = cqe->user_data;
            *res = cqe->res;
            __atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
            return 0;
        }
        // Submits what the caller queued without submitting, and sleeps in the same call.
        unsigned pending = __atomic_load_n(ring->sq_tail, __ATOMIC_ACQUIRE) - __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
        int result = (int)syscall(SYS_io_uring_enter, ring->fd, pending, 1, IORING_ENTER_GETEVENTS, NULL, 0);
        if (result < 0 && errno != EINTR) return -errno;
    }
}

int scorpio_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}
