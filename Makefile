# ngx_http_otp_module
#
#   make                       module for the installed Debian nginx
#   NGINX_SRC=/path make       module (and nginx) from an nginx source tree
#   make test [SANITIZE=1]     the whole suite (prove), real nginx and redis
#   make fuzz [FUZZ_SECONDS=N] libFuzzer on the parsers, N seconds each
#   make demo                  nginx + redis on 127.0.0.1:8080, conf/demo.conf
#   make bench                 wrk benchmarks, printing ratios
#   make deb                   the Debian package libnginx-mod-http-otp
#   make deps                  installs the Debian packages all of this needs
#   make upstream-src          fetches nginx 1.26 (Debian trixie) source

SHELL      := /bin/bash
TOP        := $(CURDIR)
SANITIZE   ?= 0
NGINX_SRC  ?=
DISTRO_SRC := /usr/share/nginx/src

# every build flavour has its own directory; the source tree stays clean
ifeq ($(NGINX_SRC),)
FLAVOUR    := distro
else
FLAVOUR    := upstream
endif
ifeq ($(SANITIZE),1)
FLAVOUR    := $(FLAVOUR)-asan
endif

BUILD      ?= $(TOP)/build
OUT        := $(BUILD)/$(FLAVOUR)
NGX_TREE   := $(OUT)/nginx
MODULE_SO  := $(OUT)/ngx_http_otp_module.so
UNIT_DIR   := $(OUT)/unit

ifeq ($(NGINX_SRC),)
NGINX_BIN  := /usr/sbin/nginx
else
NGINX_BIN  := $(NGX_TREE)/objs/nginx
endif

SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
ifeq ($(SANITIZE),1)
NGX_CC_OPT := -O1 -g $(SAN_FLAGS)
NGX_LD_OPT := $(SAN_FLAGS)
else
NGX_CC_OPT := -O2 -g
NGX_LD_OPT :=
endif

MODULE_SRCS := config ngx_http_otp_module.c $(wildcard src/*.c src/*.h) \
               $(NGX_TREE)/objs/ngx_http_otp_lua.h \
               $(NGX_TREE)/objs/ngx_http_otp_html_data.h
LUA_SRCS    := $(sort $(wildcard src/lua/*.lua))
HTML_SRCS   := $(sort $(wildcard html/*.html html/*.css html/*.js \
                               html/lang/*.txt))

# the parts of the core that do not need nginx, unit-tested on their own
PURE_SRCS  := src/ngx_http_otp_hotp.c src/ngx_http_otp_base32.c \
              src/ngx_http_otp_uri.c src/ngx_http_otp_crypto.c \
              src/ngx_http_otp_qr.c src/ngx_http_otp_form.c \
              src/ngx_http_otp_return.c src/ngx_http_otp_token.c \
              src/ngx_http_otp_template.c src/ngx_http_otp_recovery.c \
              src/ngx_http_otp_phone.c src/ngx_http_otp_sms_text.c \
              src/ngx_http_otp_lang.c
UNIT_SRCS  := $(wildcard t/unit/test_*.c)
UNIT_BINS  := $(patsubst t/unit/%.c,$(UNIT_DIR)/%,$(UNIT_SRCS))
UNIT_CFLAGS := -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -g -O1 \
               -Isrc -It/unit
ifeq ($(SANITIZE),1)
UNIT_CFLAGS += $(SAN_FLAGS)
endif
UNIT_LIBS  := -lcrypto -lqrencode

# libFuzzer targets: clang only; the corpus grows under $(BUILD), the
# seeds in t/fuzz/corpus/<name>/ stay as they are
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 30
FUZZ_DIR   := $(BUILD)/fuzz
FUZZ_SRCS  := $(wildcard t/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst t/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRCS))
FUZZ_CFLAGS := -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -g -O1 \
               -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -Isrc -It/fuzz

# the version is the header's; make deb and t/110-package.t check that
# debian/changelog has the same
VERSION    := $(shell sed -n \
                  's/^\#define NGX_HTTP_OTP_VERSION *"\(.*\)"$$/\1/p' \
                  src/ngx_http_otp_version.h)
DEB_ARCH   := $(shell dpkg --print-architecture 2>/dev/null)
DEB        := $(BUILD)/libnginx-mod-http-otp_$(VERSION)_$(DEB_ARCH).deb
DEB_DIR    := $(BUILD)/deb
DEB_TREE   := $(DEB_DIR)/libnginx-mod-http-otp-$(VERSION)

TEST_ENV   := OTP_NGINX=$(NGINX_BIN) OTP_MODULE=$(MODULE_SO) \
              OTP_UNIT_DIR=$(UNIT_DIR) OTP_SANITIZE=$(SANITIZE) \
              OTP_TOP=$(TOP) OTP_DEB=$(DEB)
PROVE      ?= prove
TESTS      ?= t/

.PHONY: all module unit fuzz test valgrind demo bench deb deps deps-demo \
        deps-deb upstream-src clean FORCE

all: module

module: $(MODULE_SO)
ifeq ($(FLAVOUR),distro)
	@cp -p $(MODULE_SO) $(BUILD)/ngx_http_otp_module.so.tmp \
	    && mv $(BUILD)/ngx_http_otp_module.so.tmp $(BUILD)/ngx_http_otp_module.so
endif

# configure once per flavour and set of source files; objs/Makefile then
# rebuilds incrementally
SRC_LIST   := $(sort $(wildcard src/*.c src/*.h html/*.html html/*.css \
                               html/*.js html/lang/*.txt))

$(OUT)/srcs.stamp: FORCE
	@mkdir -p $(OUT)
	@echo "$(SRC_LIST)" | cmp -s - $@ || echo "$(SRC_LIST)" > $@

FORCE:

$(NGX_TREE)/objs/Makefile: config $(OUT)/srcs.stamp
	rm -rf $(NGX_TREE)
	mkdir -p $(OUT)
ifeq ($(NGINX_SRC),)
	@test -x $(DISTRO_SRC)/configure \
	    || { echo "nginx-dev is missing: run 'make deps'"; exit 1; }
	cp -a $(DISTRO_SRC) $(NGX_TREE)
	cd $(NGX_TREE) && . ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	    --add-dynamic-module=$(TOP)
else
	cp -a $(NGINX_SRC) $(NGX_TREE)
	cd $(NGX_TREE) && ./configure --prefix=$(OUT)/prefix \
	    --with-compat --with-debug --with-threads \
	    --with-http_ssl_module --with-http_auth_request_module \
	    --with-http_realip_module --with-http_v2_module \
	    --with-http_addition_module --with-http_sub_module \
	    --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	    --add-dynamic-module=$(TOP)
endif

# compiled-in files (config writes them at configure time; these rules
# after an edit, before objs/Makefile looks at them)
$(NGX_TREE)/objs/ngx_http_otp_lua.h: $(LUA_SRCS) src/embed.sh \
        | $(NGX_TREE)/objs/Makefile
	sh src/embed.sh ngx_http_otp_lua $@ $(LUA_SRCS)

$(NGX_TREE)/objs/ngx_http_otp_html_data.h: html/embed.sh $(HTML_SRCS) \
        | $(NGX_TREE)/objs/Makefile
	sh html/embed.sh html $@

$(MODULE_SO): $(NGX_TREE)/objs/Makefile $(MODULE_SRCS)
ifeq ($(NGINX_SRC),)
	$(MAKE) -C $(NGX_TREE) -f objs/Makefile modules
else
	$(MAKE) -C $(NGX_TREE) -f objs/Makefile
endif
	cp $(NGX_TREE)/objs/ngx_http_otp_module.so $@.tmp && mv $@.tmp $@

unit: $(UNIT_BINS)

$(UNIT_DIR)/%: t/unit/%.c t/unit/tap.h $(PURE_SRCS) $(PURE_SRCS:.c=.h)
	@mkdir -p $(UNIT_DIR)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(PURE_SRCS) $(UNIT_LIBS)

fuzz: $(FUZZ_BINS)
	@set -e; for bin in $(FUZZ_BINS); do \
	    name=$${bin##*/fuzz_}; \
	    mkdir -p $(FUZZ_DIR)/corpus/$$name; \
	    echo "fuzz_$$name: $(FUZZ_SECONDS)s"; \
	    $$bin -max_len=4096 -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/$$name- \
	        $(FUZZ_DIR)/corpus/$$name t/fuzz/corpus/$$name; \
	done

$(FUZZ_DIR)/%: t/fuzz/%.c t/fuzz/fuzz.h $(PURE_SRCS) $(PURE_SRCS:.c=.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS) $(UNIT_LIBS)

test: deps module unit
	$(TEST_ENV) $(PROVE) -I t/lib $(TESTS)

# the flows again with every nginx process under valgrind's memcheck
VALGRIND_TESTS ?= t/030-gate.t t/060-totp-flow.t t/063-cookies.t \
                  t/071-malformed.t

valgrind: deps module unit
	OTP_VALGRIND=1 $(TEST_ENV) $(PROVE) -I t/lib $(VALGRIND_TESTS)

demo: deps-demo module
	$(TEST_ENV) perl -I t/lib t/demo.pl

bench: deps module
	$(TEST_ENV) perl -I t/lib t/bench.pl
	$(TEST_ENV) perl -I t/lib t/bench-scale.pl

# the Debian package: dpkg-buildpackage in a copy of the sources under
# $(DEB_DIR), which gets the .deb (and its -dbgsym, .buildinfo and
# .changes) beside that copy
DEB_FILES  := config ngx_http_otp_module.c src html debian LICENSE README.md
DEB_SRCS   := config ngx_http_otp_module.c LICENSE README.md src/embed.sh \
              $(wildcard src/*.c src/*.h src/lua/*.lua html/* html/lang/* \
                         conf/site/* debian/* debian/source/*)

deb: deps-deb
	@$(MAKE) --no-print-directory $(DEB)

$(DEB): $(DEB_SRCS)
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] \
	    || { echo "debian/changelog has $$v," \
	              "src/ngx_http_otp_version.h $(VERSION)"; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_TREE)/conf
	cp -a $(DEB_FILES) $(DEB_TREE)/
	cp -a conf/site $(DEB_TREE)/conf/
	cd $(DEB_TREE) && dpkg-buildpackage -b -us -uc
	mv $(DEB_DIR)/$(notdir $@) $@

deps:
	@.ci/deps test

deps-demo:
	@.ci/deps demo

deps-deb:
	@.ci/deps deb

upstream-src:
	@.ci/upstream-src $(BUILD)/src

clean:
	rm -rf $(BUILD)
