# gmq - one flat Makefile. Objects in $(BUILD)/, binaries $(BUILD)/gmq-master ...
# Targets: all run test check itest asan bench bench-scale clean install deb

BUILD   ?= build
CC      ?= cc
PKGS    := libconfuse yajl libcurl openssl libpcre2-8 zlib
OPT     ?= -O2
CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(OPT) -g -MMD -MP -I. \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS  := -lev -lhttp_parser -lpthread $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(EXTRA_LDFLAGS)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDLIBS  += -fsanitize=address,undefined
endif

# --- sources (explicit lists; main.c files stay out so tests link the rest) ---
COMMON_SRCS := common/util.c common/log.c common/buf.c common/config.c common/proctitle.c \
               common/seam.c common/etcdapi.c common/procstat.c common/net.c
PROTO_SRCS  := proto/ipc.c proto/errors.c proto/op.c proto/tcp.c
STORE_SRCS  := worker/record.c worker/segment.c worker/heap.c worker/queue.c worker/route.c \
               worker/topic.c worker/topicadm.c worker/topicconf.c worker/counters.c worker/bgsync.c \
               worker/checkpoint.c worker/upgrade.c
WORKER_SRCS := worker/worker.c $(STORE_SRCS)
MASTER_SRCS := master/master.c master/listen.c master/conn.c master/req.c master/id.c master/ops.c \
               master/sup.c master/http.c master/tcp.c master/api.c master/chan.c master/tls.c \
               master/etcd.c master/service.c
# client library (libgmq pieces used by gmqctl); gmqctl.c (main) stays out
CLIENT_SRCS := client/discovery.c
LIB_SRCS    := $(COMMON_SRCS) $(PROTO_SRCS) $(WORKER_SRCS) $(MASTER_SRCS)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/%.o)

UNIT_TESTS  := ipc op tcp net config buf record segment heap route queue topic topicadm counters etcdapi discovery
UNIT_BINS   := $(UNIT_TESTS:%=$(BUILD)/tests/check_%)

BINS := $(BUILD)/gmq-master $(BUILD)/gmqctl $(BUILD)/gmq-bench

.PHONY: all run test check itest asan bench bench-scale clean deps install deb
all: $(BINS)

$(BUILD)/gmq-master: $(BUILD)/master/main.o $(LIB_OBJS)
	$(CC) -o $@ $^ $(LDLIBS)

# gmq-bench: plain sockets and threads, the TCP codec and what it needs (no libraries)
BENCH_OBJS := $(BUILD)/client/bench.o $(BUILD)/proto/tcp.o $(BUILD)/proto/errors.o \
              $(BUILD)/common/buf.o $(BUILD)/common/net.o $(BUILD)/common/util.o $(BUILD)/common/log.o

$(BUILD)/gmq-bench: $(BENCH_OBJS)
	$(CC) -o $@ $^ -lpthread $(filter -fsanitize=%,$(LDLIBS)) $(EXTRA_LDFLAGS)

COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)
PROTO_OBJS  := $(PROTO_SRCS:%.c=$(BUILD)/%.o)
STORE_OBJS  := $(STORE_SRCS:%.c=$(BUILD)/%.o)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/gmqctl: $(BUILD)/client/gmqctl.o $(CLIENT_OBJS) $(COMMON_OBJS)
	$(CC) -pthread -o $@ $^ $(LDLIBS)

# test driver for master/etcd.c on its own loop (integration tests; not a unit test)
$(BUILD)/tests/etcd_driver: $(BUILD)/tests/etcd_driver.o $(BUILD)/master/etcd.o $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDLIBS)

# each unit test links only the modules it tests
$(BUILD)/tests/check_buf:    $(COMMON_OBJS)
$(BUILD)/tests/check_config: $(COMMON_OBJS)
$(BUILD)/tests/check_ipc:    $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_op:     $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_tcp:    $(COMMON_OBJS) $(PROTO_OBJS)
$(BUILD)/tests/check_net:    $(COMMON_OBJS)
$(BUILD)/tests/check_record: $(COMMON_OBJS) $(BUILD)/worker/record.o
$(BUILD)/tests/check_heap:   $(COMMON_OBJS) $(BUILD)/worker/heap.o
$(BUILD)/tests/check_route:  $(COMMON_OBJS) $(PROTO_OBJS) $(BUILD)/worker/route.o
$(BUILD)/tests/check_segment: $(COMMON_OBJS) $(PROTO_OBJS) $(BUILD)/worker/record.o $(BUILD)/worker/segment.o $(BUILD)/worker/bgsync.o
$(BUILD)/tests/check_queue:  $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_topic:  $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_topicadm: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_counters: $(COMMON_OBJS) $(PROTO_OBJS) $(STORE_OBJS)
$(BUILD)/tests/check_etcdapi: $(COMMON_OBJS)
$(BUILD)/tests/check_discovery: $(CLIENT_OBJS) $(COMMON_OBJS)

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

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/gmq-master -config_file=etc/gmq.conf $(RUN_ARGS)

# everything CI runs
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@$(MAKE) --no-print-directory check itest

check: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

itest: $(BINS) $(BUILD)/tests/etcd_driver
	@GMQ_BUILD=$(BUILD) python3 tests/integration/run.py

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 all $(UNIT_TESTS:%=build-asan/tests/check_%)
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 check itest

bench: deps
	@$(MAKE) --no-print-directory all
	@GMQ_BUILD=$(BUILD) scripts/bench.sh

# storage at scale (docs/benchmarks.md); GMQ_BENCH_SCALE_BIG=1 adds the 100M run
bench-scale: all
	@GMQ_BUILD=$(BUILD) scripts/bench-scale.sh

clean:
	rm -rf build build-asan

# --- install: make install PREFIX=/usr/local DESTDIR= ------------------------
# the binaries, gmq.conf (not over an existing one), the unit with its paths
# for this PREFIX, the man pages. PREFIX=/usr puts the config in /etc.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man
UNIT_EXEC  := ExecStart=/usr/local/bin/gmq-master -config_file=/etc/gmq/gmq.conf

install: $(BINS) $(BUILD)/etc/gmq.conf
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/gmq $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	[ -e $(DESTDIR)$(SYSCONFDIR)/gmq/gmq.conf ] || \
	    install -m 0644 $(BUILD)/etc/gmq.conf $(DESTDIR)$(SYSCONFDIR)/gmq/gmq.conf
	grep -qx '$(UNIT_EXEC)' etc/gmq-master.service
	sed 's|^$(UNIT_EXEC)$$|ExecStart=$(BINDIR)/gmq-master -config_file=$(SYSCONFDIR)/gmq/gmq.conf|' \
	    etc/gmq-master.service > $(BUILD)/gmq-master.service
	install -m 0644 $(BUILD)/gmq-master.service $(DESTDIR)$(UNITDIR)/gmq-master.service
	install -m 0644 man/gmqctl.1 $(DESTDIR)$(MANDIR)/man1/gmqctl.1
	install -m 0644 man/gmq-master.8 $(DESTDIR)$(MANDIR)/man8/gmq-master.8

# --- deb: the Debian package (debian/), by dpkg-buildpackage in a copy of the
# tree so nothing is written beside it; gmq_*.deb lands in $(BUILD)/deb.
# The unit tests run unless DEB_BUILD_OPTIONS is given without nocheck.
DEB_DIR           ?= $(BUILD)/deb
DEB_BUILD_OPTIONS ?= nocheck
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	tar -cf - --exclude=./.git --exclude=./build --exclude=./build-asan \
	    --exclude=./$(patsubst $(CURDIR)/%,%,$(abspath $(BUILD))) \
	    --exclude=./data --exclude=__pycache__ . | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	rm -rf $(DEB_DIR)/src
	@ls $(DEB_DIR)/*.deb

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
