#!/usr/bin/env python3
# The most one tcp stream moves between two netns hosts of the harness: run as a "rank" program,
#   netns_harness.py run -H 2 -r 1 --rate 10gbit -- python3 perf/netns/tcp_ceiling.py [MB] [chunk]
# Rank 0 (host 0) receives, rank 1 (host 1) sends MB megabytes (default 2048) in sendall() calls
# of `chunk` bytes (default 4 MiB) over one socket with the same options as Plexus's tcp transport
# (TCP_NODELAY, 4 MiB socket buffers); the receiver prints Gbit/s and GB/s. With a third argument
# `bidir` both ranks send and receive at once (what an all-reduce ring of two hosts does); each
# prints what it received. A benchmark, not a test.
import os
import socket
import sys
import threading
import time

mb = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 4 << 20
bidir = len(sys.argv) > 3 and sys.argv[3] == "bidir"
rank = int(os.environ["PLEXUS_RANK"])
host = os.environ["PLEXUS_COMM_ID"].split(":")[0]
port = 29600
total = mb << 20


def tune(s):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)


def receive(c):
    buf = bytearray(chunk)
    view = memoryview(buf)
    got = 0
    t0 = None
    while got < total:
        n = c.recv_into(view)
        if n == 0:
            break
        if t0 is None:
            t0 = time.perf_counter()
        got += n
    dt = time.perf_counter() - t0
    print(f"tcp ceiling{' (bidir)' if bidir else ''}: {got >> 20} MiB in {dt:.3f} s: "
          f"{got * 8 / dt / 1e9:.2f} Gbit/s = {got / dt / 1e9:.3f} GB/s (chunk {chunk})",
          flush=True)


def send(s):
    data = memoryview(bytearray(chunk))
    sent = 0
    while sent < total:
        s.sendall(data[: min(chunk, total - sent)])
        sent += min(chunk, total - sent)
    s.shutdown(socket.SHUT_WR)


if rank == 0:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tune(ls)
    ls.bind((host, port))
    ls.listen(1)
    c, _ = ls.accept()
else:
    c = socket.socket()
    tune(c)
    for _ in range(200):
        try:
            c.connect((host, port))
            break
        except OSError:
            time.sleep(0.05)
if bidir:
    t = threading.Thread(target=send, args=(c,))
    t.start()
    receive(c)
    t.join()
elif rank == 0:
    receive(c)
else:
    send(c)
    c.recv(1)
