#!/usr/bin/env bash
# Linux kernel TCP side by side with Rusty.
#
# Usage: sim/linux-bench/run.sh [-d SECONDS] [--json] [--seed N] [--csum-off]
#          [--server PATH] [--sim PATH] [--no-build] [--rusty-requests N]
#          [CONCURRENCY ...]
#
# Runs linux-page-server (the 500-page set, one epoll loop per CPU) in one
# network namespace and wrk in another, joined by a veth pair (10.77.1.0/24,
# MTU 1500, TSO/GSO/GRO/LRO off), one request per connection
# (Connection: close) over pages drawn in a seeded random order, for each
# concurrency level (default 1; "1 10 100" or 1 10 100 for several), for
# SECONDS each (default 5). CPU time is the whole machine's, from /proc/stat,
# over the wrk run: everything not idle or iowait (user, system, softirq on
# both ends, ...), divided by the requests wrk completed. It then runs
# `rusty-sim bench --stack rusty --conns C --json` for the same concurrency,
# when that binary has the command, and prints the ratio Linux/Rusty.
#
#   -d, --duration S    seconds per concurrency level (default 5)
#   --json              print the results as one JSON object
#   --seed N            seed of the page order (default 1)
#   --csum-off          also turn veth checksum offload off (tx, rx), so the
#                       kernel computes TCP checksums as Rusty does
#   --server PATH       linux-page-server binary (default: target/release,
#                       built with cargo unless --no-build)
#   --sim PATH          rusty-sim binary (default: target/release, built with
#                       cargo unless --no-build)
#   --no-build          do not run cargo
#   --rusty-requests N  pass --requests N to rusty-sim bench
#
# Needs root (namespaces, veth, ethtool); installs wrk and ethtool with
# apt-get when missing. Without root, or without usable `ip netns`, it prints
# why and exits 0 with "skipped", except under CI=true, where it fails.
# Namespaces and processes are removed on every exit path.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
duration=5
json=0
seed=1
csum_off=0
server_bin=""
sim_bin=""
build=1
rusty_requests=""
concurrency=()

log() { echo "run.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
is_ci() { [ "${CI:-}" = true ]; }
json_string() { # a JSON string literal of $1 (no control characters expected)
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}
skip() { # reason
  if is_ci; then
    die "$1 (CI=true: this benchmark must run)"
  fi
  log "skipped: $1"
  if [ "$json" = 1 ]; then
    printf '{"skipped": %s}\n' "$(json_string "$1")"
  else
    echo "skipped: $1"
  fi
  exit 0
}

while [ $# -gt 0 ]; do
  case $1 in
    -d | --duration) duration=${2:?}; shift 2 ;;
    --json) json=1; shift ;;
    --seed) seed=${2:?}; shift 2 ;;
    --csum-off) csum_off=1; shift ;;
    --server) server_bin=${2:?}; shift 2 ;;
    --sim) sim_bin=${2:?}; shift 2 ;;
    --no-build) build=0; shift ;;
    --rusty-requests) rusty_requests=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      for c in $1; do concurrency+=("$c"); done
      shift
      ;;
  esac
done
[ ${#concurrency[@]} -gt 0 ] || concurrency=(1)
for n in "${concurrency[@]}" "$duration" "$seed" ${rusty_requests:+"$rusty_requests"}; do
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || die "not a positive integer: $n"
done

# --- preconditions ----------------------------------------------------------

uid=$(id -u)
[ "$uid" -eq 0 ] || skip "needs root for network namespaces, veth and ethtool (running as uid $uid)"

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v ethtool >/dev/null 2>&1 || missing+=(ethtool)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update && apt-get install -y "${missing[@]}"; } >&2 ||
    log "apt-get could not install ${missing[*]}"
fi
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2) and apt-get could not install it"
command -v wrk >/dev/null 2>&1 || skip "no wrk and apt-get could not install it"
have_ethtool=1
if ! command -v ethtool >/dev/null 2>&1; then
  is_ci && die "no ethtool and apt-get could not install it"
  log "warning: no ethtool: offloads stay as the kernel sets them"
  have_ethtool=0
fi

if [ -z "$server_bin" ]; then
  server_bin=$root/target/release/linux-page-server
  if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p rusty-linux-bench --bin linux-page-server) >&2
  fi
fi
[ -x "$server_bin" ] || die "no server binary at $server_bin (build it: cargo build --release -p rusty-linux-bench)"
if [ -z "$sim_bin" ]; then
  sim_bin=$root/target/release/rusty-sim
  if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p rusty-sim --bin rusty-sim) >&2 ||
      log "warning: could not build rusty-sim"
  fi
fi
rusty_available=0
if [ -x "$sim_bin" ] && "$sim_bin" bench --help >/dev/null 2>&1; then
  rusty_available=1
else
  log "the Rusty figure is unavailable: $sim_bin has no 'bench' command"
fi

# --- cleanup on every exit path ---------------------------------------------

tag=$$
srv_ns=rusty-srv-$tag
cli_ns=rusty-cli-$tag
srv_dev=rsrv$tag
cli_dev=rcli$tag
srv_ip=10.77.1.1
cli_ip=10.77.1.2
port=8080
namespaces=()
server_pid=""
wrk_pid=""
work=$(mktemp -d)

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM HUP
  local pid ns
  for pid in $wrk_pid $server_pid; do
    kill "$pid" 2>/dev/null
  done
  # Anything else still inside our namespaces was started by this script.
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill "$pid" 2>/dev/null
    done
  done
  wait 2>/dev/null
  for ns in "${namespaces[@]}"; do
    ip netns del "$ns" 2>/dev/null || log "warning: could not delete namespace $ns"
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'log "hung up"; exit 129' HUP

# --- namespaces and the veth pair -------------------------------------------

if ! err=$(ip netns add "$srv_ns" 2>&1); then
  skip "ip netns is not usable here: $err"
fi
namespaces+=("$srv_ns")
ip netns add "$cli_ns"
namespaces+=("$cli_ns")
if ! err=$(ip -n "$srv_ns" link add "$srv_dev" type veth peer name "$cli_dev" netns "$cli_ns" 2>&1); then
  skip "veth pairs are not usable here: $err"
fi
ip -n "$srv_ns" addr add "$srv_ip/24" dev "$srv_dev"
ip -n "$cli_ns" addr add "$cli_ip/24" dev "$cli_dev"
for pair in "$srv_ns $srv_dev" "$cli_ns $cli_dev"; do
  set -- $pair
  ip -n "$1" link set lo up
  ip -n "$1" link set "$2" mtu 1500 up
done
# Many short connections from one client address: the whole port range,
# and TIME-WAIT ports reused (these settings belong to the client namespace).
ip netns exec "$cli_ns" sh -c 'echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range &&
  echo 1 > /proc/sys/net/ipv4/tcp_tw_reuse'

features=(tso gso gro lro)
[ "$csum_off" = 1 ] && features+=(tx rx)
feature_name() {
  case $1 in
    tso) echo tcp-segmentation-offload ;;
    gso) echo generic-segmentation-offload ;;
    gro) echo generic-receive-offload ;;
    lro) echo large-receive-offload ;;
    tx) echo tx-checksumming ;;
    rx) echo rx-checksumming ;;
  esac
}
offloads=()
if [ "$have_ethtool" = 1 ]; then
  for pair in "$srv_ns $srv_dev" "$cli_ns $cli_dev"; do
    set -- $pair
    states=()
    for f in "${features[@]}"; do
      ip netns exec "$1" ethtool -K "$2" "$f" off >/dev/null 2>&1 || true
      state=$(ip netns exec "$1" ethtool -k "$2" | sed -n "s/^$(feature_name "$f"): //p")
      case $state in
        off*) states+=("$f off") ;;
        *)
          log "warning: cannot turn $f off on $2 (now: ${state:-unknown})"
          states+=("$f ${state:-unknown}")
          ;;
      esac
    done
    offloads+=("$2: $(IFS=,; echo "${states[*]}" | sed 's/,/, /g')")
  done
else
  offloads+=("unchanged (no ethtool)")
fi
log "veth $srv_dev ($srv_ns, $srv_ip) <-> $cli_dev ($cli_ns, $cli_ip), mtu 1500"
for o in "${offloads[@]}"; do log "offloads $o"; done

# --- the server ---------------------------------------------------------------

cpus=$(nproc)
ip netns exec "$srv_ns" "$server_bin" --addr "$srv_ip" --port "$port" --workers "$cpus" \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
  grep -q listening "$work/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || die "the server exited: $(cat "$work/server.log")"
  sleep 0.1
done
grep -q listening "$work/server.log" || die "the server did not start within 60 s"
log "$(cat "$work/server.log")"
probe=$(ip netns exec "$cli_ns" bash -c "exec 3<>/dev/tcp/$srv_ip/$port &&
  printf 'GET /0.htm HTTP/1.1\r\nHost: $srv_ip\r\nConnection: close\r\n\r\n' >&3 &&
  head -c 15 <&3" 2>&1) || true
[ "$probe" = "HTTP/1.1 200 OK" ] || die "probe over the veth failed: $probe"

cat >"$work/pages.lua" <<EOF
-- The 500 pages in a seeded random order, one request per connection.
local pages, seed, counter = 500, $seed, 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  math.randomseed(seed * 7919 + id)
  reqs = {}
  for i = 0, pages - 1 do
    reqs[i] = wrk.format("GET", "/" .. i .. ".htm", { ["Connection"] = "close" })
  end
end
function request()
  return reqs[math.random(0, pages - 1)]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RUSTY_WRK requests=%.0f duration_us=%.0f bytes=%.0f connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f p50_us=%.0f p99_us=%.0f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
EOF

# --- measurements ---------------------------------------------------------------

hz=$(getconf CLK_TCK)
# Without CONFIG_IRQ_TIME_ACCOUNTING, softirq work done in a task's context
# (most of veth's: it runs when the sender re-enables bottom halves) counts
# in that task's time as well as in /proc/stat's softirq column.
irq_time=0
irq_time_json=null
config=""
if [ -r /proc/config.gz ]; then
  config=$(zcat /proc/config.gz 2>/dev/null || true)
elif [ -r "/boot/config-$(uname -r)" ]; then
  config=$(cat "/boot/config-$(uname -r)")
fi
if [ -n "$config" ]; then
  if grep -q '^CONFIG_IRQ_TIME_ACCOUNTING=y' <<<"$config"; then
    irq_time=1 irq_time_json=true
  else
    irq_time_json=false
  fi
else
  log "warning: kernel config unreadable: assuming softirq time is part of task time (attrib)"
fi
# Jiffies of the "cpu" line of /proc/stat: sets user system softirq other idle.
read_stat() {
  local _cpu user nice system idle iowait irq softirq steal _rest
  read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
  stat_user=$((user + nice))
  stat_system=$system
  stat_softirq=$softirq
  stat_other=$((irq + steal))
  stat_idle=$((idle + iowait))
}
# utime + stime of a process, in jiffies.
proc_ticks() {
  local line
  read -r line <"/proc/$1/stat"
  set -- ${line##*) }
  echo $((${12} + ${13}))
}
# CPU of the children this shell has waited for, in milliseconds, into
# $children_ms (not through $(...): a subshell does not see them).
children_ms=0
read_children() {
  times >"$work/times"
  local _self children
  { read -r _self; read -r children; } <"$work/times"
  set -- $children
  children_ms=$(awk -v u="$1" -v s="$2" 'function ms(t,  m) { m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return (m * 60 + t) * 1000 }
    BEGIN { printf "%.0f", ms(u) + ms(s) }')
}
busy() { echo $((stat_user + stat_system + stat_softirq + stat_other)); }
field() { # name, text: the value of name=value in space-separated text
  awk -v k="$1" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' <<<"$2"
}
json_number() { # name, JSON text: the number of "name": in it
  grep -o "\"$1\" *: *[-0-9.eE+]*" <<<"$2" | head -n 1 | sed 's/.*: *//'
}

rows_text=()
rows_json=()
threads_max=$cpus
for c in "${concurrency[@]}"; do
  threads=$((c < threads_max ? c : threads_max))
  # Background load, measured just before: the machine may be shared.
  read_stat
  bg0=$(busy)
  bg_idle0=$stat_idle
  sleep 1
  read_stat
  bg_busy=$(($(busy) - bg0))
  bg_total=$((bg_busy + stat_idle - bg_idle0))

  log "concurrency $c: wrk -t$threads -c$c -d${duration}s"
  read_children
  children0=$children_ms
  server0=$(proc_ticks "$server_pid")
  read_stat
  u0=$stat_user s0=$stat_system q0=$stat_softirq o0=$stat_other
  ip netns exec "$cli_ns" wrk -t"$threads" -c"$c" -d"${duration}s" --timeout 5s \
    -s "$work/pages.lua" "http://$srv_ip:$port/" >"$work/wrk.log" 2>&1 &
  wrk_pid=$!
  wrk_rc=0
  wait "$wrk_pid" || wrk_rc=$?
  wrk_pid=""
  read_stat
  server1=$(proc_ticks "$server_pid")
  read_children
  children1=$children_ms
  [ "$wrk_rc" = 0 ] || die "wrk failed ($wrk_rc): $(cat "$work/wrk.log")"
  result=$(grep '^RUSTY_WRK ' "$work/wrk.log") || die "wrk printed no result: $(cat "$work/wrk.log")"
  requests=$(field requests "$result")
  duration_us=$(field duration_us "$result")
  errors_connect=$(field connect "$result")
  errors_read=$(field read "$result")
  errors_write=$(field write "$result")
  errors_status=$(field status "$result")
  errors_timeout=$(field timeout "$result")
  p50_us=$(field p50_us "$result")
  p99_us=$(field p99_us "$result")
  [ "$requests" -gt 0 ] || die "wrk completed no request: $(cat "$work/wrk.log")"
  [ "$errors_status" = 0 ] || die "$errors_status responses were not 200: $(cat "$work/wrk.log")"
  errors=$((errors_connect + errors_read + errors_write + errors_timeout))
  [ "$errors" = 0 ] || log "warning: socket errors: connect $errors_connect, read $errors_read, write $errors_write, timeout $errors_timeout"

  linux=$(awk -v hz="$hz" -v n="$requests" -v dus="$duration_us" \
    -v u=$((stat_user - u0)) -v s=$((stat_system - s0)) -v q=$((stat_softirq - q0)) -v o=$((stat_other - o0)) \
    -v bgb="$bg_busy" -v bgt="$bg_total" -v cpus="$cpus" -v srv=$((server1 - server0)) -v wrk=$((children1 - children0)) \
    -v irqtime="$irq_time" \
    'BEGIN {
      wall = dus / 1e6; per = 1e6 / hz / n
      printf "rps=%.1f wall_s=%.3f cpu_s=%.2f user_s=%.2f system_s=%.2f softirq_s=%.2f other_s=%.2f ",
        n / wall, wall, (u + s + q + o) / hz, u / hz, s / hz, q / hz, o / hz
      printf "us=%.2f us_user=%.2f us_system=%.2f us_softirq=%.2f us_other=%.2f ",
        (u + s + q + o) * per, u * per, s * per, q * per, o * per
      # Attributed: the two processes, plus interrupt time where the kernel
      # keeps it out of task time; other work on a shared machine hardly
      # adds to either.
      printf "background_pct=%.1f server_cpu_s=%.2f wrk_cpu_s=%.2f us_attributed=%.2f\n",
        (bgt > 0 ? 100 * bgb / bgt * cpus : 0), srv / hz, wrk / 1000,
        (srv / hz + wrk / 1000 + irqtime * (q + o) / hz) * 1e6 / n
    }')
  lf() { field "$1" "$linux"; }

  rusty_us="" rusty_rps="" ratio="" ratio_attributed="" rusty_note="unavailable"
  if [ "$rusty_available" = 1 ]; then
    log "concurrency $c: rusty-sim bench --stack rusty --conns $c${rusty_requests:+ --requests $rusty_requests}"
    if out=$("$sim_bin" bench --stack rusty --conns "$c" ${rusty_requests:+--requests "$rusty_requests"} --json 2>"$work/bench.err"); then
      out=$(tr -d '\n' <<<"$out")
      rusty_us=$(json_number us_cpu_per_req "$out")
      rusty_rps=$(json_number rps "$out")
      rusty_failed=$(json_number requests_failed "$out")
      rusty_corrupt=$(json_number bytes_corrupt "$out")
      if [ -n "$rusty_us" ]; then
        rusty_note="ok"
        [ "${rusty_failed:-0}" = 0 ] && [ "${rusty_corrupt:-0}" = 0 ] ||
          rusty_note="failed=$rusty_failed corrupt=$rusty_corrupt"
        ratio=$(awk -v l="$(lf us)" -v r="$rusty_us" 'BEGIN { if (r > 0) printf "%.2f", l / r }')
        ratio_attributed=$(awk -v l="$(lf us_attributed)" -v r="$rusty_us" 'BEGIN { if (r > 0) printf "%.2f", l / r }')
      else
        rusty_note="no us_cpu_per_req in its output"
      fi
    else
      rusty_note="bench failed: $(tail -n 3 "$work/bench.err" | tr '\n' ' ')"
    fi
    [ "$rusty_note" = ok ] || { is_ci && die "rusty-sim bench at concurrency $c: $rusty_note"; log "warning: rusty-sim bench at concurrency $c: $rusty_note"; }
  fi

  rusty_text=-
  [ -z "$rusty_us" ] || rusty_text=$(awk -v r="$rusty_us" 'BEGIN { printf "%.2f", r }')
  rows_text+=("$(printf '%6s %10s %10s %8s %8s %8s %6s %8s %6s %7s %9s %12s %11s' \
    "$c" "$(lf rps)" "$(lf us)" "$(lf us_user)" "$(lf us_system)" "$(lf us_softirq)" "$(lf us_other)" "$(lf us_attributed)" \
    "$(lf background_pct)" "$errors" "$rusty_text" "${ratio:--}" "${ratio_attributed:--}")")
  num() { if [ -n "$1" ]; then echo "$1"; else echo null; fi; }
  rows_json+=("{\"concurrency\": $c, \"wrk_threads\": $threads, \"requests\": $requests, \"wall_s\": $(lf wall_s), \
\"rps\": $(lf rps), \"cpu_s\": $(lf cpu_s), \"user_s\": $(lf user_s), \"system_s\": $(lf system_s), \
\"softirq_s\": $(lf softirq_s), \"other_s\": $(lf other_s), \"us_cpu_per_req\": $(lf us), \
\"us_user_per_req\": $(lf us_user), \"us_system_per_req\": $(lf us_system), \"us_softirq_per_req\": $(lf us_softirq), \
\"us_other_per_req\": $(lf us_other), \"background_cpu_pct\": $(lf background_pct), \
\"server_cpu_s\": $(lf server_cpu_s), \"wrk_cpu_s\": $(lf wrk_cpu_s), \"us_attributed_per_req\": $(lf us_attributed), \"latency_p50_us\": $p50_us, \"latency_p99_us\": $p99_us, \
\"errors\": {\"connect\": $errors_connect, \"read\": $errors_read, \"write\": $errors_write, \"status\": $errors_status, \"timeout\": $errors_timeout}, \
\"rusty_us_cpu_per_req\": $(num "$rusty_us"), \"rusty_rps\": $(num "$rusty_rps"), \"rusty\": $(json_string "$rusty_note"), \
\"ratio_linux_rusty\": $(num "$ratio"), \"ratio_attributed_linux_rusty\": $(num "$ratio_attributed")}")
done

# --- report -------------------------------------------------------------------

kernel=$(uname -r)
if [ "$json" = 1 ]; then
  offloads_json=$(for o in "${offloads[@]}"; do json_string "$o"; echo; done | paste -sd, -)
  printf '{"kernel": %s, "cpus": %s, "user_hz": %s, "duration_s": %s, "seed": %s, "mtu": 1500, ' \
    "$(json_string "$kernel")" "$cpus" "$hz" "$duration" "$seed"
  printf '"irq_time_accounting": %s, "namespaces": ["%s", "%s"], "server_pid": %s, "offloads": [%s], "rusty_available": %s, "rows": [' \
    "$irq_time_json" "$srv_ns" "$cli_ns" "$server_pid" "$offloads_json" "$([ "$rusty_available" = 1 ] && echo true || echo false)"
  (IFS=,; printf '%s' "${rows_json[*]}")
  printf ']}\n'
else
  echo "Linux $kernel TCP over veth ($cpus CPUs, server $cpus workers, wrk in the other namespace), one request per connection, ${duration} s per level"
  echo "offloads: $(printf '%s; ' "${offloads[@]}" | sed 's/; $//')"
  echo "CPU per completed request, in us: whole machine from /proc/stat (USER_HZ $hz) during the wrk run (us/req = user + sys + softirq + other);"
  if [ "$irq_time" = 1 ]; then
    echo "  attrib = server + wrk processes + softirq + irq (less sensitive to other load); bg% = load just before, in % of one CPU;"
  else
    echo "  attrib = server + wrk processes, softirq run in their context included (no IRQ time accounting; less sensitive to other load);"
    echo "  bg% = load just before, in % of one CPU;"
  fi
  echo "  rusty_us = us_cpu_per_req of rusty-sim bench --stack rusty (both ends, one thread, process CPU)"
  printf '%6s %10s %10s %8s %8s %8s %6s %8s %6s %7s %9s %12s %11s\n' \
    conns req/s us/req user sys softirq other attrib bg% errors rusty_us linux/rusty attrib/rusty
  for row in "${rows_text[@]}"; do echo "$row"; done
  [ "$rusty_available" = 1 ] || echo "Rusty: unavailable ($sim_bin has no 'bench' command)"
fi
