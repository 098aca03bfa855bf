// What glibc declares only under _GNU_SOURCE, which cannot be defined here: it changes
// glibc's fd_set and breaks the clean build against SwiftGlibc. Header only, no library.
#ifndef SEAWAY_CSEAWAYKERNEL_SHIM_H
#define SEAWAY_CSEAWAYKERNEL_SHIM_H

#include <sys/types.h>
#include <sys/vfs.h>

extern int setns(int fd, int nstype);
static const int seaway_CLONE_NEWNET = 0x40000000;
extern int pipe2(int pipefd[2], int flags);

#endif
