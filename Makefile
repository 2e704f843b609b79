# omlop build. `make help` lists the targets.
#
# Sources are found by wildcard so adding a module needs no Makefile edit:
#   lib/ crds/ store/ objects/ clients/ reconcilers/ operator/
#                                                -> one archive per layer, build/<mode>/liboml-<layer>.a
#                                                   (minus the mains), linked top layer first
#   operator/omlopd.c                            -> bin/omlopd
#   clients/omlctl/*.c minus omlctl.c            -> libomlctl (bin/omlctl = omlctl.c + it)
#   unit-tests/**/test_*.c                       -> one cmocka binary each (ASan+UBSan)
# Objects live out of tree in build/<mode>/; -MMD keeps header dependencies right.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
# ccache, when installed (make deps installs it), keeps rebuilds short, and so CI on a machine
# that built before. Paths are made relative to the tree so that another clone hits the cache.
ifeq ($(origin CC),default)
CC := $(if $(shell command -v ccache 2>/dev/null),ccache cc,cc)
endif
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= true
V       ?= 0

PKGS := libcurl json-c yaml-0.1 libwebsockets libssh sqlite3 openssl libxml-2.0 libgit2
DEB_PKGS := build-essential pkg-config libcurl4-openssl-dev libjson-c-dev libyaml-dev \
	libwebsockets-dev libssh-dev libcmocka-dev libsqlite3-dev libssl-dev libxml2-dev libgit2-dev \
	clang-format cppcheck git ca-certificates curl tzdata ccache

# Test dependencies: the e2e lab's peers (see e2e/README.md), etcd for the store tests, pebble
# for the ACME client's integration test, and the tools the scenarios use (python3, openssl,
# kubectl). `make deps` installs them when the archive has them; `make test` requires every
# one (a test that cannot run is not a pass).
DEB_PKGS_E2E := podman runc uidmap slirp4netns containernetworking-plugins openssh-server \
	openssh-client iproute2 busybox-static docker-registry etcd-server etcd-client \
	psmisc procps iptables kubectl ansible python3 openssl util-linux pebble debootstrap \
	swift-proxy swift-account swift-container swift-object
# The benches' peers: bench/backup_bench.sh's baseline is Debian's aws (pg_dump | aws s3 cp -).
DEB_PKGS_BENCH := awscli

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wno-format-nonliteral -Werror
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -I. -Ibuild/gen $(WARN) -pthread \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm

REL_CFLAGS  := $(BASE_CFLAGS) -O2 -g
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
ASAN_LDFLAGS := -fsanitize=address,undefined

MAINS    := operator/omlopd.c
LIB_SRCS := $(filter-out $(MAINS),$(wildcard lib/*.c crds/*.c store/*.c objects/*.c clients/*.c reconcilers/*.c operator/*.c))
CTL_MAIN := clients/omlctl/omlctl.c
CTL_LIB_SRCS := $(filter-out $(CTL_MAIN),$(wildcard clients/omlctl/*.c))
GEN_SRCS := build/gen/crds_embed.c
CRD_FILES := $(sort $(wildcard crds/*.yaml))
TEST_SRCS := $(shell find unit-tests -name 'test_*.c' 2>/dev/null | sort)

obj = $(patsubst %.c,build/$(1)/%.o,$(2))

# The layers, lowest first (docs/architecture.md). A layer includes only the layers before it
# (make lint: deploy/lint-layers.sh), and the archives are linked in the reverse order, so a
# lower layer cannot resolve a symbol of a higher one either.
LAYERS := lib crds store objects clients reconcilers operator
layer_srcs = $(filter-out $(MAINS),$(wildcard $(1)/*.c)) $(if $(filter crds,$(1)),$(GEN_SRCS))
LINK_LAYERS := $(shell echo $(LAYERS) | tr ' ' '\n' | tac)
REL_ARCHIVES  := $(foreach l,$(LINK_LAYERS),build/rel/liboml-$(l).a)
ASAN_ARCHIVES := $(foreach l,$(LINK_LAYERS),build/asan/liboml-$(l).a)
TEST_BINS     := $(patsubst %.c,build/asan/%,$(TEST_SRCS))
TEST_HELPERS  := $(filter-out unit-tests/fuzz/%,$(filter-out $(TEST_SRCS),$(shell find unit-tests -name '*.c' 2>/dev/null)))

ifeq ($(V),0)
Q := @
else
Q :=
endif

.SECONDARY:
.PHONY: run all deps test unit e2e bench fuzz format lint clean install help asan-bins

all: bin/omlopd bin/omlctl

help:
	@echo "make run      deps + build, then run omlopd with the embedded store in ./.omlop-data"
	@echo "make deps     install missing Debian packages (as root; otherwise prints the apt command)"
	@echo "make          build bin/omlopd and bin/omlctl"
	@echo "make test     deps + build + unit tests (ASan+UBSan) + e2e lab scenarios; fails on any skip"
	@echo "make unit     unit tests only (tests missing etcd skip, counted)"
	@echo "make e2e      e2e scenarios only (root; starts the lab; OMLOP_E2E_ALLOW_SKIP=1 lets skips pass)"
	@echo "make bench    benchmarks, printing ratios against a baseline run in the same process"
	@echo "make fuzz     build and briefly run the libFuzzer targets"
	@echo "make format   clang-format every source file"
	@echo "make lint     clang-format, cppcheck, no #include of a .c file, the allocation lint"
	@echo "make install  install binaries, CRDs and the systemd unit (PREFIX, DESTDIR)"
	@echo "make clean    remove build/ and bin/"

run: deps
	$(Q)$(MAKE) --no-print-directory all
	./bin/omlopd --data-dir ./.omlop-data $(ARGS)

deps:
	@sh deploy/deps.sh $(DEB_PKGS) -- $(DEB_PKGS_E2E) $(DEB_PKGS_BENCH)

# --- generated: CRDs compiled in ---------------------------------------------------------
build/gen/crds_embed.c: $(CRD_FILES) deploy/embed.sh
	@mkdir -p $(@D)
	$(Q)sh deploy/embed.sh $(CRD_FILES) > $@.tmp && mv $@.tmp $@

# --- objects -----------------------------------------------------------------------------
build/rel/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(REL_CFLAGS) -MMD -MP -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC asan $<"
	$(Q)$(CC) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@

build/rel/build/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(REL_CFLAGS) -c $< -o $@

build/asan/build/gen/%.o: build/gen/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ASAN_CFLAGS) -c $< -o $@

define layer_archive
build/rel/liboml-$(1).a: $$(call obj,rel,$$(call layer_srcs,$(1)))
	$$(Q)rm -f $$@ && ar rcs $$@ $$^

build/asan/liboml-$(1).a: $$(call obj,asan,$$(call layer_srcs,$(1)))
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_archive,$(l))))

# omlctl's verbs and helpers; bin/omlctl is its main plus this archive, and the unit tests
# link it rather than compiling omlctl sources in.
build/rel/libomlctl.a: $(call obj,rel,$(CTL_LIB_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^

build/asan/libomlctl.a: $(call obj,asan,$(CTL_LIB_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^

# --- binaries ----------------------------------------------------------------------------
bin/omlopd: $(call obj,rel,$(MAINS)) $(REL_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LIBS)

bin/omlctl: $(call obj,rel,$(CTL_MAIN)) build/rel/libomlctl.a $(REL_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LIBS)

build/asan/bin/omlopd: $(call obj,asan,$(MAINS)) $(ASAN_ARCHIVES)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LIBS)

build/asan/bin/omlctl: $(call obj,asan,$(CTL_MAIN)) build/asan/libomlctl.a $(ASAN_ARCHIVES)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LIBS)

asan-bins: build/asan/bin/omlopd build/asan/bin/omlctl

# --- unit tests --------------------------------------------------------------------------
build/asan/unit-tests/%: build/asan/unit-tests/%.o $(call obj,asan,$(TEST_HELPERS)) \
		build/asan/libomlctl.a $(ASAN_ARCHIVES)
	@mkdir -p $(@D)
	$(Q)$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

unit: $(TEST_BINS) asan-bins
	@OMLOP_TEST_REQUIRE="$(OMLOP_TEST_REQUIRE)" OMLOP_UNIT_NO_SKIP="$(OMLOP_UNIT_NO_SKIP)" \
		sh unit-tests/run.sh $(TEST_BINS)

# --- the test command CI runs ------------------------------------------------------------
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Stricter than `make deps`: every test dependency must be installed, a skipped unit test fails
# the run (OMLOP_UNIT_NO_SKIP), etcd tests fail rather
# than skip (OMLOP_TEST_REQUIRE), the runners' own test runs, and e2e/run fails on a skipped
# scenario, a lab that does not come up, or not being root.
test:
	@sh deploy/deps.sh $(DEB_PKGS) $(DEB_PKGS_E2E)
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all asan-bins
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) unit OMLOP_TEST_REQUIRE=etcd OMLOP_UNIT_NO_SKIP=1
	$(Q)bash unit-tests/runners_test.sh
	$(Q)$(MAKE) --no-print-directory e2e OMLOP_E2E_ALLOW_SKIP=0

e2e: all asan-bins
	@OMLOP_E2E_ALLOW_SKIP="$(OMLOP_E2E_ALLOW_SKIP)" e2e/run

bench: all
	@if [ -x bench/run ]; then bench/run; else echo "bench: no benchmarks yet"; fi

fuzz:
	@if [ -x unit-tests/fuzz/run ]; then unit-tests/fuzz/run; else echo "fuzz: no targets yet"; fi

# --- style -------------------------------------------------------------------------------
ALL_C := $(shell find lib crds store objects operator reconcilers clients unit-tests bench -name '*.[ch]' 2>/dev/null | sort)

format:
	$(Q)clang-format -i $(ALL_C)

lint: lint-no-c-include
	$(Q)clang-format --dry-run -Werror $(ALL_C)
	$(Q)cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
		--enable=warning,portability --suppress=missingIncludeSystem -I. $(ALL_C)
	$(Q)sh deploy/lint-alloc.sh
	$(Q)sh unit-tests/lint_alloc_test.sh >/dev/null || sh unit-tests/lint_alloc_test.sh
	$(Q)sh deploy/lint-layers.sh
	$(Q)sh unit-tests/lint_layers_test.sh >/dev/null || sh unit-tests/lint_layers_test.sh

# Sources are linked from archives (liboml-<layer>.a, libomlctl.a), never compiled into another file.
.PHONY: lint-no-c-include
lint-no-c-include:
	$(Q)! grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^">]*\.c[">]' $(ALL_C) || \
		{ echo 'lint: #include of a .c file above (link the archive instead)'; exit 1; }

# --- install -----------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/omlop/crds/examples
	install -m 0755 bin/omlopd bin/omlctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(CRD_FILES) $(DESTDIR)$(PREFIX)/share/omlop/crds/
	install -m 0644 crds/examples/*.yaml $(DESTDIR)$(PREFIX)/share/omlop/crds/examples/
	install -d $(DESTDIR)$(PREFIX)/share/doc/omlop $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/omlop/
	sed 's|@PREFIX@|$(PREFIX)|g' deploy/omlopd.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/omlopd.service
	@# the unit starts with --config /etc/omlop/omlopd.yaml: install the sample, never over a
	@# file the admin already has
	install -d -m 0755 $(DESTDIR)/etc/omlop
	@if [ -e $(DESTDIR)/etc/omlop/omlopd.yaml ]; then \
		echo "  keeping $(DESTDIR)/etc/omlop/omlopd.yaml (the sample is $(PREFIX)/share/doc/omlop/omlopd.yaml)"; \
	else \
		install -m 0644 deploy/omlopd.yaml $(DESTDIR)/etc/omlop/omlopd.yaml; fi
	install -m 0644 deploy/omlopd.yaml $(DESTDIR)$(PREFIX)/share/doc/omlop/omlopd.yaml

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)

# --- bench programs: bench/<name>.c -> build/rel/bench/<name>, built and run by bench/run --------
BENCH_BINS := $(patsubst bench/%.c,build/rel/bench/%,$(wildcard bench/*.c))

$(BENCH_BINS): build/rel/bench/%: build/rel/bench/%.o $(REL_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LIBS)

# --- e2e programs: e2e/bin-src/<name>.c -> build/asan/e2e/<name> (ASan+UBSan) -------------------
# Integration programs the e2e scenarios run against the lab (e.g. e2e/scenarios/10-transport
# runs build/asan/e2e/transport_check). `make e2e` builds them first.
E2E_PROG_BINS := $(patsubst e2e/bin-src/%.c,build/asan/e2e/%,$(wildcard e2e/bin-src/*.c))

$(E2E_PROG_BINS): build/asan/e2e/%: build/asan/e2e/bin-src/%.o $(ASAN_ARCHIVES)
	@mkdir -p $(@D)
	@echo "  LD asan $@"
	$(Q)$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LIBS)

.PHONY: e2e-progs
e2e-progs: $(E2E_PROG_BINS)
e2e: e2e-progs
ALL_C += $(sort $(wildcard e2e/bin-src/*.c)) # make format / make lint cover them too
