// libnl-3 and libnl-route-3 for Swift. Order matters: glibc's socket and in.h first, so the
// kernel UAPI headers' libc-compat guards see them and do not redefine in_addr/sockaddr_in6.
#ifndef SEAWAY_CNETLINK_SHIM_H
#define SEAWAY_CNETLINK_SHIM_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_bridge.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#include <linux/ip_vs.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>


// Function-like macros Swift cannot import.
static inline int seaway_nlmsg_align(int len) { return NLMSG_ALIGN(len); }
static inline int seaway_nla_type(const struct nlattr *a) { return a->nla_type & NLA_TYPE_MASK; }
static inline int seaway_nla_flag_nested(void) { return NLA_F_NESTED; }

#endif
