#!/usr/bin/env python3
"""Short TCP transfers for the tcp_conn test and bench: one process makes many connections, so
a connection costs a handshake, not an interpreter start (iperf3 needs a server per run).

  conn_transfer.py serve PORT
      Dual-stack listener: per connection, read until EOF, answer one byte, close.
  conn_transfer.py send BYTES COUNT [--gap SECONDS] ADDR:PORT [ADDR:PORT ...]
      COUNT rounds; in each, one connection per target in the order given (so transfers to
      different hosts interleave): send BYTES, half-close, wait for the answer. One line per
      connection: "<addr> <round> <algorithm> <Mbit/s> <total_retrans> <segs_out>", where the
      rate is BYTES over connect-to-answer and the rest is the sender's TCP_INFO at that time.

The algorithm is the connection's own (TCP_CONGESTION): a route's congctl metric shows here.
"""
import socket
import struct
import sys
import threading
import time

CHUNK = 256 * 1024
# struct tcp_info (include/uapi/linux/tcp.h): 8 bytes of u8 fields, then u32 fields;
# tcpi_total_retrans is the 24th u32, tcpi_segs_out sits after four u64 counters.
TOTAL_RETRANS_OFF = 8 + 23 * 4
SEGS_OUT_OFF = 136


def serve_one(conn):
    with conn:
        while conn.recv(CHUNK):
            pass
        conn.sendall(b"k")


def serve(port):
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::", port))
    listener.listen(64)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def target(text):
    addr, _, port = text.rpartition(":")
    return addr.strip("[]"), int(port)


def transfer(addr, port, payload):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect((addr, port))
        start = time.monotonic()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b"k":
            raise RuntimeError("no answer from %s:%d" % (addr, port))
        secs = time.monotonic() - start
        alg = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\0")[0]
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    retrans = struct.unpack_from("I", info, TOTAL_RETRANS_OFF)[0]
    segs_out = struct.unpack_from("I", info, SEGS_OUT_OFF)[0]
    return alg.decode(), len(payload) * 8 / secs / 1e6, retrans, segs_out


def send(args):
    nbytes, count = int(args[0]), int(args[1])
    gap = 0.0
    rest = args[2:]
    if rest and rest[0] == "--gap":
        gap, rest = float(rest[1]), rest[2:]
    payload = b"\0" * nbytes
    for rnd in range(1, count + 1):
        for addr, port in map(target, rest):
            alg, mbit, retrans, segs = transfer(addr, port, payload)
            print("%s %d %s %.1f %d %d" % (addr, rnd, alg, mbit, retrans, segs), flush=True)
            if gap:
                time.sleep(gap)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "send":
        send(sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
