# gmq - one flat Makefile. Objects in $(BUILD)/, binaries $(BUILD)/gmq-master ...
# Targets: all run test check itest asan bench bench-scale clean install deb fuzz chaos soak

BUILD   ?= build
CC      ?= cc
PKGS    := libconfuse yajl libcurl openssl libpcre2-8 zlib
OPT     ?= -O2
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(OPT) -g -MMD -MP -I. -Iclient/include \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS  := -lev -lhttp_parser -lpthread $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(EXTRA_LDFLAGS)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDLIBS  += -fsanitize=address,undefined
endif

# --- sources (explicit lists; main.c files stay out so tests link the rest) ---
COMMON_SRCS := common/util.c common/log.c common/buf.c common/config.c common/proctitle.c \
               common/seam.c common/etcdapi.c common/procstat.c common/net.c common/histo.c
PROTO_SRCS  := proto/ipc.c proto/errors.c proto/op.c proto/tcp.c proto/zygote.c
STORE_SRCS  := worker/record.c worker/segment.c worker/heap.c worker/queue.c \
               worker/queue_replay.c worker/queue_log.c worker/route.c worker/topic.c \
               worker/topicadm.c worker/topicdir.c worker/topicconf.c worker/counters.c \
               worker/bgsync.c worker/syncstat.c worker/checkpoint.c worker/upgrade.c worker/trash.c
WORKER_SRCS := worker/worker.c worker/worker_ops.c worker/zygote.c $(STORE_SRCS)
MASTER_SRCS := master/master.c master/listen.c master/conn.c master/req.c master/id.c master/ops.c \
               master/sup.c master/http.c master/tcp.c master/tcp_mpub.c master/api.c master/chan.c master/tls.c \
               master/etcd.c master/etcdcall.c master/etcdcheck.c master/service.c master/metrics.c master/web.c \
               master/nodeinfo.c master/spawn.c master/supio.c
# client library (libgmq pieces used by gmqctl); gmqctl.c (main) stays out
CLIENT_SRCS := client/discovery.c
# gmqctl's modules: JSON tree, output, requests, command table, commands
CTL_SRCS    := client/ctl_json.c client/ctl_out.c client/ctl_http.c client/ctl_help.c \
               client/ctl_cmds_node.c client/ctl_cmds_topic.c client/ctl_cmds_msg.c
LIB_SRCS    := $(COMMON_SRCS) $(PROTO_SRCS) $(MASTER_SRCS)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/%.o)

UNIT_TESTS  := ipc op tcp tcpframe net config buf record segment heap route topic topicstore topicadm counters etcdapi discovery queue queuelog \
               checkpoint histo metrics ctl call zygote
UNIT_BINS   := $(UNIT_TESTS:%=$(BUILD)/tests/check_%)

BINS := $(BUILD)/gmq-master $(BUILD)/gmq-worker $(BUILD)/gmqctl $(BUILD)/gmq-bench

# libgmq, the client library: its own PIC objects (client/ and the pieces of
# common/ and proto/ it uses); only the public gmq[A-Z]* names are exported
# (client/libgmq.map), also from the static library (one object, the rest
# made local)
LIBGMQ_VERSION := 0.1.0
LIBGMQ_SOVER   := 0
LIBGMQ_SRCS := client/call.c client/link.c client/async.c client/nodes.c client/sync.c \
               client/discovery.c proto/tcp.c proto/errors.c common/buf.c common/util.c \
               common/log.c common/net.c common/etcdapi.c
LIBGMQ_OBJS := $(LIBGMQ_SRCS:%.c=$(BUILD)/pic/%.o)
LIBGMQ_PKGS := openssl libcurl yajl
LIBGMQ_LIBS := $(shell pkg-config --libs $(LIBGMQ_PKGS) 2>/dev/null) -lpthread
LIBGMQ_SO   := $(BUILD)/libgmq.so.$(LIBGMQ_VERSION)
LIBGMQ_A    := $(BUILD)/libgmq.a
LIBGMQ      := $(LIBGMQ_SO) $(LIBGMQ_A)
# C programs driven by the integration tests (tests/lib/), linked with libgmq.a
LIBTEST_BINS := $(BUILD)/tests/lib_api $(BUILD)/tests/lib_chaos $(BUILD)/tests/lib_cluster

.PHONY: all run test check itest asan bench bench-scale clean deps install deb
all: $(BINS) $(LIBGMQ)

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c -o $@ $<

$(LIBGMQ_SO): $(LIBGMQ_OBJS) client/libgmq.map
	$(CC) -shared -o $@ -Wl,-soname,libgmq.so.$(LIBGMQ_SOVER) -Wl,--version-script=client/libgmq.map \
	    -Wl,-z,defs $(LIBGMQ_OBJS) $(LIBGMQ_LIBS) $(filter -fsanitize=%,$(LDLIBS)) $(EXTRA_LDFLAGS)
	ln -sf libgmq.so.$(LIBGMQ_VERSION) $(BUILD)/libgmq.so.$(LIBGMQ_SOVER)
	ln -sf libgmq.so.$(LIBGMQ_SOVER) $(BUILD)/libgmq.so

$(LIBGMQ_A): $(LIBGMQ_OBJS)
	$(LD) -r -o $(BUILD)/pic/libgmq-all.o $(LIBGMQ_OBJS)
	objcopy --wildcard --keep-global-symbol='gmq[A-Z]*' $(BUILD)/pic/libgmq-all.o
	rm -f $@ && ar rcs $@ $(BUILD)/pic/libgmq-all.o

$(BUILD)/tests/lib_%: $(BUILD)/tests/lib/lib_%.o $(LIBGMQ_A)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LIBGMQ_LIBS) -lev $(filter -fsanitize=%,$(LDLIBS)) $(EXTRA_LDFLAGS)

$(BUILD)/gmq-master: $(BUILD)/master/main.o $(LIB_OBJS)
	$(CC) -o $@ $^ $(LDLIBS)

# the worker program (started by the master for each topic): only the
# libraries it uses, so that starting one is cheap
WORKER_OBJS := $(BUILD)/worker/main.o $(WORKER_SRCS:%.c=$(BUILD)/%.o) $(PROTO_SRCS:%.c=$(BUILD)/%.o) \
               $(filter-out $(BUILD)/common/etcdapi.o,$(COMMON_SRCS:%.c=$(BUILD)/%.o))
$(BUILD)/gmq-worker: $(WORKER_OBJS)
	$(CC) -o $@ $^ -Wl,--as-needed $(LDLIBS)

# gmq-bench: one libev loop; gmq through libgmq (static), beanstalkd and
# Redis through its own drivers (plain sockets, common/buf), yajl for --json
BENCH_SRCS := client/bench.c client/bench_run.c client/bench_gmq.c client/bench_peers.c
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/common/buf.o $(BUILD)/common/net.o \
              $(BUILD)/common/util.o $(BUILD)/common/log.o

$(BUILD)/gmq-bench: $(BENCH_OBJS) $(LIBGMQ_A)
	$(CC) -o $@ $^ $(LIBGMQ_LIBS) -lev $(filter -fsanitize=%,$(LDLIBS)) $(EXTRA_LDFLAGS)

COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)
PROTO_OBJS  := $(PROTO_SRCS:%.c=$(BUILD)/%.o)
STORE_OBJS  := $(STORE_SRCS:%.c=$(BUILD)/%.o)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/%.o)
CTL_OBJS    := $(CTL_SRCS:%.c=$(BUILD)/%.o)

# the master reads other nodes' etcd values with the client's parser (GET /cluster/nodes);
# it sweeps deleted topics' directories at start (worker/trash.c)
$(BUILD)/gmq-master: $(CLIENT_OBJS) $(BUILD)/worker/trash.o

$(BUILD)/gmqctl: $(BUILD)/client/gmqctl.o $(CTL_OBJS) $(CLIENT_OBJS) $(COMMON_OBJS)
	$(CC) -pthread -o $@ $^ $(LDLIBS)

# test driver for master/etcd.c on its own loop (integration tests; not a unit test)
$(BUILD)/tests/etcd_driver: $(BUILD)/tests/etcd_driver.o $(BUILD)/master/etcd.o \
                            $(BUILD)/master/etcdcall.o $(BUILD)/master/etcdcheck.o $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDLIBS)

# each unit test links only the modules it tests
$(BUILD)/tests/check_buf:    $(COMMON_OBJS)
$(BUILD)/tests/check_config: $(COMMON_OBJS)
$(BUILD)/tests/check_ipc:    $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_op:     $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_zygote: $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_tcp:    $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_tcpframe: $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_net:    $(COMMON_OBJS)
$(BUILD)/tests/check_record: $(COMMON_OBJS) $(BUILD)/worker/record.o
$(BUILD)/tests/check_heap:   $(COMMON_OBJS) $(BUILD)/worker/heap.o
$(BUILD)/tests/check_route:  $(COMMON_OBJS) $(PROTO_OBJS) $(BUILD)/worker/route.o
$(BUILD)/tests/check_segment: $(COMMON_OBJS) $(PROTO_OBJS) $(BUILD)/worker/record.o $(BUILD)/worker/segment.o $(BUILD)/worker/bgsync.o \
                              $(BUILD)/worker/syncstat.o
$(BUILD)/tests/check_queue:  $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_queuelog: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_checkpoint: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_topic:  $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_topicstore: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_topicadm: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_counters: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_etcdapi: $(COMMON_OBJS)
$(BUILD)/tests/check_histo:  $(COMMON_OBJS)
$(BUILD)/tests/check_metrics: $(LIB_OBJS) $(CLIENT_OBJS) $(BUILD)/worker/trash.o
$(BUILD)/tests/check_discovery: $(CLIENT_OBJS) $(COMMON_OBJS)
$(BUILD)/tests/check_ctl:    $(BUILD)/client/ctl_json.o $(BUILD)/client/ctl_out.o $(COMMON_OBJS)
$(BUILD)/tests/check_call:   $(BUILD)/client/call.o $(COMMON_OBJS) $(PROTO_OBJS)

$(BUILD)/tests/check_%: $(BUILD)/tests/unit/check_%.o
	@mkdir -p $(dir $@)
	$(CC) -pthread -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# the installed gmq.conf: etc/gmq.conf with the service's data directory
$(BUILD)/etc/gmq.conf: etc/gmq.conf
	@mkdir -p $(dir $@)
	sed -e '1s|.*|# gmq.conf - configuration of the gmq-master service (see gmq-master(8)).|' \
	    -e 's|^data_save_path = .*|data_save_path = "/var/lib/gmq"|' $< > $@.tmp
	@grep -q '^data_save_path = "/var/lib/gmq"$$' $@.tmp || { echo "no data_save_path in $<" >&2; exit 1; }
	@mv $@.tmp $@

# the unit and the installed config, embedded in gmq-master for `gmq-master install`
$(BUILD)/gen/service_files.h: etc/gmq-master.service $(BUILD)/etc/gmq.conf scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh service_unit etc/gmq-master.service service_conf $(BUILD)/etc/gmq.conf > $@.tmp
	@mv $@.tmp $@

$(BUILD)/master/service.o: $(BUILD)/gen/service_files.h
$(BUILD)/master/service.o: CFLAGS += -I$(BUILD)/gen

# the web admin page (docs/web.md), embedded in gmq-master for master/web.c,
# with an ETag per file: the first 16 hex digits of its SHA-256
WEB_FILES := web/index.html web/app.css web/app.js web/dom.js web/state.js web/api.js web/views.js \
              web/actions.js
$(BUILD)/gen/web_files.h: $(WEB_FILES) scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh web_index_html web/index.html web_app_css web/app.css \
	    web_app_js web/app.js web_dom_js web/dom.js web_state_js web/state.js web_api_js web/api.js \
	    web_views_js web/views.js web_actions_js web/actions.js > $@.tmp
	sha256sum $(WEB_FILES) | awk '{ n = toupper($$2); sub(/.*\//, "", n); gsub(/[^A-Z0-9]/, "_", n); \
	    printf "#define WEB_ETAG_%s \"\\\"%s\\\"\"\n", n, substr($$1, 1, 16) }' >> $@.tmp
	@mv $@.tmp $@

$(BUILD)/master/web.o: $(BUILD)/gen/web_files.h
$(BUILD)/master/web.o: CFLAGS += -I$(BUILD)/gen

# --- fuzzing (docs/reliability.md): libFuzzer targets of tests/fuzz/, built
# with clang and ASan+UBSan into build-fuzz/. `make fuzz` runs each target
# for FUZZ_SECONDS (FUZZ_TARGETS picks some), `make fuzz-smoke` for 10,000
# inputs each (60 s at most); seeds are tests/fuzz/corpus/<target>/, what a run finds is
# kept in build-fuzz/corpus/<target>/ and crashes in build-fuzz/crashes/.
FUZZ_TARGETS ?= tcp op http tcpconn record segment config etcd
FUZZ_SECONDS ?= 600
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CONN_OBJS := $(BUILD)/tests/fuzz/fuzz_conn.o $(LIB_OBJS) $(CLIENT_OBJS) $(BUILD)/worker/trash.o

$(BUILD)/fuzz/fuzz_tcp:     $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/fuzz/fuzz_op:      $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/fuzz/fuzz_http:    $(FUZZ_CONN_OBJS)
$(BUILD)/fuzz/fuzz_tcpconn: $(FUZZ_CONN_OBJS)
$(BUILD)/fuzz/fuzz_record:  $(COMMON_OBJS) $(BUILD)/worker/record.o
$(BUILD)/fuzz/fuzz_segment: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/fuzz/fuzz_config:  $(COMMON_OBJS)
$(BUILD)/fuzz/fuzz_etcd:    $(COMMON_OBJS) $(CLIENT_OBJS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer -pthread -o $@ $^ $(LDLIBS)

.PHONY: fuzz-build fuzz fuzz-smoke
.SECONDARY: $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/fuzz_%.o)
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 \
	    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" EXTRA_LDFLAGS="$(FUZZ_SAN)" \
	    $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/fuzz_%)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# bounded (FUZZ_SMOKE_SECONDS a target, from the seeds alone, in
# build-fuzz/smoke/; no network): for make test, failing it on a crash or leak
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_SMOKE_TARGETS ?= $(FUZZ_TARGETS)
fuzz-smoke: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SMOKE=1 scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_SMOKE_TARGETS)

# line coverage of the corpora (llvm-cov), built into build-fuzzcov/
.PHONY: fuzz-cov
fuzz-cov:
	@$(MAKE) --no-print-directory BUILD=build-fuzzcov CC=clang OPT=-O1 \
	    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link -fprofile-instr-generate -fcoverage-mapping" \
	    EXTRA_LDFLAGS="-fprofile-instr-generate" $(FUZZ_TARGETS:%=build-fuzzcov/fuzz/fuzz_%)
	@scripts/fuzz-cov.sh $(FUZZ_TARGETS)

# --- chaos (docs/reliability.md): tests/chaos/chaos.py for CHAOS_SECONDS
# (10 minutes) under nice; its one-minute version is tests/integration/test_chaos.py
CHAOS_SECONDS ?= 600
.PHONY: chaos
chaos: $(BINS)
	@GMQ_BUILD=$(BUILD) nice -n 19 python3 tests/chaos/chaos.py --seconds $(CHAOS_SECONDS) \
	    --build $(BUILD) --json $(BUILD)/chaos-report.json

# --- soak (docs/reliability.md): tests/soak/soak.py for SOAK_SECONDS (an
# hour) under nice: mixed load with faults, RSS/PSS/fds of every process
# sampled into $(BUILD)/soak/samples.csv, flatness and no loss checked
SOAK_SECONDS ?= 3600
.PHONY: soak
soak: $(BINS)
	@GMQ_BUILD=$(BUILD) nice -n 19 python3 tests/soak/soak.py --seconds $(SOAK_SECONDS) \
	    --build $(BUILD) --out $(BUILD)/soak

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/gmq-master -config_file=etc/gmq.conf $(RUN_ARGS)

# everything CI runs (.ci/run: then make asan)
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@$(MAKE) --no-print-directory check fuzz-smoke itest

check: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

itest: $(BINS) $(LIBGMQ) $(BUILD)/tests/etcd_driver $(LIBTEST_BINS)
	@GMQ_BUILD=$(BUILD) python3 tests/integration/run.py

# the unit and integration tests under AddressSanitizer + UBSan, with
# LeakSanitizer on: every process checks for leaks as it exits (the master
# and the workers, forked by the zygote or not, return from main), the
# integration tests stop every node with SIGTERM and fail on any report in
# its log
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 all $(UNIT_TESTS:%=build-asan/tests/check_%) \
	    $(LIBTEST_BINS:$(BUILD)/%=build-asan/%)
	@ASAN_OPTIONS="detect_leaks=1$${ASAN_OPTIONS:+:$$ASAN_OPTIONS}" \
	    UBSAN_OPTIONS="print_stacktrace=1$${UBSAN_OPTIONS:+:$$UBSAN_OPTIONS}" \
	    $(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 check itest

bench: deps
	@$(MAKE) --no-print-directory all
	@GMQ_BUILD=$(BUILD) scripts/bench.sh

# storage at scale (docs/benchmarks.md); GMQ_BENCH_SCALE_BIG=1 adds the 100M run
bench-scale: all
	@GMQ_BUILD=$(BUILD) scripts/bench-scale.sh

clean:
	rm -rf build build-asan
	rm -rf build-fuzz
	rm -rf build-fuzzcov

# --- install: make install PREFIX=/usr/local DESTDIR= ------------------------
# the binaries, gmq.conf (not over an existing one), the unit with its paths
# for this PREFIX, the man pages. PREFIX=/usr puts the config in /etc.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
# gmq-worker, started by gmq-master: ../lib/gmq/ from the master's directory
LIBEXECDIR := $(PREFIX)/lib/gmq
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man
UNIT_EXEC  := ExecStart=/usr/local/bin/gmq-master -config_file=/etc/gmq/gmq.conf

install: $(BINS) $(LIBGMQ) $(BUILD)/etc/gmq.conf
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/gmq $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR)/gmq/adapters $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(filter-out $(BUILD)/gmq-worker,$(BINS)) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BUILD)/gmq-worker $(DESTDIR)$(LIBEXECDIR)/gmq-worker
	[ -e $(DESTDIR)$(SYSCONFDIR)/gmq/gmq.conf ] || \
	    install -m 0644 $(BUILD)/etc/gmq.conf $(DESTDIR)$(SYSCONFDIR)/gmq/gmq.conf
	grep -qx '$(UNIT_EXEC)' etc/gmq-master.service
	sed 's|^$(UNIT_EXEC)$$|ExecStart=$(BINDIR)/gmq-master -config_file=$(SYSCONFDIR)/gmq/gmq.conf|' \
	    etc/gmq-master.service > $(BUILD)/gmq-master.service
	install -m 0644 $(BUILD)/gmq-master.service $(DESTDIR)$(UNITDIR)/gmq-master.service
	install -m 0644 man/gmqctl.1 $(DESTDIR)$(MANDIR)/man1/gmqctl.1
	install -m 0644 man/gmq-bench.1 $(DESTDIR)$(MANDIR)/man1/gmq-bench.1
	install -m 0644 man/gmq-master.8 $(DESTDIR)$(MANDIR)/man8/gmq-master.8
	install -m 0644 $(LIBGMQ_SO) $(DESTDIR)$(LIBDIR)/libgmq.so.$(LIBGMQ_VERSION)
	ln -sf libgmq.so.$(LIBGMQ_VERSION) $(DESTDIR)$(LIBDIR)/libgmq.so.$(LIBGMQ_SOVER)
	ln -sf libgmq.so.$(LIBGMQ_SOVER) $(DESTDIR)$(LIBDIR)/libgmq.so
	install -m 0644 $(LIBGMQ_A) $(DESTDIR)$(LIBDIR)/libgmq.a
	install -m 0644 client/include/gmq/gmq.h $(DESTDIR)$(INCLUDEDIR)/gmq/gmq.h
	install -m 0644 client/include/gmq/adapters/libev.h $(DESTDIR)$(INCLUDEDIR)/gmq/adapters/libev.h
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(LIBGMQ_VERSION)|' -e 's|@REQUIRES@|$(LIBGMQ_PKGS)|' \
	    client/libgmq.pc.in > $(BUILD)/libgmq.pc
	install -m 0644 $(BUILD)/libgmq.pc $(DESTDIR)$(PKGCONFIGDIR)/libgmq.pc

# --- deb: the Debian package (debian/), by dpkg-buildpackage in a copy of the
# tree so nothing is written beside it; gmq_*.deb lands in $(BUILD)/deb.
# The unit tests run unless DEB_BUILD_OPTIONS is given without nocheck.
DEB_DIR           ?= $(BUILD)/deb
DEB_BUILD_OPTIONS ?= nocheck
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	tar -cf - --exclude=./.git --exclude=./build --exclude=./build-asan \
	    --exclude=./$(patsubst $(CURDIR)/%,%,$(abspath $(BUILD))) \
	    --exclude=./build-fuzz \
	    --exclude=./build-fuzzcov \
	    --exclude=./data --exclude=__pycache__ --exclude=./tests/browser/node_modules . | \
	    tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	rm -rf $(DEB_DIR)/src
	@ls $(DEB_DIR)/*.deb

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
