# amtctl — see README.md.
GO      ?= go
KERNEL  ?= 6.1 6.12 7.3
BUILD   := .build
export PATH := /usr/local/go/bin:$(PATH)

# staticcheck, pinned, built here by the Go toolchain that runs it (a staticcheck built by an
# older Go cannot load code that needs a newer one): a new version or a new Go installs anew.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BUILD)/tools/$(shell $(GO) env GOVERSION)/staticcheck-$(STATICCHECK_VERSION)
# Every shell script: a file under these folders whose first line runs sh or bash.
SHELL_SCRIPTS = $(shell for f in $$(find scripts .ci selftests kernel deploy -type f 2>/dev/null | sort); do \
	head -n1 "$$f" | grep -qE '^\#! *(/usr/bin/env +|/usr/bin/|/bin/)(ba)?sh( |$$)' && echo "$$f"; done)

.PHONY: all build man test vet lint staticcheck shellcheck unit dns-tools procps prom-tools kernel-test test-fixes demo fuzz bench clean vm-shell deb deb-test deb-tools

all: build

build:
	CGO_ENABLED=0 $(GO) build -buildvcs=true -o $(BUILD)/amtctl ./cmd/amtctl
	CGO_ENABLED=0 $(GO) build -buildvcs=true -o $(BUILD)/amtctl-metrics ./cmd/amtctl-metrics

## man: one man page per command (.build/man/amtctl.1, amtctl-add.1, ...), generated from the
## command tree; dated by the last commit, so the same tree gives the same pages.
man:
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(GO) run ./internal/tools/genman -o $(BUILD)/man

## test: vet, lint and unit tests on the host, then every test as root inside a VM on each
## kernel (6.1, 6.12 and 7.3; `make test KERNEL=6.12` picks one, `KERNEL=6.12.117-1~deb12u1` a version).
test: vet lint unit deb-test kernel-test

## vet: gofmt, and go vet for linux, darwin and windows (the library and the CLI build on all
## three; the kernel tests are Linux-only and vetted on linux).
vet:
	@test -z "$$(gofmt -l . | grep -v '^.build/')" || { gofmt -l . ; echo "gofmt: files above need formatting" >&2; exit 1; }
	@rc=0; for os in linux darwin windows; do \
		echo "GOOS=$$os $(GO) vet ./..."; GOOS=$$os $(GO) vet ./... || rc=1; \
	done; exit $$rc

## lint: vet, staticcheck (staticcheck.conf) and shellcheck on every shell script.
lint: vet staticcheck shellcheck

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

$(STATICCHECK):
	@mkdir -p $(@D)
	GOBIN=$(CURDIR)/$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(@D)/staticcheck $@

shellcheck:
	@command -v shellcheck >/dev/null || { echo "installing shellcheck" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; } || \
		{ echo "shellcheck: not installed, and apt-get install shellcheck failed (run as root)" >&2; exit 1; }
	shellcheck $(SHELL_SCRIPTS)

## unit: every host test; the relay lookup tests run BIND's named and dig on loopback, so
## bind9 and bind9-dnsutils are installed first when missing (as root; elsewhere they skip).
unit: dns-tools procps
	$(GO) test -count=1 ./...

dns-tools:
	@{ command -v named >/dev/null || test -x /usr/sbin/named; } && command -v dig >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing bind9 and bind9-dnsutils" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bind9 bind9-dnsutils >/dev/null; \
		else echo "dns-tools: named or dig missing and not root: the relay lookup tests against BIND will skip" >&2; fi; }

## procps: pkill, which TestKubernetesReloadSidecar runs as deploy/kubernetes's reload sidecar
## does (busybox's there); a fresh Debian container may lack it.
procps:
	@command -v pkill >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing procps (for pkill)" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends procps >/dev/null; \
		else echo "procps: pkill missing and not root: TestKubernetesReloadSidecar will skip" >&2; fi; }

## prom-tools: promtool, which the metrics kernel test runs on amtctl metrics' real output, from
## the host's root inside the VM; Debian ships it only in the prometheus package (about 20 MB
## to fetch, installed without recommends; no service is started by the test).
prom-tools:
	@command -v promtool >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "installing prometheus (for promtool)" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
		else echo "prom-tools: promtool missing and not root: the metrics kernel test will fail in the VM" >&2; fi; }

## kernel-test: the VM sees this machine's root, so TestIntegrationDRIAD's named and dig and the
## metrics test's promtool come from here.
kernel-test: dns-tools prom-tools procps
	KERNELS="$(KERNEL)" scripts/kernel-tests

## deb: .build/amtctl_VERSION_ARCH.deb (scripts/deb: dpkg-deb; the static binary, man pages,
## completions, amtctl.service, modules-load.d/amt.conf, /etc/amtctl/links.yaml, copyright).
deb:
	scripts/deb

## deb-test: the package passes lintian (no error, no warning: deploy/debian/lintian-overrides
## says why for the rest), then in a VM on one kernel: dpkg -i, systemd-analyze verify of the
## installed unit, a relay added, shown and deleted with the installed binary, then, with the
## host's systemd as the VM's PID 1, amtctl.service started on a links.yaml (Type=notify), a link
## deleted by hand put back, reload, stop; dpkg -r, dpkg -P.
deb-test: deb-tools
	@deb=$$(scripts/deb | tail -n1) && \
	echo "lintian $$deb" && lintian --fail-on error,warning "$$deb" && \
	scripts/vm --systemd -k $(lastword $(KERNEL)) -- scripts/deb-test "$$deb"

## deb-tools: lintian, systemd-analyze (systemd) and man (man-db: verify checks the unit's
## Documentation=man:), installed when missing (as root).
deb-tools:
	@command -v lintian >/dev/null && command -v systemd-analyze >/dev/null && command -v man >/dev/null || { \
		echo "installing lintian, systemd and man-db" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lintian systemd man-db >/dev/null; } || \
		{ echo "deb-tools: lintian, systemd or man-db missing, and apt-get install failed (run as root)" >&2; exit 1; }

## test-fixes: the selftests with -amt.strict (a known driver issue fails instead of XFAIL) on
## each kernel, with amt.ko built from Debian's source plus the amt.c part of the two series,
## kernel/amt-fixes/net then kernel/amt-fixes/net-next (scripts/amt-sh runs their amt.sh).
AMT_SERIES := kernel/amt-fixes/net kernel/amt-fixes/net-next
test-fixes:
	$(GO) test -c -o $(BUILD)/selftests-fixes.test ./selftests
	@rc=0; for k in $(KERNEL); do \
		scripts/vm -k $$k $(addprefix --amt-patches ,$(AMT_SERIES)) -- $(BUILD)/selftests-fixes.test -test.v -test.timeout=25m -amt.strict || rc=1; \
	done; exit $$rc

## demo: a relay and a gateway in two namespaces of a VM, discovery, show, delete.
demo: build
	@command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; } || echo "demo: jq unavailable: the comparison with iproute2's JSON is skipped" >&2
	scripts/vm -k $(lastword $(KERNEL)) -- scripts/demo.sh $(BUILD)/amtctl

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./pkg/ifla
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./pkg/amtrelay
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./pkg/amtrelay
	$(GO) test -run '^$$' -fuzz FuzzParseHeader -fuzztime 60s ./pkg/mcprobe

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

vm-shell:
	scripts/vm -k $(lastword $(KERNEL))

clean:
	rm -rf $(BUILD)
