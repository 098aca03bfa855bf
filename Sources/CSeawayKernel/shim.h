// What glibc declares only under _GNU_SOURCE, which cannot be defined here: it changes
// glibc's fd_set and breaks the clean build against SwiftGlibc. Header only, no library.
#ifndef SEAWAY_CSEAWAYKERNEL_SHIM_H
#define SEAWAY_CSEAWAYKERNEL_SHIM_H

#include <sys/types.h>
#include <sys/vfs.h>

extern int setns(int fd, int nstype);
static const int seaway_CLONE_NEWNET = 0x40000000;
extern int pipe2(int pipefd[2], int flags);

// recvmmsg / sendmmsg and their message vector (glibc's `struct mmsghdr`, GNU only), under
// names of our own so they never clash with a module that does define _GNU_SOURCE.
#include <sys/socket.h>
#include <time.h>
struct seaway_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
extern int seaway_recvmmsg(int fd, struct seaway_mmsghdr *vector, unsigned int count, int flags,
                           struct timespec *timeout) __asm__("recvmmsg");
extern int seaway_sendmmsg(int fd, struct seaway_mmsghdr *vector, unsigned int count, int flags) __asm__("sendmmsg");
static const int seaway_MSG_WAITFORONE = 0x10000;

// The stream relay's event loop: epoll, an eventfd to wake it, and accept4 (GNU only) to
// take a connection non-blocking in one call.
#include <sys/epoll.h>
#include <sys/eventfd.h>
extern int seaway_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) __asm__("accept4");

// sched_getaffinity / sched_setaffinity (GNU only) on a mask of our own bytes: CPU i is bit
// i % 8 of byte i / 8, which is glibc's cpu_set_t on a little-endian machine. pid 0 is the
// calling thread.
extern int seaway_sched_getaffinity(pid_t pid, size_t size, unsigned char *mask) __asm__("sched_getaffinity");
extern int seaway_sched_setaffinity(pid_t pid, size_t size, const unsigned char *mask) __asm__("sched_setaffinity");

#endif
