/* neigh_table events: how bpf/neigh_table.bpf.c fills struct bpftune_event (events.h) and its
 * hook counters. Shared by the BPF program (C) and the tuner (C++), which decodes it.
 *
 *   kind          NEIGH_TABLE_EV_FULL (a create with gc_entries NEARLY_FULL of gc_thresh3, or a
 *                 create the kernel refused) or NEIGH_TABLE_EV_EMPTY (a removal left gc_entries
 *                 NEARLY_EMPTY of gc_thresh3 while a threshold is above the kernel default)
 *   netns_cookie  the namespace of the neighbour's device (netns_inum: its inode)
 *   value         tbl->gc_entries: the entries gc_thresh3 limits (permanent ones are exempt)
 *   limit         tbl->gc_thresh3
 *   sysctl[0..2]  tbl->gc_thresh1, gc_thresh2, gc_thresh3 as the kernel saw them
 *   ifindex, dev  the neighbour's device
 *   detail[]      see enum bpftune_neigh_table_detail */
#ifndef BPFTUNE_NEIGH_TABLE_EVENT_H
#define BPFTUNE_NEIGH_TABLE_EVENT_H

/* NOLINTBEGIN(readability-identifier-naming,modernize-use-using) */

enum bpftune_neigh_table_detail {
  NEIGH_TABLE_DETAIL_FAMILY = 0,   /* tbl->family: 2 (AF_INET, arp_cache), 10 (AF_INET6, ndisc) */
  NEIGH_TABLE_DETAIL_ENTRIES = 1,  /* tbl->entries: every entry, permanent ones included */
  NEIGH_TABLE_DETAIL_FLAGS = 2,    /* NEIGH_TABLE_FLAG_* | address count << 8 */
  NEIGH_TABLE_DETAIL_PREFIXES = 3, /* byte i: prefix length of the device's i-th address */
};

/* The device's addresses of the table's family (dev->ip_ptr->ifa_list for IPv4,
 * dev->ip6_ptr->addr_list for IPv6, every scope), read in BPF because the device may live in a
 * namespace the unprivileged collector cannot look into. At most this many are read. */
#define NEIGH_TABLE_MAX_PREFIXES       8

#define NEIGH_TABLE_FLAG_CREATE_FAILED 0x1 /* neigh_create returned NULL: the table is full */
#define NEIGH_TABLE_FLAG_MORE_ADDRS    0x2 /* the device has more addresses than were read */
#define NEIGH_TABLE_FLAG_NO_INET_DEV   0x4 /* no in_device/inet6_dev: no addresses at all */
#define NEIGH_TABLE_ADDR_COUNT_SHIFT   8   /* bits 8..15: addresses read (<= MAX_PREFIXES) */

/* Indexes into bpftune_samples[] (sample.h): counted calls, none is sampled. */
enum bpftune_neigh_table_hook {
  NEIGH_TABLE_HOOK_CREATE = 0,        /* raw_tp/neigh_create */
  NEIGH_TABLE_HOOK_CREATE_FAILED = 1, /* ... of which the create failed (table full) */
  NEIGH_TABLE_HOOK_CLEANUP = 2,       /* tp_btf/neigh_cleanup_and_release */
};

/* NOLINTEND(readability-identifier-naming,modernize-use-using) */

#endif
