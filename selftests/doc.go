// Package selftests is a Go port of the kernel's AMT selftest,
// tools/testing/selftests/net/amt.sh, plus cases that script does not have.
//
// The tests build amt.sh's topology out of four anonymous network
// namespaces held by file descriptors:
//
//	LISTENER  l_gw 192.168.0.2/24 2001:db8::2/64
//	   |
//	GATEWAY   br0 { gw_l 192.168.0.1/24 2001:db8::1/64, amtg (gateway) }
//	          gw_relay 10.0.0.1/24
//	   |
//	RELAY     relay_gw 10.0.0.2/24, amtr (relay, max_tunnels 4)
//	          relay_src 172.17.0.1/24 2001:db8:3::1/64
//	   |
//	SOURCE    src_relay 172.17.0.2/24 2001:db8:3::2/64 (mtu 1400)
//
// Everything is configured over rtnetlink connections dialled into each
// namespace, sysctls are written under /proc/sys from a thread switched into
// the namespace, and multicast routing on the relay is installed through the
// MRT/MRT6 socket options, as smcroute would, on raw sockets held open until
// the test ends. No external program is run.
//
// # Cases
//
// TestIntegrationPlumbing checks the harness on any kernel with multicast
// routing (no AMT): IPv4 and IPv6 multicast, any-source and source-specific,
// across the relay as a plain multicast router.
//
// TestIntegrationAMT is amt.sh, with its case names: amt discovery, IPv4 and
// IPv6 amt multicast forwarding, amt relay queries bypass the amt device
// (the relay's IGMP and MLD General Queries leave through the tunnel's
// underlay, seen there by a tap, and none through amtr's own egress, where
// amt.sh counts them with tc and this case with an outgoing tap), IPv4 and
// IPv6 amt traffic forwarding torture (-amt.torture-bytes each, then
// forwarding again and a kernel log free of warnings, BUGs and call traces).
//
// Beyond amt.sh: TestIntegrationAMTMembership (IGMPv2, IGMPv3 source-specific,
// MLDv1, MLDv2 source-specific joins; whether the relay tunnels data from
// sources the gateway did not ask for; whether leaving, with an IGMPv3 or
// MLDv2 TO_IN({}) report, an IGMPv2 leave or an MLDv1 Done, stops the
// tunnelled data within 8 s), TestIntegrationAMTTwoGateways,
// TestIntegrationAMTMaxTunnels, TestIntegrationAMTLifecycle (relay
// deleted and re-created; lower device deleted), TestIntegrationAMTLowerDevice
// (five amt links, gateways and relays, on one device that is deleted: each
// link's RTM_DELLINK, timed by a link subscription, within a second of the
// request, and the kernel log clean) and TestIntegrationAMTStress (three
// gateways join and leave 50 IGMPv3 and 50 MLDv2 (S,G) channels each, with
// 10 ms report retransmission, while gateways are deleted and re-created
// and the relay goes down and up; the kernel log must stay free of
// WARNINGs, BUGs, list corruption and refcount errors. The relay's own
// group and source timers run GMI, at least 135 s, so they cannot expire
// within the case; its teardowns delete them instead). TestIntegrationProbe
// runs the amtctl probe and send commands in-process in the same topology
// (IPv4/IPv6, (S,G) and (*,G) through IGMPv3/MLDv2, exact loss, duplicate
// and reorder figures, 10 s of send asking 10,000 datagrams/s checked
// against the kernel's counters, through the relay and gateway and, with
// no AMT, over a veth pair from the source to the listener (under TCG
// neither reaches the rate: the rate is logged, the accounting checked at
// what send reached), and probe's exit-1 line without a relay or a route).
// The senders and receivers of every case are pkg/mcprobe's.
//
// Waits are bounded polls (netlink, sockets, an AF_PACKET tap on the
// tunnel's underlay), never fixed sleeps; a failure says what never happened
// and what the devices had counted. The IGMPv2 and MLDv1 cases and the
// leave cases also tap the gateway's two sides, to tell a membership
// message the listener never sent from one the gateway did not pass on to
// the relay and from one the relay ignored.
//
// # Known driver issues
//
// A case that checks for a known issue of drivers/net/amt.c declares it
// when it starts (expectIssue). It always checks the correct behaviour;
// only when it finds the driver doing what a declared issue describes does
// it print [XFAIL] (kselftest's expected failure: not counted as a failure)
// and, under go test, skip with the issue and what was observed. A case
// that runs into an issue it did not declare fails: that is a bug in the
// case. The issues are the knownIssue constants in membership_test.go; the
// drivers/net/amt.c of Debian's 6.1.192 and 6.12.117 has each:
//
//   - issueGatewayDropsIGMPv2: amt_dev_xmit's gateway path passes IGMP
//     types 0x12 and 0x22 only, so IGMPv2 reports (0x16) and leaves (0x17)
//     never reach the relay. Cases: IGMPv2 any-source join, IGMPv2 leave
//     (which ends at its join).
//   - issueRelayIgnoresSources: amt_dev_xmit's relay path matches tunnels
//     by group only, so an (S,G) join gets every source. Cases: IGMPv3 and
//     MLDv2 relay tunnels only joined sources.
//   - issueNoLeaveProcessing: a TO_IN({}) or BLOCK record never shortens the
//     relay's group timer (GMI, about 260 s). Cases: IGMPv3 and MLDv2 leave.
//   - issueMLDv1Done: the gateway drops MLDv1 Done (132), and the relay's
//     amt_mldv1_leave_handler would look the host up by ip_hdr(skb)->saddr
//     of an IPv6 packet anyway. Case: MLDv1 leave.
//   - issueLowerDevOneUpper: amt_device_event deletes only the first amt
//     link on a lower device that is unregistered; the others go one a
//     second as netdev_wait_allrefs_any rebroadcasts NETDEV_UNREGISTER,
//     with WARNINGs (7.3.4 too; fixed by kernel/amt-fixes/net/0005). Case:
//     lower device deleted: all its amt links go at once.
//   - issueGatewayUpdateDropped: amt_dev_xmit counts every report the
//     gateway tunnels to the relay as a dropped packet (TX dropped), so a
//     real drop cannot be told from a sent update (7.3.4 too; fixed by
//     kernel/amt-fixes/net/0006). Case: gateway counts no tunnelled report
//     as dropped.
//
// When such a case passes, the issue did not reproduce: the line is
// [XPASS], counted as a pass (exit status 0) but apart in the summary,
// below a "# XPASS: …" comment naming the issue and asking to check whether
// the kernel fixed it.
//
// For testing driver fixes, -amt.strict turns every XFAIL into a FAIL with
// the same message, and every XPASS into a plain [ OK ]:
//
//	./amt_selftest -amt.strict            # exits 1 while a known issue remains
//
// # Running
//
// As root on a kernel with the AMT driver:
//
//	go test -v ./selftests
//
// or as a standalone kselftest-style binary, for a kernel CI:
//
//	go test -c -o amt_selftest ./selftests
//	./amt_selftest                        # one "TEST: name  [ OK ]" line per case
//	./amt_selftest -amt.torture-bytes=1073741824   # amt.sh's 1 GiB torture
//
// Standalone, the binary exits like a kselftest: 0 when every case passed
// (or failed as expected, or passed unexpectedly), 1 when one failed, 4
// when every case was skipped.
// Under go test a skip is a pass, as go test knows no other. Without root or the AMT
// driver the cases skip with the reason; with AMTCTL_REQUIRE_KERNEL=1 (set by
// scripts/vm) such a skip is a failure instead.
//
// Every namespace, and with it every device, is released when the test that
// made it ends, on success, failure, timeout, SIGINT or SIGTERM: nothing is
// ever created in the caller's namespace.
//
// The package is Linux-only: every file but this one is built only for linux
// (network namespaces, AF_PACKET, multicast routing sockets). This file has no
// build constraint so that "go build ./..." and "go vet ./..." on other systems
// see a package with no tests instead of one whose files are all excluded.
package selftests
