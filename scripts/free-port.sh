#!/usr/bin/env bash
# free-port.sh [N]: prints the first of N consecutive loopback ports that are free now,
# chosen at random below the kernel's ephemeral range (outgoing connections take ports
# from that range, so a port picked inside it can be taken between choosing and binding).
set -euo pipefail
python3 - "${1:-1}" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
top = min(low, 32768) - n
for _ in range(200):
    first = random.randrange(10000, top)
    sockets = []
    try:
        for p in range(first, first + n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in sockets:
            s.close()
    print(first)
    sys.exit(0)
sys.exit("free-port: no free run of %d ports found" % n)
PY
