# Sourced by scripts/test.sh and bench/run.sh: re-run the calling script inside a
# private network namespace. Its only interfaces are loopback and a veth pair that
# leads nowhere (10.213.0.1/24), on which Janus and the WebRTC peers (aiortc,
# Chromium) find each other. Nothing started inside can reach any other network.
run_in_private_network() {
    if [[ "${STREAMCAT_IN_NETNS:-0}" == 1 ]]; then
        ip link set lo up
        ip link add streamcat0 type veth peer name streamcat1
        ip addr add 10.213.0.1/24 dev streamcat0
        ip link set streamcat0 up
        ip link set streamcat1 up
        ip route add default dev streamcat0
        export STREAMCAT_TEST_ICE_INTERFACE=streamcat0 STREAMCAT_TEST_ICE_ADDRESS=10.213.0.1
        return 0
    fi
    if unshare --net true 2>/dev/null; then
        exec unshare --net -- env STREAMCAT_IN_NETNS=1 bash "$0" "$@"
    fi
    echo "(cannot create a network namespace here: WebRTC peers use loopback only)"
}
