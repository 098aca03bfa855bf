// libnftnl and libmnl for Swift. glibc's socket and in.h come before the kernel UAPI
// headers (whose libc-compat guards then keep in_addr/sockaddr_in6 from being redefined).
#ifndef SEAWAY_CNFTABLES_SHIM_H
#define SEAWAY_CNFTABLES_SHIM_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/batch.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

// MNL_SOCKET_BUFFER_SIZE is an expression macro.
static inline size_t seaway_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }

#endif
