#!/usr/bin/env bash
# `make bench-failover`: a benchmark, not a test. On a running lab (`make lab`), kills the
# preferred node ROUNDS times (docker kill, no clean shutdown) while the client probes HTTPS,
# IMAP and SMTP on the virtual IP every 100 ms, and prints the median and maximum outage per
# protocol. With --idle-load it first keeps both nodes' CPUs busy for 5 minutes and counts
# VRRP state changes (there should be none).
#
#   tests/bench-failover.sh [--rounds N] [--idle-load [SECONDS]] [--inventory DIR]
#   Targets with the default timing: median <= 2 s, maximum <= 3 s, no state change under load.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5
idle_seconds=0
inventory=${BENCH_INVENTORY:-inventories/lab}
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --idle-load)
            idle_seconds=300; shift
            if [[ ${1:-} =~ ^[0-9]+$ ]]; then idle_seconds=$1; shift; fi ;;
        --inventory) inventory=$2; shift 2 ;;
        -h | --help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

# Names and addresses from the inventory: the node with the higher priority is the one killed.
inventory_json=$(ansible-inventory -i "$inventory" --list)
eval "$(INVENTORY_JSON=$inventory_json python3 - <<'PY'
import json
import os
import shlex

inv = json.loads(os.environ["INVENTORY_JSON"])
hv = inv["_meta"]["hostvars"]
nodes = sorted(inv["webmail_nodes"]["hosts"], key=lambda n: -int(hv[n]["keepalived_priority"]))
client = inv["webmail_clients"]["hosts"][0]
first = hv[nodes[0]]
values = {
    "preferred": nodes[0], "other": nodes[1],
    "preferred_ct": hv[nodes[0]]["ansible_host"], "other_ct": hv[nodes[1]]["ansible_host"],
    "client_ct": hv[client]["ansible_host"],
    "vip": first["webmail_virtual_ip"], "domain": first["webmail_domain"],
    "failback_delay": first.get("keepalived_failback_delay", 60),
    "nodes_json": json.dumps({n: hv[n]["webmail_node_address"] for n in nodes}),
}
for name, value in values.items():
    print(f"{name}={shlex.quote(str(value))}")
PY
)"

for ct in "$preferred_ct" "$other_ct" "$client_ct"; do
    if [[ $(docker inspect -f '{{.State.Running}}' "$ct" 2>/dev/null) != true ]]; then
        echo "container $ct is not running: start the lab first (make lab)" >&2
        exit 1
    fi
done

now() { date +%s.%N; }

holders() {
    local node ct
    for node in "$preferred" "$other"; do
        ct=$preferred_ct; [[ $node == "$other" ]] && ct=$other_ct
        if docker exec "$ct" ip -4 -o addr show 2>/dev/null | grep -qF " $vip/"; then echo "$node"; fi
    done
}

wait_holder() {  # wait_holder NODE SECONDS
    local deadline=$(( $(date +%s) + $2 ))
    until [[ "$(holders)" == "$1" ]]; do
        if (( $(date +%s) > deadline )); then
            echo "the virtual IP did not settle on $1 within $2 s (holders: $(holders | xargs))" >&2
            return 1
        fi
        sleep 0.5
    done
}

wait_healthy() {  # wait_healthy CONTAINER
    local i
    for i in $(seq 120); do
        if docker exec "$1" sh -c 'systemctl is-system-running --wait >/dev/null 2>&1;
            systemctl is-active --quiet keepalived &&
            runuser -u keepalived_script -- /usr/local/lib/hamail/hamail-check-services \
                --domain '"$domain"' smtp imap https dns >/dev/null' 2>/dev/null; then
            return 0
        fi
        sleep 2
    done
    echo "$1 did not become healthy" >&2
    return 1
}

vrrp_changes() {  # number of VRRP state changes logged on a container since a time
    docker exec "$1" journalctl -u keepalived --since "@${2%.*}" --no-pager -q 2>/dev/null |
        grep -c 'Entering .* STATE' || true
}

echo "bench-failover: $rounds kill rounds of $preferred ($preferred_ct), virtual IP $vip"
wait_holder "$preferred" $((failback_delay + 60))

if (( idle_seconds > 0 )); then
    echo "idle under load: both nodes busy for $idle_seconds s (2 spinning processes each)"
    t0=$(now)
    for ct in "$preferred_ct" "$other_ct"; do
        for _ in 1 2; do
            docker exec -d "$ct" timeout "$idle_seconds" sh -c 'while :; do :; done'
        done
    done
    sleep "$idle_seconds"
    sleep 2
    changes=$(( $(vrrp_changes "$preferred_ct" "$t0") + $(vrrp_changes "$other_ct" "$t0") ))
    echo "VRRP state changes during $idle_seconds s under load: $changes (target 0)"
fi

work=/var/tmp/hamail-bench
docker exec "$client_ct" sh -c "rm -rf $work && mkdir -p $work/out && chmod 700 $work"
docker cp tests/probes/failover_probe.py "$client_ct:$work/failover_probe.py"
docker exec -i "$client_ct" sh -c "cat > $work/config.json" <<JSON
{"vip": "$vip", "domain": "$domain", "nodes": $nodes_json, "recipient": "", "password": "",
 "verify_tls": ${BENCH_VERIFY_TLS:-true}}
JSON
docker exec -d "$client_ct" python3 "$work/failover_probe.py" poll --config "$work/config.json" \
    --out "$work/out" --mail-every 0
sleep 3

rounds_json="["
for i in $(seq "$rounds"); do
    start=$(now)
    docker kill "$preferred_ct" >/dev/null
    wait_holder "$other" 30
    sleep 3
    end=$(now)
    rounds_json+="{\"name\": \"kill-$i\", \"start\": $start, \"end\": $end},"
    docker start "$preferred_ct" >/dev/null
    wait_healthy "$preferred_ct"
    wait_holder "$preferred" $((failback_delay + 60))
    echo "round $i done"
    sleep 3
done
rounds_json="${rounds_json%,}]"

docker exec "$client_ct" touch "$work/out/stop"
sleep 2
docker exec -i "$client_ct" sh -c "cat > $work/rounds.json" <<<"$rounds_json"
docker exec "$client_ct" python3 "$work/failover_probe.py" report --config "$work/config.json" \
    --out "$work/out" --rounds "$work/rounds.json" --report "$work/report.json" --wait 0 >/dev/null
docker exec "$client_ct" cat "$work/report.json" | python3 -c '
import json, statistics, sys
report = json.load(sys.stdin)
print("outage per kill round (s):")
for r in report["rounds"]:
    print("  " + r["name"] + ": " + ", ".join(f"{p} {v:.1f}" for p, v in r["outage_seconds"].items()))
print("protocol  median  maximum   (target: median <= 2 s, maximum <= 3 s)")
for protocol in ("https", "imap", "smtp"):
    values = [r["outage_seconds"][protocol] for r in report["rounds"]]
    print(f"{protocol:8} {statistics.median(values):6.1f}s {max(values):7.1f}s")
'
