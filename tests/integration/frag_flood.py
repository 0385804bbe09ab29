#!/usr/bin/env python3
"""An escalating IPv4 fragment flood for ip_frag_flood.sh.

Runs in the receiver's namespace (A) so that it can read A's ipfrag_high_thresh and A's
reassembly memory (/proc/self/net/sockstat); its raw socket is created in the sender's namespace
(B), so the fragments really cross the veth pair.

Every tick it sends:
  - incomplete datagrams (only the first fragment, MF=1 offset 0; IP protocol 253): each holds
    one reassembly queue until ipfrag_time expires it, counting one ReasmFails. Their rate keeps
    A's reassembly memory near the live threshold, so fragments keep timing out (or being refused)
    with memory nearly full: that is what the BPF hook reports.
  - complete datagrams (two 8-byte UDP fragments): they reassemble, diluting the failures.
The share of failing datagrams rises with the threshold's growth since the start: an attacker who
answers every increase with more bad fragments. The tuner's failure rate per 1000 then rises
with the threshold, which is the flood guard's trigger.

usage: frag_flood.py NETNS_B SRC DST SECONDS
"""
import ctypes
import os
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TICK_S = 0.01
TARGET_FILL = 0.82       # of ipfrag_high_thresh (events need 3/4 of it)
BASE_SHARE = 0.1         # share of incomplete datagrams at the starting threshold
SHARE_PER_GROWTH = 0.1   # added per starting threshold's worth of growth
MAX_SHARE = 0.95
PROTO_INCOMPLETE = 253   # RFC 3692 experimental: no handler, and its own id space


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def raw_socket_in(netns_path):
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    other = os.open(netns_path, os.O_RDONLY)
    try:
        setns(other)
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    finally:
        setns(home)
        os.close(other)
        os.close(home)
    return sock


def ipv4(src, dst, ident, proto, mf, offset8, payload):
    flags = (0x2000 if mf else 0) | offset8
    # Total length and checksum are filled in by the kernel for IP_HDRINCL.
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + payload


def read_int(f):
    f.seek(0)
    return int(f.read().split()[0])


def frag_memory(f):
    """(queues, bytes) of IPv4 reassembly from sockstat's FRAG line."""
    f.seek(0)
    for line in f.read().splitlines():
        if line.startswith("FRAG:"):
            fields = line.split()
            return int(fields[2]), int(fields[4])
    return 0, 0


def main():
    netns_b, src, dst, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    sock = raw_socket_in(netns_b)
    high_f = open("/proc/sys/net/ipv4/ipfrag_high_thresh")
    time_f = open("/proc/sys/net/ipv4/ipfrag_time")
    stat_f = open("/proc/self/net/sockstat")
    start_high = read_int(high_f)
    timeout_s = max(read_int(time_f), 1)
    udp = struct.pack("!HHHH", 40000, 9, 16, 0)  # 16-byte datagram: 8 in each fragment
    data = b"fragment"
    ids = {PROTO_INCOMPLETE: 0, socket.IPPROTO_UDP: 0}
    queue_bytes = 1024.0  # refined from sockstat once queues exist
    owed_incomplete = owed_complete = 0.0
    sent_incomplete = sent_complete = 0
    last_report = 0.0
    begin = time.monotonic()
    deadline = begin + seconds

    def next_id(proto):
        ids[proto] = (ids[proto] + 1) & 0xFFFF or 1
        return ids[proto]

    last_tick = begin
    while time.monotonic() < deadline:
        tick = time.monotonic()
        # Rates follow the clock, not the tick count: a slow tick on a busy machine sends more.
        elapsed = min(tick - last_tick, 0.1)
        last_tick = tick
        high = read_int(high_f)
        queues, mem = frag_memory(stat_f)
        if queues > 0 and mem > 0:
            queue_bytes = 0.9 * queue_bytes + 0.1 * (mem / queues)
        target = TARGET_FILL * high
        growth = high / start_high
        share = min(MAX_SHARE, max(BASE_SHARE, BASE_SHARE + SHARE_PER_GROWTH * (growth - 1)))
        # Steady state: target bytes of queues that each live timeout_s. After an increase the
        # memory climbs towards the new target for a while before fragments drop near the new
        # threshold again, which paces the tuner's steps (and the samples at each threshold).
        per_tick = target / queue_bytes / timeout_s * elapsed
        owed_incomplete += per_tick
        owed_complete += per_tick * (1 - share) / share
        while owed_incomplete >= 1:
            owed_incomplete -= 1
            pkt = ipv4(src, dst, next_id(PROTO_INCOMPLETE), PROTO_INCOMPLETE, True, 0, data)
            sock.sendto(pkt, (dst, 0))
            sent_incomplete += 1
        while owed_complete >= 1:
            owed_complete -= 1
            ident = next_id(socket.IPPROTO_UDP)
            sock.sendto(ipv4(src, dst, ident, socket.IPPROTO_UDP, True, 0, udp), (dst, 0))
            sock.sendto(ipv4(src, dst, ident, socket.IPPROTO_UDP, False, 1, data), (dst, 0))
            sent_complete += 1
        if tick - last_report >= 1.0:
            last_report = tick
            print("t=%.1fs high=%d mem=%d queues=%d share=%.2f sent incomplete=%d complete=%d"
                  % (tick - begin, high, mem, queues, share, sent_incomplete, sent_complete),
                  flush=True)
        time.sleep(max(0.0, TICK_S - (time.monotonic() - tick)))


if __name__ == "__main__":
    main()
