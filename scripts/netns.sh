#!/usr/bin/env bash
# Create or destroy a private network namespace for media tests and local experiments.
#
#   scripts/netns.sh up NAME     # namespace NAME with lo and a veth pair mt0 (10.99.0.1/24)
#                                # <-> mt1 (10.99.0.2/24), both ends inside, default route on mt0
#   scripts/netns.sh down NAME
#   ip netns exec NAME <command>  # run Janus, the server, bots or a browser inside it
#
# Both veth ends live in the namespace, so media between them never leaves it and nothing is
# sent to the machine's outward-facing address. Janus is pointed at mt0 (ice_enforce_list).
# The default route exists because browsers only offer mDNS candidates with one (see
# shared/JANUS-NOTES.md); its peer is in the same namespace, so it leads nowhere else.
set -euo pipefail
action=${1:?usage: netns.sh up|down NAME}
name=${2:?usage: netns.sh up|down NAME}
case "$action" in
  up)
    ip netns add "$name"
    ip -n "$name" link set lo up
    ip -n "$name" link add mt0 type veth peer name mt1
    ip -n "$name" addr add 10.99.0.1/24 dev mt0
    ip -n "$name" addr add 10.99.0.2/24 dev mt1
    ip -n "$name" link set mt0 up
    ip -n "$name" link set mt1 up
    ip -n "$name" route add default dev mt0
    ;;
  down)
    ip netns del "$name"
    ;;
  *)
    echo "usage: netns.sh up|down NAME" >&2
    exit 2
    ;;
esac
