# recur: in-tree build, tests, lint, docs and memory checks.
# Overridable: LUA (interpreter), LUA_INCDIR, CFLAGS, LIBFLAG, OPENBLAS_LIBDIR, OPENBLAS_INCDIR.
SHELL := /bin/bash
LUA ?= lua5.4
# Debian's headers of a Lua interpreter: $(call lua_headers,lua5.1) is /usr/include/lua5.1, so
# that LUA=lua5.1, lua5.3 or luajit is enough
lua_headers = $(if $(filter luajit,$(notdir $(1))),/usr/include/luajit-2.1,/usr/include/$(notdir $(1)))
LUA_INCDIR ?= $(call lua_headers,$(LUA))
OPENBLAS_LIBDIR ?=
OPENBLAS_INCDIR ?=
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Werror=implicit-function-declaration
LIBFLAG ?= -shared
BUSTED ?= busted

# BLAS=openblas (default) or BLAS=none: recur's portable C GEMM, no BLAS library at all
BLAS ?= openblas
ifeq ($(BLAS),none)
BLAS_SRC = src/core/blas_portable.c
BLAS_LIB =
else
BLAS_SRC = src/core/blas.c
BLAS_LIB = -lopenblas
endif
# the C API for hosts (include/recur.h) that recur.core itself carries
EMBED_API = src/embed/tensor_view.c
SRC = $(BLAS_SRC) $(filter-out src/core/blas.c src/core/blas_portable.c,$(wildcard src/core/*.c)) $(wildcard src/lua/*.c) \
  $(EMBED_API)
HDR = $(wildcard src/core/*.h) $(wildcard src/lua/*.h)
LUA_MODULES = $(filter-out lua/recur/distributed.lua,$(wildcard lua/recur/*.lua))
INC = -I$(LUA_INCDIR) $(if $(OPENBLAS_INCDIR),-I$(OPENBLAS_INCDIR))
LIBS = $(if $(OPENBLAS_LIBDIR),-L$(OPENBLAS_LIBDIR)) $(BLAS_LIB) -lm
# -fno-math-errno: sqrtf becomes one instruction, so that loops calling it vectorise (the
# optimizers' steps); recur never reads errno after a math function (a pragma cannot set it)
MATH = -fno-math-errno
ALLCFLAGS = -std=c99 -fPIC -fvisibility=hidden $(MATH) $(WARN) $(INC) $(CFLAGS)
TEST_ENV = OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1}

.PHONY: test-isa isa-check bench-kernels FORCE rock-install dist rock-install-check windows windows-test wasm wasm-test love-game love-test fuzz-api fuzz-api-asan soak tsan asan-build oom-check fuzz embed alloc-check bench test-compat test-noblas all test lint format docs install rock-check example examples-smoke clean memcheck asan cxx-check symbols-check

all: recur/core.so

recur/core.so: $(SRC) $(HDR) build/build-id
	@mkdir -p recur
	$(CC) $(ALLCFLAGS) $(LIBFLAG) -o $@ $(SRC) $(LIBS)

# The in-tree build's configuration: changing it (another Lua's headers, as `make test
# LUA=lua5.1` or `luarocks make` under another Lua do, the BLAS, the compiler or its flags)
# rebuilds recur/core.so.
BUILD_ID = $(CC) | $(CFLAGS) | $(LIBFLAG) | $(LUA_INCDIR) | $(BLAS) | $(OPENBLAS_INCDIR) | $(OPENBLAS_LIBDIR)
build/build-id: FORCE
	@mkdir -p build && echo '$(BUILD_ID)' | cmp -s - $@ || echo '$(BUILD_ID)' > $@
FORCE:

# TAP output, closed by the line "N passed, N failed"; fails on any failure.
test: recur/core.so
	set -o pipefail; $(TEST_ENV) $(BUSTED) --lua=$(LUA) -o TAP $(BUSTED_ARGS) | awk -f tools/tap-summary.awk

lint:
	luacheck lua specs examples tools platform fuzz
	clang-format --dry-run --Werror $(SRC) $(HDR) src/embed/*.c include/*.h examples/embed/*.c platform/*.c

format:
	clang-format -i $(SRC) $(HDR)

# the LDoc reference in build/docs (needs Debian's lua-ldoc and lua-markdown); fails on any
# LDoc warning or message (a missing markdown module makes LDoc fall back to raw text) and
# on any public function or method without an entry (tools/doc-coverage.lua)
docs: recur/core.so
	rm -rf build/docs
	ldoc --fatalwarnings --testing . >build/ldoc.log 2>&1 || { cat build/ldoc.log; exit 1; }
	! grep -v -e '^reading configuration' -e '^output written' build/ldoc.log
	$(LUA) tools/doc-coverage.lua build/docs

install:
	luarocks --lua-version=5.4 make recur-scm-1.rockspec

# what the rockspec's build (type "make") installs: LuaRocks gives the rock's directories
rock-install: recur/core.so
	mkdir -p $(INST_LIBDIR)/recur $(INST_LUADIR)/recur
	cp recur/core.so $(INST_LIBDIR)/recur/
	cp $(LUA_MODULES) $(INST_LUADIR)/recur/

# Builds the rock into a private tree and loads it from there (keeps the rockspec honest).
ROCK_TREE = build/rock-tree
rock-check:
	rm -rf $(ROCK_TREE)
	luarocks --lua-version=5.4 make --tree=$(ROCK_TREE) recur-scm-1.rockspec
	cd /tmp && LUA_PATH="$(CURDIR)/$(ROCK_TREE)/share/lua/5.4/?.lua;$(CURDIR)/$(ROCK_TREE)/share/lua/5.4/?/init.lua" \
	  LUA_CPATH="$(CURDIR)/$(ROCK_TREE)/lib/lua/5.4/?.so" $(LUA) $(CURDIR)/tools/rock-check.lua

# A release in build/dist: recur-$(VERSION).tar.gz (the tracked files of the working tree under
# recur-$(VERSION)/, reproducible: sorted, owner root, the last commit's time), its rockspec
# recur-$(VERSION)-1.rockspec (recur-scm-1.rockspec with that version, its source the tarball's
# file:// address) and the source rock that `luarocks pack` makes from them, offline.
VERSION = 0.1.0
DIST = build/dist
dist:
	rm -rf $(DIST) && mkdir -p $(DIST)
	git ls-files -z | tar --null -T - --sort=name --owner=0 --group=0 --numeric-owner \
	  --mtime=@$$(git log -1 --format=%ct) --transform 's,^,recur-$(VERSION)/,' -cf - | gzip -n > $(DIST)/recur-$(VERSION).tar.gz
	$(LUA) tools/release-rockspec.lua $(VERSION) file://$(CURDIR)/$(DIST)/recur-$(VERSION).tar.gz \
	  $(DIST)/recur-$(VERSION)-1.rockspec
	cd $(DIST) && luarocks --lua-version=5.4 pack recur-$(VERSION)-1.rockspec
	@ls -l $(DIST)

# Installs the packed rock into a fresh tree under Lua 5.1, 5.3, 5.4 and LuaJIT (LuaRocks' 5.1
# with LuaJIT's headers), and the BLAS-free build under 5.4, and loads each from outside the
# repository.
ROCK_INSTALLS = lua5.1 lua5.3 lua5.4 luajit lua5.4-noblas
rock-install-check: dist
	@for name in $(ROCK_INSTALLS); do \
	  lua=$${name%-noblas}; blas=$$([ $$name = $$lua ] && echo openblas || echo portable); \
	  case $$lua in luajit) v=5.1; headers=LUA_INCDIR=/usr/include/luajit-2.1;; *) v=$${lua#lua}; headers=;; esac; \
	  tree=$(CURDIR)/build/rock-trees/$$name; rm -rf $$tree; mkdir -p $$tree; \
	  BLAS=$$([ $$blas = portable ] && echo none || echo openblas) luarocks --lua-version=$$v install --tree=$$tree \
	    $(DIST)/recur-$(VERSION)-1.src.rock $$headers > $$tree/log 2>&1 || { cat $$tree/log; exit 1; }; \
	  (cd /tmp && LUA_PATH="$$tree/share/lua/$$v/?.lua;$$tree/share/lua/$$v/?/init.lua" LUA_CPATH="$$tree/lib/lua/$$v/?.so" \
	    EXPECTED_BLAS=$$blas $$lua $(CURDIR)/tools/rock-check.lua) || exit 1; \
	done

example: recur/core.so
	LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="./?.so;;" $(LUA) examples/quickstart.lua

# Every example, briefly (CI): they must run from a fresh clone and write their outputs.
SMOKE = build/smoke
examples-smoke: recur/core.so
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(LUA) examples/charrnn/train.lua --epochs 1 --max-minutes 0.15 --eval-every 50 --out $(SMOKE)/charrnn
	$(LUA) examples/charrnn/sample.lua --model $(SMOKE)/charrnn/model.safetensors --length 80 --prime "KING:"
	$(LUA) examples/charrnn/train.lua --epochs 1 --max-minutes 0.1 --eval-every 50 --out $(SMOKE)/charrnn \
	  --resume $(SMOKE)/charrnn/checkpoint.safetensors
	$(LUA) examples/forecast/train.lua --epochs 1 --out $(SMOKE)/forecast
	$(LUA) examples/game/play.lua --frames 1500 --out $(SMOKE)/game
	for f in charrnn/history.csv charrnn/loss.svg charrnn/model.safetensors forecast/history.csv forecast/mae.svg \
	  game/history.csv game/accuracy.svg; do test -s $(SMOKE)/$$f || { echo "missing $$f"; exit 1; }; done

# recur.core for another interpreter in build/<interpreter>/ (test-compat; LÖVE runs LuaJIT's)
build/%/recur/core.so: $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -fPIC -fvisibility=hidden $(MATH) $(WARN) -I$(call lua_headers,$*) $(CFLAGS) $(LIBFLAG) -o $@ $(SRC) $(LIBS)

# The whole spec suite under Lua 5.1, 5.3 and LuaJIT 2.1 (5.4 is `make test`), each with
# its own build of recur.core in build/<interpreter>/.
COMPAT_LUAS = lua5.1 lua5.3 luajit
test-compat: $(foreach v,$(COMPAT_LUAS),build/$(v)/recur/core.so)
	@for v in $(COMPAT_LUAS); do \
	  printf '%s: ' $$v; \
	  set -o pipefail; $(TEST_ENV) $(BUSTED) --lua=$$v --cpath=build/$$v/?.so -o TAP | awk -v quiet=1 -f tools/tap-summary.awk \
	    || exit 1; \
	done

# The whole spec suite on the BLAS-free build (in build/noblas/, the in-tree build untouched).
NOBLAS_SRC = src/core/blas_portable.c $(filter-out src/core/blas.c src/core/blas_portable.c,$(wildcard src/core/*.c)) $(wildcard src/lua/*.c) \
  $(EMBED_API)
build/noblas/recur/core.so: $(NOBLAS_SRC) $(HDR)
	@mkdir -p build/noblas/recur
	$(CC) $(ALLCFLAGS) $(LIBFLAG) -o $@ $(NOBLAS_SRC) -lm

test-noblas: build/noblas/recur/core.so
	set -o pipefail; $(BUSTED) --lua=$(LUA) --cpath=build/noblas/?.so -o TAP | awk -v quiet=1 -f tools/tap-summary.awk

# The pointwise kernels per x86-64 level (src/core/dispatch.h). The run-time dispatch
# cannot be forced, so each level gets its own build without it, in build/isa/<level>/:
# all three compile; the activation, cell and layer specs run on the levels this CPU has, and on
# the in-tree build, whose dispatch must pick the CPU's highest level; all of them must
# compute the same floats (tools/vector-digest.lua).
ISA_LEVELS = x86-64 x86-64-v3 x86-64-v4
ISA_SPECS = specs/activations_spec.lua specs/cells_spec.lua specs/layers_spec.lua specs/layers_pytorch_spec.lua
# the levels this CPU runs, as GCC's resolver tests them
CPU_LEVELS = $(shell mkdir -p build && printf '%s\n' 'int puts(const char *);' 'int main(void) {' \
  '__builtin_cpu_init(); puts("x86-64");' 'if (__builtin_cpu_supports("x86-64-v3")) puts("x86-64-v3");' \
  'if (__builtin_cpu_supports("x86-64-v4")) puts("x86-64-v4"); return 0; }' | \
  $(CC) -x c - -o build/cpu-levels 2>/dev/null && build/cpu-levels)
build/isa/%/recur/core.so: $(SRC) $(HDR)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -march=$* -DRC_VECTOR_DISPATCH=0 $(LIBFLAG) -o $@ $(SRC) $(LIBS)

test-isa: recur/core.so $(foreach l,$(ISA_LEVELS),build/isa/$(l)/recur/core.so)
	@for l in $(ISA_LEVELS); do \
	  case " $$(echo $(CPU_LEVELS)) " in *" $$l "*) ;; *) echo "$$l: built; not run, the CPU lacks it"; continue;; esac; \
	  printf '%s: ' $$l; \
	  set -o pipefail; RECUR_VECTOR_LEVEL=$$l $(TEST_ENV) $(BUSTED) --lua=$(LUA) --cpath=build/isa/$$l/?.so -o TAP \
	    $(ISA_SPECS) | awk -v quiet=1 -f tools/tap-summary.awk || exit 1; \
	done
	@if nm recur/core.so | grep -q " i "; then printf 'dispatch (recur/core.so): '; \
	  set -o pipefail; RECUR_VECTOR_LEVEL=$(lastword $(CPU_LEVELS)) $(TEST_ENV) $(BUSTED) --lua=$(LUA) -o TAP \
	    $(ISA_SPECS) | awk -v quiet=1 -f tools/tap-summary.awk; else echo "recur/core.so: built without dispatch"; fi
	@digests=$$(for so in $(foreach l,$(CPU_LEVELS),build/isa/$(l)/?.so) ./?.so; do \
	  LUA_CPATH="$$so" $(TEST_ENV) $(LUA) tools/vector-digest.lua || echo "$$so failed"; done | sort -u); \
	if [ $$(echo "$$digests" | wc -l) -ne 1 ]; then echo "the levels compute different floats: $$digests"; exit 1; fi; \
	echo "every level run and the dispatching build compute the same floats (digest $$digests)"

# The kernels vectorise in every version (tools/vector-check.sh: each x86-64 level, the
# dispatched versions, MinGW, aarch64, clang, wasm SIMD), the whole core compiles for
# aarch64, and test-isa.
isa-check:
	$(call need,aarch64-linux-gnu-gcc,gcc-aarch64-linux-gnu)
	$(call need,x86_64-w64-mingw32-gcc,gcc-mingw-w64-x86-64)
	$(call need,clang,clang)
	$(call need,emcc,emscripten)
	tools/vector-check.sh build/isa
	for f in $(filter-out src/core/blas.c,$(wildcard src/core/*.c)); do \
	  aarch64-linux-gnu-gcc -std=c99 $(WARN) -Werror -O2 -c $$f -o build/isa/core.o || exit 1; done
	@$(MAKE) -s test-isa

# The pointwise kernels and the layers, main's code against this tree's, per level
# (BENCH_KERNELS_ARGS: --rounds N, --sample SECONDS, --clock wall|cpu).
bench-kernels: recur/core.so
	CPU_LEVELS="$(CPU_LEVELS)" bench/kernels.sh $(BENCH_KERNELS_ARGS)

# The spec suite under valgrind. OPENBLAS_CORETYPE=Haswell: valgrind lacks AVX-512.
memcheck: recur/core.so
	set -o pipefail; OPENBLAS_CORETYPE=Haswell $(TEST_ENV) valgrind --error-exitcode=1 --leak-check=full \
	  --errors-for-leak-kinds=definite --suppressions=.ci/valgrind.supp -q \
	  $(LUA) -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path' \
	  /usr/bin/busted --ignore-lua -o TAP | awk -f tools/tap-summary.awk

# The spec suite with an ASan+UBSan build of recur loaded into the stock interpreter.
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan-build:
	@mkdir -p build/asan/recur
	$(CC) -std=c99 -fPIC -fvisibility=hidden $(WARN) $(INC) $(ASAN_FLAGS) $(LIBFLAG) \
	  -o build/asan/recur/core.so $(SRC) $(LIBS)

asan: asan-build
	set -o pipefail; LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0 $(TEST_ENV) \
	  $(BUSTED) --lua=$(LUA) --cpath=build/asan/?.so -o TAP | awk -f tools/tap-summary.awk

# The whole C source must also compile as C++ (hosts such as UnLua build Lua as C++).
cxx-check:
	for f in $(SRC); do $(CXX) -x c++ -fsyntax-only -Wall -Wextra $(INC) $$f || exit 1; done
	for f in $(SRC); do $(CXX) -x c++ -fsyntax-only -Wall -Wextra -I/usr/include/lua5.1 $$f || exit 1; done

# Only luaopen_* and the documented recur_* C API (include/recur.h) may be exported.
symbols-check: recur/core.so
	@bad=$$(nm -D --defined-only recur/core.so | awk '{print $$3}' | grep -v -e '^luaopen_' -e '^recur_' || true); \
	if [ -n "$$bad" ]; then echo "unexpected exported symbols: $$bad"; exit 1; fi; \
	echo "exports: $$(nm -D --defined-only recur/core.so | awk '{print $$3}' | tr '\n' ' ')"

# The interleaved benchmark against PyTorch and the GEMM bound (bench/run.lua, doc/performance.md).
# QUICK=1: the short version; BENCH_ARGS: more options of bench/run.lua (e.g. --tables layers).
build/bench/blas_bound: bench/blas_bound.c
	@mkdir -p build/bench
	$(CC) -std=c99 -O2 $(WARN) $(INC) -o $@ $< $(LIBS)

build/bench/blas_trace.so: bench/blas_trace.c
	@mkdir -p build/bench
	$(CC) -std=c99 -O2 -fPIC $(WARN) $(INC) $(LIBFLAG) -o $@ $< -Wl,--no-as-needed $(LIBS) -ldl

bench: recur/core.so build/bench/blas_bound build/bench/blas_trace.so
	$(if $(INSTALL_TORCH),/usr/bin/python3 -c "import torch" 2>/dev/null || apt-get install -y -qq python3-torch)
	$(LUA) bench/run.lua $(if $(QUICK),--quick) $(BENCH_ARGS)

# The recurrent core calls no allocator: every buffer comes from Lua-owned workspaces.
alloc-check:
	@mkdir -p build/alloc
	@for f in src/core/rnn.c src/core/packed.c src/core/cells.c src/core/cell_*.c src/core/ops.c; do \
	  $(CC) -std=c99 -O2 -c $$f -o build/alloc/$$(basename $$f .c).o || exit 1; done
	@if nm -u build/alloc/*.o | grep -E ' (malloc|calloc|realloc|free)$$'; then \
	  echo "allocator calls in the core"; exit 1; fi; echo "core: no allocator calls"

# A static host program: Lua 5.4 and recur linked in (no dlopen), Lua modules compiled in.
LUA_STATIC ?= /usr/lib/x86_64-linux-gnu/liblua5.4.a
EMBED_SRC = $(SRC) src/embed/preload.c build/embed/recur_lua.c
build/embed/recur_lua.c: $(LUA_MODULES) tools/embed-lua.lua
	@mkdir -p build/embed
	$(LUA) tools/embed-lua.lua $@ $(LUA_MODULES)

build/embed/%: examples/embed/%.c $(EMBED_SRC) $(HDR) include/recur.h
	$(CC) -std=c99 $(MATH) $(WARN) -Iinclude -Isrc/lua $(INC) -O2 -o $@ $< $(EMBED_SRC) $(LUA_STATIC) $(BLAS_LIB) -lm -ldl -lpthread

build/hosts/%: specs/hosts/%.c $(EMBED_SRC) $(HDR) include/recur.h
	@mkdir -p build/hosts
	$(CC) -std=c99 $(WARN) -Iinclude -Isrc/lua $(INC) -O1 -g -o $@ $< $(EMBED_SRC) $(LUA_STATIC) $(BLAS_LIB) -lm -ldl -lpthread

# Soak: thousands of steps with changing shapes; resident memory must stay flat (normal
# build), and ASan+UBSan must stay silent (ASan build, small quarantine, no RSS check).
ITERATIONS ?= 3000
soak: recur/core.so asan-build
	OPENBLAS_NUM_THREADS=1 ITERATIONS=$(ITERATIONS) LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="./?.so;;" \
	  $(LUA) tools/soak.lua
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=16 OPENBLAS_NUM_THREADS=1 ITERATIONS=$(ITERATIONS) SOAK_RSS=0 \
	  LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/asan/?.so;;" $(LUA) tools/soak.lua

# Two lua_States training in two threads under ThreadSanitizer (the portable BLAS, so that
# every line that runs is instrumented).
TSAN_SRC = $(NOBLAS_SRC) src/embed/preload.c build/embed/recur_lua.c
build/tsan/threads: examples/embed/threads.c $(TSAN_SRC) $(HDR) include/recur.h
	@mkdir -p build/tsan
	$(CC) -std=c99 $(WARN) -Iinclude -Isrc/lua $(INC) -O1 -g -fsanitize=thread -o $@ $< $(TSAN_SRC) $(LUA_STATIC) \
	  -lm -ldl -lpthread

# recur's own workers under TSan: two states with 3 threads each (specs/hosts/workers.c)
build/tsan/workers: specs/hosts/workers.c $(TSAN_SRC) $(HDR) include/recur.h
	@mkdir -p build/tsan
	$(CC) -std=c99 $(WARN) -Iinclude -Isrc/lua $(INC) -O1 -g -fsanitize=thread -o $@ $< $(TSAN_SRC) $(LUA_STATIC) \
	  -lm -ldl -lpthread

tsan: build/tsan/threads build/tsan/workers
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" build/tsan/threads
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" build/tsan/workers

# Every allocation of a training step fails in turn: each must be a clean Lua error.
oom-check: build/hosts/oom
	OPENBLAS_NUM_THREADS=1 build/hosts/oom

embed: build/embed/host build/embed/threads
	cd examples/embed && ../../build/embed/host predictor.safetensors 12
	build/embed/threads

# libFuzzer harnesses (clang, ASan + UBSan): FUZZ_SECONDS each (default 600), on a working
# copy of the committed seed corpus in fuzz/corpus/<harness>. `make fuzz FUZZ_SECONDS=20` is CI's.
FUZZERS = safetensors header tensor csv
FUZZ_SECONDS ?= 600
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c99 -Isrc/core -Isrc/lua $(INC)
FUZZ_LIB_SRC = src/core/blas.c $(filter-out src/core/blas.c src/core/blas_portable.c,$(wildcard src/core/*.c)) $(wildcard src/lua/*.c) \
  $(EMBED_API)
build/fuzz/%: fuzz/%_fuzz.c fuzz/lua_harness.h $(FUZZ_LIB_SRC) $(HDR)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRC) $(LUA_STATIC) -lopenblas -lm -ldl

fuzz: $(addprefix build/fuzz/,$(FUZZERS))
	@for f in $(FUZZERS); do \
	  mkdir -p build/fuzz/work-$$f && \
	  echo "== $$f ($(FUZZ_SECONDS) s)" && \
	  OPENBLAS_NUM_THREADS=1 build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 build/fuzz/work-$$f fuzz/corpus/$$f 2>&1 | \
	    grep -E "stat::number_of_executed_units|stat::peak_rss|cov:|ERROR|SUMMARY" | tail -n 4; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# The Lua-API fuzzer (fuzz/lua_api): seeded random call sequences over the whole public API
# with hostile arguments, in child processes; fails on any crash, hang, sanitizer report or
# internal error. FUZZ_API_SECONDS (default 60), or FUZZ_API_CALLS calls; FUZZ_API_ARGS adds
# options (e.g. --jobs 2 --keep-going). fuzz-api-asan runs it on the ASan+UBSan build.
FUZZ_API_SECONDS ?= 60
FUZZ_API_BUDGET = $(if $(FUZZ_API_CALLS),--calls $(FUZZ_API_CALLS),--seconds $(FUZZ_API_SECONDS))
fuzz-api: recur/core.so
	$(LUA) fuzz/lua_api/fuzz.lua $(FUZZ_API_BUDGET) $(FUZZ_API_ARGS)

fuzz-api-asan: asan-build
	$(LUA) fuzz/lua_api/fuzz.lua $(FUZZ_API_BUDGET) --build build/asan --sanitizers --out build/fuzz-api-asan \
	  $(FUZZ_API_ARGS)

clean:
	rm -rf recur build docs luarocks-tree

# ---- Windows and WebAssembly -------------------------------------------------------------
# Both build Lua 5.4 from Debian's lua5.4 source package (fetched by platform/fetch-lua.sh
# into build/lua-src) and recur with the BLAS-free GEMM, and run platform/smoke.lua.
# $(call need,PROGRAM,DEBIAN PACKAGE): stops with a clear message when PROGRAM is missing
need = @command -v $(1) >/dev/null 2>&1 || { echo "$@ needs $(1): apt-get install -y $(2)"; exit 1; }
# the smoke test runs with the interpreter's default module search paths
NO_LUA_ENV = env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4
LUA_SRC = build/lua-src
$(LUA_SRC)/src/lua.h: platform/fetch-lua.sh
	$(call need,dpkg-source,dpkg-dev)
	platform/fetch-lua.sh $(LUA_SRC)
	@touch $@
# expanded in recipes, after the fetch
LUA_LIB_SRC = $(filter-out %/lua.c %/luac.c,$(wildcard $(LUA_SRC)/src/*.c))

# Windows x86-64, cross-compiled with MinGW-w64: build/windows holds lua.exe, lua54.dll,
# recur.dll and lua/recur/*.lua, the layout that Lua's default search paths find on Windows.
MINGW_CC ?= x86_64-w64-mingw32-gcc
WINE ?= $(or $(shell command -v wine64 2>/dev/null),$(shell command -v wine 2>/dev/null),/usr/lib/wine/wine64)
WIN = build/windows
WIN_LUA_MODULES = $(patsubst lua/%,$(WIN)/lua/%,$(LUA_MODULES))
$(WIN)/lua54.dll: $(LUA_SRC)/src/lua.h
	$(call need,$(MINGW_CC),gcc-mingw-w64-x86-64)
	@mkdir -p $(WIN)
	$(MINGW_CC) -O2 -std=gnu99 -DLUA_BUILD_AS_DLL -DLUA_COMPAT_5_3 -static-libgcc -shared -s -o $@ $(LUA_LIB_SRC)

$(WIN)/lua.exe: $(WIN)/lua54.dll
	$(MINGW_CC) -O2 -std=gnu99 -DLUA_BUILD_AS_DLL -static-libgcc -s -o $@ $(LUA_SRC)/src/lua.c $(WIN)/lua54.dll

$(WIN)/recur.dll: $(NOBLAS_SRC) $(HDR) $(WIN)/lua54.dll
	$(MINGW_CC) -std=c99 $(WARN) -Werror -O2 -DLUA_BUILD_AS_DLL -D__USE_MINGW_ANSI_STDIO=1 -I$(LUA_SRC)/src -static-libgcc \
	  -shared -s -o $@ $(NOBLAS_SRC) $(WIN)/lua54.dll

$(WIN)/lua/%.lua: lua/%.lua
	@mkdir -p $(dir $@)
	cp $< $@

windows: $(WIN)/lua.exe $(WIN)/recur.dll $(WIN_LUA_MODULES)

# platform/smoke.lua under Wine, run by build/windows/lua.exe with its default search paths
WINE_ENV = WINEPREFIX=$(CURDIR)/build/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
windows-test: windows
	$(call need,$(WINE),wine64)
	rm -rf $(WIN)/smoke && mkdir -p $(WIN)/smoke
	$(NO_LUA_ENV) $(WINE_ENV) $(WINE) $(WIN)/lua.exe platform/smoke.lua $(WIN)/smoke

# WebAssembly, with emscripten: Lua's stand-alone interpreter (lua.c) with recur compiled in
# (platform/linit_recur.c preloads it) as build/wasm/lua.js + lua.wasm, for node; it reads
# and writes the host's files (NODERAWFS).
# (emcc runs node scripts that need Debian's node-acorn, in /usr/share/nodejs, which only
# Debian's node searches by itself)
EMCC ?= NODE_PATH=/usr/share/nodejs emcc
WASM = build/wasm
WASM_FLAGS = -O2 -sENVIRONMENT=node -sNODERAWFS=1 -sALLOW_MEMORY_GROWTH=1 -sEXIT_RUNTIME=1 -sWASM_ASYNC_COMPILATION=0
$(WASM)/lua.js: $(NOBLAS_SRC) $(HDR) include/recur.h src/embed/preload.c build/embed/recur_lua.c \
  platform/linit_recur.c $(LUA_SRC)/src/lua.h
	$(call need,emcc,emscripten)
	@rm -rf $(WASM)/obj && mkdir -p $(WASM)/obj
	cd $(WASM)/obj && $(EMCC) -O2 -std=gnu99 -DLUA_USE_POSIX -c $(abspath $(filter-out %/linit.c,$(LUA_LIB_SRC)) $(LUA_SRC)/src/lua.c)
	$(EMCC) -std=c99 $(WARN) -Werror -Iinclude -Isrc/lua -I$(LUA_SRC)/src $(WASM_FLAGS) -o $@ $(WASM)/obj/*.o \
	  platform/linit_recur.c $(NOBLAS_SRC) src/embed/preload.c build/embed/recur_lua.c

wasm: $(WASM)/lua.js

wasm-test: wasm
	$(call need,node,nodejs)
	rm -rf $(WASM)/smoke && mkdir -p $(WASM)/smoke
	$(NO_LUA_ENV) node $(WASM)/lua.js platform/smoke.lua $(WASM)/smoke

# examples/love with recur inside (recur/*.lua and recur/core.so built for LuaJIT, LÖVE's Lua):
# the layout of a game that ships recur; `love build/love/game` runs it without the repository.
LOVE_GAME = build/love/game
love-game: build/luajit/recur/core.so
	rm -rf $(LOVE_GAME) && mkdir -p $(LOVE_GAME)/recur
	cp examples/love/main.lua examples/love/conf.lua $(LOVE_GAME)/
	cp $(LUA_MODULES) build/luajit/recur/core.so $(LOVE_GAME)/recur/

# That game headless: LOVE_FRAMES frames under Xvfb, one move each, then a screenshot and exit
# status 0; fails on any error, a missing or an empty PNG.
LOVE_FRAMES ?= 600
love-test: love-game
	$(call need,love,love)
	$(call need,xvfb-run,xvfb xauth)
	rm -f build/love/screenshot.png
	$(TEST_ENV) timeout 300 xvfb-run -a -s "-screen 0 1024x768x24" love $(LOVE_GAME) --frames $(LOVE_FRAMES) \
	  --screenshot $(CURDIR)/build/love/screenshot.png
	test -s build/love/screenshot.png

# recur-mpi, the optional data-parallel module (recur.distributed): its C part built with
# MPI's compiler wrapper, as recur-mpi-scm-1.rockspec does (Open MPI: apt-get install
# openmpi-bin libopenmpi-dev; another MPI: MPICC=its wrapper).
.PHONY: mpi test-mpi
MPICC ?= mpicc
MPI_SRC = $(wildcard src/mpi/*.c)
mpi: recur/distributed_core.so

recur/distributed_core.so: $(MPI_SRC) $(HDR)
	@mkdir -p recur
	$(MPICC) $(ALLCFLAGS) -Isrc/lua $(LIBFLAG) -o $@ $(MPI_SRC)

# The distributed specs (specs/distributed/*_mpispec.lua, which run their workers under
# mpirun --oversubscribe --allow-run-as-root -np 2, and build the rock), after the MPI
# module's format, C++ and export checks.
test-mpi: recur/core.so recur/distributed_core.so
	clang-format --dry-run --Werror $(MPI_SRC)
	for f in $(MPI_SRC); do $(MPICC) -x c++ -fsyntax-only -Wall -Wextra $(INC) -Isrc/lua $$f || exit 1; done
	@bad=$$(nm -D --defined-only recur/distributed_core.so | awk '{print $$3}' | grep -v '^luaopen_' || true); \
	if [ -n "$$bad" ]; then echo "unexpected exported symbols: $$bad"; exit 1; fi
	set -o pipefail; $(TEST_ENV) $(BUSTED) --lua=$(LUA) --pattern=_mpispec -o TAP specs/distributed | awk -f tools/tap-summary.awk
