#!/usr/bin/env bash
# Reading market data (issue 11): VolScale's release build next to pandas and arch, whole
# processes, one run. Usage: scripts/bench-read.sh [rows to stream, default 100000000]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import arch, pandas" 2>/dev/null || pip install --quiet "arch==8.0.0" pandas
[[ -x /usr/bin/time ]] || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y time >&2; }
swift build -c release --static-swift-stdlib --product volscale >&2
swift build -c release --static-swift-stdlib --product volscale-bench >&2
python3 scripts/bench_read.py .build/release/volscale .build/release/volscale-bench "${1:-100000000}"
