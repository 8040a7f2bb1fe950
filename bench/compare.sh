#!/usr/bin/env bash
# Compares mquicttd with Debian's mosquitto on loopback, using mquictt-loadgen.
# Method and results: docs/benchmarks.md.
#
#   bench/compare.sh                      3 repeats x 8 s per scenario and broker (about 15 minutes)
#   bench/compare.sh --quick              1 repeat x 3 s (about 3 minutes on a quiet machine)
#   bench/compare.sh --only quic --quick  the MQTT-over-QUIC rows only (1.5-3 minutes)
#
# The TCP rows compare plain MQTT over TCP. The "quic-" rows compare mquicttd's MQTT over QUIC
# with mosquitto's MQTT over TLS 1.3 (TCP): both use one ECDSA P-256 certificate generated for the
# run, AES-128-GCM and X25519, and every handshake is a full one (no session resumption, no 0-RTT).
#
# Each measurement starts a fresh broker on a private 127.0.0.1 port, pinned to CPU 1, and runs
# the load generator pinned to CPU 0; the two brokers take turns (mosquitto, mquictt, mosquitto,
# ...) so slow drift on the machine hits both alike. The table reports the median of the repeats.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/compare.sh [options]
  --quick                1 repeat, 3 s measurement, 1 s warmup, 2000 idle TCP connections
                         (the QUIC idle row keeps its 10000)
  --repeats N            repeats per scenario and broker (default 3; median reported)
  --duration S           measured seconds per run (default 8)
  --warmup S             warmup seconds per run (default 2)
  --idle-connections N   idle TCP connections for the RSS measurement (default 5000)
  --quic-idle-connections N  idle QUIC/TLS connections for the RSS measurement (default 10000)
  --only LIST            comma-separated subset of: fanin-q0,fanin-q1,fanin-q2,fanout-q0,
                         pairs-q0,connect-rate,idle-rss (TCP), quic-fanin-q0,quic-fanin-q1,
                         quic-connect-rate,quic-idle-rss (QUIC vs TLS); "tcp" and "quic" name
                         each group
  --brokers LIST         comma-separated subset of: mosquitto,mquictt (default both)
  --build-dir DIR        CMake build directory (default build/bench)
  --skip-build           use the binaries already in the build directory
  --cmake-arg ARG        extra CMake configure argument (repeatable), e.g. -DMQUICTT_WERROR=OFF
  --out DIR              where raw JSON, logs and summary.md go (default <build-dir>/results-<time>)
  --broker-cpu N         CPU for the broker (default 1)
  --loadgen-cpu N        CPU for the load generator (default 0)
EOF
}

cd "$(dirname "$0")/.."
repo=$(pwd)

repeats=3
duration=8
warmup=2
idle_conns=5000
quic_idle_conns=10000
tcp_scenarios="fanin-q0,fanin-q1,fanin-q2,fanout-q0,pairs-q0,connect-rate,idle-rss"
quic_scenarios="quic-fanin-q0,quic-fanin-q1,quic-connect-rate,quic-idle-rss"
only="tcp,quic"
brokers="mosquitto,mquictt"
build_dir=build/bench
skip_build=0
out=""
broker_cpu=1
loadgen_cpu=0
cmake_args=()

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) repeats=1; duration=3; warmup=1; idle_conns=2000 ;;
    --repeats) repeats=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --idle-connections) idle_conns=$2; shift ;;
    --quic-idle-connections) quic_idle_conns=$2; shift ;;
    --only) only=$2; shift ;;
    --brokers) brokers=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    --skip-build) skip_build=1 ;;
    --cmake-arg) cmake_args+=("$2"); shift ;;
    --out) out=$2; shift ;;
    --broker-cpu) broker_cpu=$2; shift ;;
    --loadgen-cpu) loadgen_cpu=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

# Expand the group names "tcp" and "quic".
expanded=""
for item in ${only//,/ }; do
  case "$item" in
    tcp) expanded+=",$tcp_scenarios" ;;
    quic) expanded+=",$quic_scenarios" ;;
    *) expanded+=",$item" ;;
  esac
done
only=${expanded#,}

for tool in mosquitto taskset python3 openssl ss; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "compare.sh: '$tool' not found (apt-get install mosquitto util-linux python3)" >&2
    exit 1
  fi
done

want_broker() { [[ ",$brokers," == *",$1,"* ]]; }
want_scenario() { [[ ",$only," == *",$1,"* ]]; }

if [ "$skip_build" -eq 0 ]; then
  targets=(mquictt-loadgen)
  want_broker mquictt && targets+=(mquicttd)
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMQUICTT_TESTS=OFF \
    "${cmake_args[@]}" >/dev/null
  cmake --build "$build_dir" --target "${targets[@]}"
fi
loadgen="$repo/$build_dir/tools/loadgen/mquictt-loadgen"
mquicttd="$repo/$build_dir/daemon/mquicttd"
[ -x "$loadgen" ] || { echo "compare.sh: $loadgen missing" >&2; exit 1; }
if want_broker mquictt && [ ! -x "$mquicttd" ]; then
  echo "compare.sh: $mquicttd missing (use --brokers mosquitto for mosquitto only)" >&2
  exit 1
fi

# 5,000 idle connections need as many descriptors in the broker and in the load generator
# (10,000 QUIC connections: one UDP socket each on the load generator's side).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need_fds=$idle_conns
if [[ ",$only," == *",quic-idle-rss,"* ]] && [ "$quic_idle_conns" -gt "$need_fds" ]; then
  need_fds=$quic_idle_conns
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((need_fds + 200)) ]; then
  echo "compare.sh: open-file limit $(ulimit -n) is below $((need_fds + 200)); lower --idle-connections / --quic-idle-connections" >&2
  exit 1
fi

[ -n "$out" ] || out="$repo/$build_dir/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
work=$(mktemp -d /tmp/mquictt-bench.XXXXXX)
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One ECDSA P-256 certificate for both brokers' secure listeners, self-signed for localhost and
# 127.0.0.1; the load generator verifies it (--cafile) on both transports.
cert="$work/server.pem"
key="$work/server.key"
if [[ "$only" == *quic-* ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$key" -out "$cert" 2>/dev/null
  # mosquitto started as root drops to its own user before it reads them.
  chmod 755 "$work"
  chmod 644 "$cert" "$key"
fi

load=$(cut -d' ' -f1 /proc/loadavg)
if python3 -c "import sys; sys.exit(0 if float('$load') > 0.5 else 1)"; then
  echo "warning: load average is $load; other processes compete for the CPUs and results will be noisy" >&2
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && [ -z "$(ss -Hlun "sport = :$1")" ]; }
# Readiness: a TCP listener accepts, a QUIC listener's UDP socket is bound.
port_open() {
  if [ "$1" = quic ]; then [ -n "$(ss -Hlun "sport = :$2")" ]; else ! port_free "$2"; fi
}
# Broker ports come from below the ephemeral range: the load generator's own connections (and
# their TIME_WAIT leftovers after connect-rate) occupy ports inside it.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port_span=$((ephemeral_low - 12000))
[ "$port_span" -gt 1000 ] || port_span=1000
next_port=$((10000 + RANDOM % (port_span - 500)))
pick_port() {
  while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
  port=$next_port
  next_port=$((next_port + 1))
}

# Broker settings, kept equivalent on both sides (see docs/benchmarks.md):
#  - Nagle off (mosquitto's default is on; mquicttd's listener default is off).
#  - 20 unacknowledged QoS 1/2 messages each way per client (mosquitto's default
#    max_inflight_messages covers both directions; mquicttd splits it into receive_maximum and
#    max_inflight_messages).
#  - 100000 queued messages per client, so a QoS 1/2 subscriber queue is never cut short.
#  - Logging of warnings and errors only, to a file.
#  - Secure rows: mosquitto gets a TLS 1.3 listener and mquicttd a QUIC listener, both with the
#    run's certificate. mquicttd's QUIC settings are spelled out: the defaults, except the idle
#    timeout (raised so that 10,000 idle connections outlive their slow start-up). The initial
#    RTT is the default 333 ms (RFC 9002); neither end paces before its first RTT sample
#    (lib/transport/quic/pacing.h), so it no longer costs the handshake ~20 ms on loopback.
write_config() {  # broker port file tcp|secure
  case "$1" in
    mosquitto)
      cat >"$3" <<EOF
listener $2 127.0.0.1
EOF
      if [ "$4" = secure ]; then
        cat >>"$3" <<EOF
certfile $cert
keyfile $key
tls_version tlsv1.3
EOF
      fi
      cat >>"$3" <<EOF
allow_anonymous true
persistence false
set_tcp_nodelay true
max_inflight_messages 20
max_queued_messages 100000
log_dest stderr
log_type error
log_type warning
EOF
      ;;
    mquictt)
      if [ "$4" = secure ]; then
        cat >"$3" <<EOF
listeners:
  - name: quic
    transport: quic
    bind: "127.0.0.1:$2"
    tls:
      cert_file: $cert
      key_file: $key
    quic:
      idle_timeout_ms: 600000
      handshake_timeout_ms: 10000
      max_streams_per_connection: 10
      stream_window_bytes: 262144
      connection_window_bytes: 1048576
      congestion_control: cubic
      initial_rtt_ms: 333
      keepalive_ms: 0
      retry: never
EOF
      else
        cat >"$3" <<EOF
listeners:
  - name: tcp
    transport: tcp
    bind: "127.0.0.1:$2"
    tcp_nodelay: true
EOF
      fi
      cat >>"$3" <<EOF
limits:
  receive_maximum: 20
  max_inflight_messages: 20
  max_queued_messages: 100000
log:
  level: warning
EOF
      ;;
  esac
}

start_broker() {  # broker tag tcp|secure -> sets broker_pid, port; a few attempts
  local attempt
  for attempt in 1 2 3; do
    if start_broker_once "$1" "$2" "$3"; then return 0; fi
    [ "$attempt" -lt 3 ] && echo "  retrying $1 on another port" >&2
  done
  return 1
}

start_broker_once() {
  local broker=$1 tag=$2 mode=$3 conf proto=tcp
  [ "$broker" = mquictt ] && [ "$mode" = secure ] && proto=quic
  pick_port
  case "$broker" in
    mosquitto)
      conf="$work/$tag.conf"
      write_config mosquitto "$port" "$conf" "$mode"
      taskset -c "$broker_cpu" mosquitto -c "$conf" >"$out/$tag.log" 2>&1 &
      ;;
    mquictt)
      conf="$work/$tag.yaml"
      write_config mquictt "$port" "$conf" "$mode"
      taskset -c "$broker_cpu" "$mquicttd" -c "$conf" >"$out/$tag.log" 2>&1 &
      ;;
  esac
  broker_pid=$!
  for _ in $(seq 1 250); do
    if ! kill -0 "$broker_pid" 2>/dev/null; then
      echo "  $broker exited at startup (log: $out/$tag.log)" >&2
      wait "$broker_pid" 2>/dev/null || true
      broker_pid=""
      return 1
    fi
    if port_open "$proto" "$port"; then return 0; fi
    sleep 0.02
  done
  echo "  $broker did not open port $port (log: $out/$tag.log)" >&2
  stop_broker || true
  return 1
}

stop_broker() {
  [ -n "$broker_pid" ] || return 0
  local alive=1
  kill -0 "$broker_pid" 2>/dev/null || alive=0
  kill "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
  [ "$alive" -eq 1 ]
}

# scenario name -> loadgen arguments. QoS 1/2 use a 20-message window: the in-flight quota both
# brokers grant (mosquitto 2.0 silently drops QoS 2 beyond it from 3.1.1 clients, which cannot
# be told a Receive Maximum). QoS 0 uses the default end-to-end window of 64.
scenario_args() {
  case "$1" in
    fanin-q0) echo "--scenario fan-in --publishers 8 --qos 0 --size 64" ;;
    fanin-q1) echo "--scenario fan-in --publishers 8 --qos 1 --size 64 --inflight 20" ;;
    fanin-q2) echo "--scenario fan-in --publishers 8 --qos 2 --size 64 --inflight 20" ;;
    fanout-q0) echo "--scenario fan-out --subscribers 16 --qos 0 --size 64" ;;
    pairs-q0) echo "--scenario pairs --pairs 16 --qos 0 --size 64" ;;
    connect-rate) echo "--scenario connect-rate --concurrency 32" ;;
    idle-rss) echo "--scenario idle --connections $idle_conns --concurrency 64 --duration 0.5" ;;
    quic-idle-rss) echo "--scenario idle --connections $quic_idle_conns --concurrency 64 --duration 0.5" ;;
    quic-*) scenario_args "${1#quic-}" ;;
  esac
}

# The transport of a run: plain TCP, or each broker's secure one (QUIC / TLS), verified.
transport_args() {  # scenario broker
  case "$1" in
    quic-*)
      if [ "$2" = mquictt ]; then echo "--transport quic --cafile $cert"; else echo "--transport tls --cafile $cert"; fi
      ;;
    *) echo "--transport tcp" ;;
  esac
}

scenarios=()
for s in ${tcp_scenarios//,/ } ${quic_scenarios//,/ }; do
  want_scenario "$s" && scenarios+=("$s")
done
broker_list=()
for b in mosquitto mquictt; do want_broker "$b" && broker_list+=("$b"); done

echo "results: $out"
echo "broker on CPU $broker_cpu, loadgen on CPU $loadgen_cpu; ${repeats}x ${duration}s (+${warmup}s warmup) per run"
start_time=$(date +%s)
for s in "${scenarios[@]}"; do
  read -r -a args <<<"$(scenario_args "$s")"
  timing=(--duration "$duration" --warmup "$warmup")
  [[ "$s" == *idle-rss ]] && timing=()
  mode=tcp
  [[ "$s" == quic-* ]] && mode=secure
  for rep in $(seq 1 "$repeats"); do
    for b in "${broker_list[@]}"; do
      tag="$s-$b-$rep"
      printf '  %-14s %-10s run %d/%d ... ' "$s" "$b" "$rep" "$repeats"
      read -r -a targs <<<"$(transport_args "$s" "$b")"
      if ! start_broker "$b" "$tag" "$mode"; then
        echo "{\"scenario\":\"$s\",\"ok\":false,\"error\":\"broker did not start\"}" >"$out/$tag.json"
        echo "broker failed to start"
        continue
      fi
      # Give a fresh broker a moment so its start-up allocations settle before RSS is read.
      [[ "$s" == *idle-rss ]] && sleep 0.5
      taskset -c "$loadgen_cpu" "$loadgen" --port "$port" "${targs[@]}" "${args[@]}" "${timing[@]}" \
        --broker-pid "$broker_pid" --json >"$out/$tag.json" 2>"$out/$tag.loadgen.err" || true
      if ! stop_broker; then
        python3 - "$out/$tag.json" <<'EOF'
import json, sys
p = sys.argv[1]
try:
    d = json.load(open(p))
except Exception:
    d = {}
d["ok"] = False
d["error"] = (d.get("error", "") + " broker died during the run").strip()
json.dump(d, open(p, "w"))
EOF
      fi
      python3 - "$out/$tag.json" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print("no result"); sys.exit(0)
if not d.get("ok"):
    print("FAILED:", d.get("error", "?")); sys.exit(0)
s = d["scenario"]
if s == "connect-rate":
    print("%.0f conn/s, p99 %.0f us" % (d["connections_per_s"], d["handshake_us"]["p99"]))
elif s == "idle":
    print("%.0f B/conn" % d.get("rss_per_conn_bytes", -1))
else:
    print("%.0f msgs/s, p99 %.0f us, loss %d, loadgen CPU %.0f%%, broker CPU %.0f%%" % (
        d["received_per_s"], d["latency_us"]["p99"], d["lost"], d.get("loadgen_cpu_pct", -1),
        d.get("broker_cpu_pct", -1)))
EOF
    done
  done
done
elapsed=$(($(date +%s) - start_time))

python3 - "$out" "$repeats" "$duration" "$elapsed" "${scenarios[@]}" <<'EOF'
import json, os, platform, statistics, sys

out, repeats, duration, elapsed = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
scenarios = sys.argv[5:]
brokers = ["mosquitto", "mquictt"]
labels = {
    "fanin-q0": "fan-in 8→1, QoS 0, 64 B",
    "fanin-q1": "fan-in 8→1, QoS 1, 64 B",
    "fanin-q2": "fan-in 8→1, QoS 2, 64 B",
    "fanout-q0": "fan-out 1→16, QoS 0, 64 B",
    "pairs-q0": "pairs 16×(1→1), QoS 0, 64 B",
    "connect-rate": "connect rate (32 in flight)",
    "idle-rss": "RSS per idle TCP connection",
    "quic-fanin-q0": "QUIC vs TLS: fan-in 8→1, QoS 0, 64 B",
    "quic-fanin-q1": "QUIC vs TLS: fan-in 8→1, QoS 1, 64 B",
    "quic-connect-rate": "QUIC vs TLS: connect rate (handshake + CONNACK, 32 in flight)",
    "quic-idle-rss": "QUIC vs TLS: RSS per idle connection",
}
# (minimum ratio mquictt/mosquitto) or, for RSS, the maximum.
targets = {"fanin-q0": (">=", 1.5), "fanin-q1": (">=", 1.3), "fanout-q0": (">=", 1.5),
           "idle-rss": ("<=", 2.0), "quic-fanin-q0": (">=", 1.0), "quic-fanin-q1": (">=", 1.0),
           "quic-connect-rate": (">=", 1.0)}
# Absolute limits on mquictt's own figure (issue #5: <= 100 KB per idle QUIC connection).
abs_targets = {"quic-idle-rss": ("<=", 100000, "100 KB")}

def load(s, b):
    runs = []
    for rep in range(1, repeats + 1):
        p = os.path.join(out, "%s-%s-%d.json" % (s, b, rep))
        try:
            d = json.load(open(p))
        except Exception:
            continue
        if d.get("ok"):
            runs.append(d)
    return runs

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def metric(s, runs):
    """(throughput-or-size, p99 us, loss %, loadgen cpu %, broker cpu %)"""
    if not runs:
        return None
    if s.endswith("idle-rss"):
        return (med([r.get("rss_per_conn_bytes") for r in runs]), None, None, None, None)
    cpu = (med([r.get("loadgen_cpu_pct") for r in runs]), med([r.get("broker_cpu_pct") for r in runs]))
    if s.replace("quic-", "") == "connect-rate":
        return (med([r["connections_per_s"] for r in runs]),
                med([r["handshake_us"]["p99"] for r in runs]), None) + cpu
    return (med([r["received_per_s"] for r in runs]), med([r["latency_us"]["p99"] for r in runs]),
            med([r["loss_pct"] for r in runs])) + cpu

def fmt(v, unit=""):
    if v is None:
        return "n/a"
    return ("{:,.0f}".format(v)) + unit

rows = []
for s in scenarios:
    m = {b: metric(s, load(s, b)) for b in brokers}
    a, b = m["mosquitto"], m["mquictt"]
    ratio = a and b and a[0] and b[0] is not None and b[0] / a[0]
    unit = {"idle-rss": " B/conn", "connect-rate": " conn/s"}.get(s.replace("quic-", ""), " msg/s")
    t = targets.get(s)
    verdict = ""
    if t and ratio:
        ok = ratio >= t[1] if t[0] == ">=" else ratio <= t[1]
        verdict = ("met" if ok else "MISSED") + " (%s %.1f×)" % (t[0].replace(">=", "≥").replace("<=", "≤"), t[1])
    elif t:
        verdict = "pending (%s %.1f×)" % (t[0].replace(">=", "≥").replace("<=", "≤"), t[1])
    at = abs_targets.get(s)
    if at and b and b[0] is not None:
        verdict = ("met" if b[0] <= at[1] else "MISSED") + " (mquictt ≤ %s)" % at[2]
    elif at:
        verdict = "pending (mquictt ≤ %s)" % at[2]
    p99 = lambda x: "n/a" if not x or x[1] is None else "{:,.0f}".format(x[1])
    loss = lambda x: "" if not x or x[2] is None else "%.2f" % x[2]
    cpu = lambda x, i: "-" if not x or x[i] is None else "%.0f" % x[i]
    cpus = "" if s.endswith("idle-rss") else "%s/%s, %s/%s" % (cpu(a, 4), cpu(b, 4), cpu(a, 3), cpu(b, 3))
    rows.append([labels.get(s, s), fmt(a and a[0], unit), fmt(b and b[0], unit),
                 "%.2f" % ratio if ratio else "n/a", p99(a), p99(b),
                 "/".join(v for v in (loss(a), loss(b)) if v) or "", cpus, verdict])
    if s.endswith("connect-rate"):
        # On a shared machine the rate follows the CPU share a broker gets; the CPU time it
        # spends per connection does not, so report that too (median over the runs).
        def cpu_us(b):
            v = [1e4 * r["broker_cpu_pct"] / r["connections_per_s"] for r in load(s, b)
                 if r.get("broker_cpu_pct") and r.get("connections_per_s")]
            return med(v)
        ua, ub = cpu_us("mosquitto"), cpu_us("mquictt")
        rows.append([labels.get(s, s) + ": broker CPU per connection", fmt(ua, " µs"),
                     fmt(ub, " µs"), "%.2f" % (ub / ua) if ua and ub else "n/a", "", "", "", "",
                     "(lower is better; no target)"])

head = ["scenario", "mosquitto", "mquictt", "ratio", "p99 µs mosq.", "p99 µs mquictt",
        "loss % (mosq./mq.)", "CPU % broker, loadgen (mosq./mq.)", "target"]
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
print()
print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
for r in rows:
    print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))

md = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
note = ("Median of %d run(s) of %s s per broker and scenario; ratio = mquictt / mosquitto "
        "(for RSS lower is better); QUIC rows: mquictt over QUIC, mosquitto over TLS 1.3. "
        "Machine: %s, %d CPUs, Linux %s. Total %s s."
        % (repeats, duration, model, os.cpu_count(), platform.release(), elapsed))
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write("\n".join(md) + "\n\n" + note + "\n")
print()
print("Markdown (also in %s/summary.md):" % out)
print()
print("\n".join(md))
print()
print(note)
EOF
