#!/usr/bin/env bash
# scripts/demo.sh — a relay and a gateway in two network namespaces, joined by a veth pair,
# set up and inspected with amtctl. Run as root where the kernel has the AMT driver:
#
#   go build -o .build/amtctl ./cmd/amtctl && scripts/vm -k 6.12 -- scripts/demo.sh
#
# It builds nothing: the binary is $AMTCTL, or ./.build/amtctl. It leaves nothing behind
# (a trap deletes the links and namespaces), and exits non-zero on the first failure.
set -euo pipefail

AMTCTL=${AMTCTL:-./.build/amtctl}
RELAY_NS=relay GW_NS=gw
RELAY_IP=10.0.0.1 GW_IP=10.0.0.2

say() { printf '\n==> %s\n' "$*"; }
fail() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }
run() { printf '$ %s\n' "$*"; "$@"; }

[[ -x $AMTCTL ]] || fail "no amtctl binary at $AMTCTL (go build -o .build/amtctl ./cmd/amtctl, or set AMTCTL)"
((EUID == 0)) || fail "run as root (inside the VM: scripts/vm -k 6.12 -- scripts/demo.sh)"

cleanup() {
	local rc=$?
	say "Cleaning up: deleting the AMT links and both namespaces"
	if [[ -n ${MON_PID:-} ]]; then kill "$MON_PID" 2>/dev/null || true; fi
	"$AMTCTL" -n "$GW_NS" del amtg 2>/dev/null || true
	"$AMTCTL" -n "$RELAY_NS" del amtr 2>/dev/null || true
	ip netns del "$GW_NS" 2>/dev/null || true
	ip netns del "$RELAY_NS" 2>/dev/null || true
	exit "$rc"
}
trap cleanup EXIT

say "amtctl under test: $("$AMTCTL" version); kernel $(uname -r)"

say "Making two network namespaces, '$RELAY_NS' and '$GW_NS', joined by a veth pair (veth-r <-> veth-g)"
run ip netns add "$RELAY_NS"
run ip netns add "$GW_NS"
run ip link add veth-r netns "$RELAY_NS" type veth peer name veth-g netns "$GW_NS"
run ip -n "$RELAY_NS" addr add "$RELAY_IP/24" dev veth-r
run ip -n "$GW_NS" addr add "$GW_IP/24" dev veth-g
for ns in "$RELAY_NS" "$GW_NS"; do run ip -n "$ns" link set lo up; done
run ip -n "$RELAY_NS" link set veth-r up
run ip -n "$GW_NS" link set veth-g up

say "Watching the gateway's namespace: amtctl -n $GW_NS monitor, in the background (its output is shown at the end)"
MON_OUT=$(mktemp) MON_ERR=$(mktemp)
"$AMTCTL" -n "$GW_NS" monitor >"$MON_OUT" 2>"$MON_ERR" &
MON_PID=$!
# monitor says on stderr when it watches; act only then (at most 10s).
for ((i = 0; i < 50; i++)); do
	grep -q 'monitoring amt links' "$MON_ERR" && break
	kill -0 "$MON_PID" 2>/dev/null || fail "monitor ended early: $(cat "$MON_ERR")"
	sleep 0.2
done
cat "$MON_ERR"

say "Creating the relay: it listens on UDP 2268 at $RELAY_IP for gateways"
run "$AMTCTL" -n "$RELAY_NS" add amtr mode relay local "$RELAY_IP" dev veth-r up

say "Creating the gateway: it discovers the relay by sending Relay Discovery to $RELAY_IP"
run "$AMTCTL" -n "$GW_NS" add amtg mode gateway local "$GW_IP" discovery "$RELAY_IP" dev veth-g up

say "Waiting (at most 20s) until the gateway reports the relay it found as its remote"
remote_found=0
for ((i = 0; i < 100; i++)); do
	if "$AMTCTL" -n "$GW_NS" show -j amtg | grep -q "\"remote\":\"$RELAY_IP\""; then
		remote_found=1
		break
	fi
	sleep 0.2
done
((remote_found)) || fail "gateway amtg did not discover relay $RELAY_IP within 20s; it reports: $("$AMTCTL" -n "$GW_NS" show -j amtg)"
printf 'gateway found relay %s after about %d.%ds\n' "$RELAY_IP" $((i / 5)) $((i % 5 * 2))

say "The gateway side, as a table"
run "$AMTCTL" -n "$GW_NS" show

say "The relay side, as a table"
run "$AMTCTL" -n "$RELAY_NS" show

say "The gateway side as JSON, shaped like 'ip -d -s -j link show'"
run "$AMTCTL" -n "$GW_NS" show -j -p

if command -v jq >/dev/null; then
	say "Checking amtctl's JSON against what iproute2 itself prints (ip -s -d -j link show)"
	for pair in "$GW_NS:amtg" "$RELAY_NS:amtr"; do
		ns=${pair%%:*} name=${pair#*:}
		ours=$("$AMTCTL" -n "$ns" show -j "$name")
		theirs=$(ip -n "$ns" -s -d -j link show dev "$name")
		# linkinfo.info_data must be identical; every other key amtctl prints must carry
		# iproute2's value (stats64: the same keys; counters may move between the two reads).
		a=$(jq -S '.[0].linkinfo.info_data' <<<"$ours") b=$(jq -S '.[0].linkinfo.info_data' <<<"$theirs")
		[[ $a == "$b" ]] || fail "$name: info_data differs: amtctl $a, iproute2 $b"
		diff=$(jq -n --argjson a "$ours" --argjson b "$theirs" '
			$a[0] as $o | $b[0] as $t |
			[$o | to_entries[] | select(.key != "stats64") | select(.value != $t[.key]) | .key] +
			[$o.stats64 | to_entries[] | .key as $d | .value | keys[] as $k | select($t.stats64[$d] | has($k) | not) | "stats64.\($d).\($k)"]')
		[[ $(jq length <<<"$diff") == 0 ]] || fail "$name: keys whose value differs from iproute2's: $diff"
		printf '%s: same as iproute2 (%s); info_data %s\n' "$name" "$(jq -r '.[0] | keys | join(", ")' <<<"$ours")" "$(jq -c . <<<"$a")"
	done
else
	say "jq not installed: skipping the comparison with iproute2's JSON"
fi

say "Changing the gateway in place (amtctl set): down, then mtu 1400 and up in one request"
run "$AMTCTL" -n "$GW_NS" set amtg down
run "$AMTCTL" -n "$GW_NS" set amtg mtu 1400 up
"$AMTCTL" -n "$GW_NS" show -j amtg | grep -q '"mtu":1400,' || fail "amtg does not report mtu 1400 after set"
say "An AMT attribute cannot be set in place (the kernel has no changelink); amtctl says what to do instead"
printf '$ %s\n' "$AMTCTL -n $GW_NS set amtg local 10.0.0.3"
if "$AMTCTL" -n "$GW_NS" set amtg local 10.0.0.3; then fail "set local succeeded"; else echo "(exit status $?)"; fi

say "Waiting (at most 20s) until monitor has seen the gateway rediscover its relay"
for ((i = 0; i < 100; i++)); do
	(($(grep -c '^relay-discovered amtg' "$MON_OUT") >= 2)) && break
	sleep 0.2
done

say "Deleting both links"
run "$AMTCTL" -n "$GW_NS" del amtg
run "$AMTCTL" -n "$RELAY_NS" del amtr

say "Stopping monitor with SIGINT; what it printed:"
for ((i = 0; i < 50; i++)); do
	grep -q '^deleted amtg' "$MON_OUT" && break
	sleep 0.2
done
kill -INT "$MON_PID"
mon_rc=0
wait "$MON_PID" || mon_rc=$?
cat "$MON_OUT"
((mon_rc == 0)) || fail "monitor exited $mon_rc after SIGINT: $(cat "$MON_ERR")"
for want in 'created amtg gateway local '"$GW_IP"' dev veth-g' 'up amtg' "relay-discovered amtg $RELAY_IP" \
	'down amtg' "relay-lost amtg (was $RELAY_IP)" 'deleted amtg'; do
	grep -qxF "$want" "$MON_OUT" || fail "monitor did not print: $want"
done
rm -f "$MON_OUT" "$MON_ERR"
[[ $("$AMTCTL" -n "$GW_NS" show -j) == "[]" ]] || fail "amtg still listed after del"
[[ $("$AMTCTL" -n "$RELAY_NS" show -j) == "[]" ]] || fail "amtr still listed after del"

say "The same two links as desired state, in both namespaces at once: amtctl apply"
SPEC=$(mktemp --suffix=.yaml)
cat >"$SPEC" <<EOF
links:
  - {name: amtr, netns: $RELAY_NS, mode: relay, local: $RELAY_IP, dev: veth-r, up: true}
  - {name: amtg, netns: $GW_NS, mode: gateway, local: $GW_IP, discovery: $RELAY_IP, dev: veth-g, up: true}
EOF
cat "$SPEC"
run "$AMTCTL" apply -f "$SPEC" --dry-run
run "$AMTCTL" apply -f "$SPEC"
run "$AMTCTL" apply -f "$SPEC"
[[ $("$AMTCTL" apply -f "$SPEC") == "no changes" ]] || fail "a second apply changed something"

say "Drift behind apply's back (relay deleted, gateway down); apply puts it back"
run "$AMTCTL" -n "$RELAY_NS" del amtr
run "$AMTCTL" -n "$GW_NS" set amtg down
run "$AMTCTL" apply -f "$SPEC"
[[ $("$AMTCTL" apply -f "$SPEC") == "no changes" ]] || fail "apply did not converge"

say "A mistake in the file changes nothing: one line per problem, exit status 2"
BAD="links: [{name: amtg, netns: $GW_NS, mode: gateway, local: $GW_IP, discovery: 10.0.0.300, dev: veth-g}]"
printf '$ %s\n' "$AMTCTL apply -f - <<< '$BAD'"
if "$AMTCTL" apply -f - <<<"$BAD"; then fail "apply took an invalid file"; else echo "(exit status $?)"; fi

say "Deleting both with one batch (one netlink socket per namespace), as ip -batch does"
rm -f "$SPEC"
BATCH=$(mktemp --suffix=.batch)
printf -- '-n %s del amtg\n-n %s del amtr\n' "$GW_NS" "$RELAY_NS" >"$BATCH"
cat "$BATCH"
run "$AMTCTL" -batch "$BATCH"
rm -f "$BATCH"
[[ $("$AMTCTL" -n "$GW_NS" show -j) == "[]" && $("$AMTCTL" -n "$RELAY_NS" show -j) == "[]" ]] || fail "links left after the batch"

say "Demo complete"
