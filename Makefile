# recur: in-tree build, tests, lint, docs and memory checks.
# Overridable: LUA (interpreter), LUA_INCDIR, CFLAGS, LIBFLAG, OPENBLAS_LIBDIR, OPENBLAS_INCDIR.
SHELL := /bin/bash
LUA ?= lua5.4
LUA_INCDIR ?= /usr/include/lua5.4
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
SRC = $(BLAS_SRC) $(filter-out src/core/blas.c src/core/blas_portable.c,$(wildcard src/core/*.c)) $(wildcard src/lua/*.c)
HDR = $(wildcard src/core/*.h) $(wildcard src/lua/*.h)
INC = -I$(LUA_INCDIR) $(if $(OPENBLAS_INCDIR),-I$(OPENBLAS_INCDIR))
LIBS = $(if $(OPENBLAS_LIBDIR),-L$(OPENBLAS_LIBDIR)) $(BLAS_LIB) -lm
ALLCFLAGS = -std=c99 -fPIC -fvisibility=hidden $(WARN) $(INC) $(CFLAGS)
TEST_ENV = OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1}

.PHONY: soak tsan asan-build oom-check fuzz embed alloc-check bench test-compat test-noblas all test lint format docs install rock-check example examples-smoke clean memcheck asan cxx-check symbols-check

all: recur/core.so

recur/core.so: $(SRC) $(HDR) build/blas-$(BLAS)
	@mkdir -p recur
	$(CC) $(ALLCFLAGS) $(LIBFLAG) -o $@ $(SRC) $(LIBS)

# remembers which BLAS the in-tree build uses, so that switching rebuilds it
build/blas-$(BLAS):
	@mkdir -p build && rm -f build/blas-* && touch $@

# TAP output, closed by the line "N passed, N failed"; fails on any failure.
test: recur/core.so
	set -o pipefail; $(TEST_ENV) $(BUSTED) --lua=$(LUA) -o TAP | awk -f tools/tap-summary.awk

lint:
	luacheck lua specs examples tools
	clang-format --dry-run --Werror $(SRC) $(HDR) src/embed/*.c include/*.h examples/embed/*.c

format:
	clang-format -i $(SRC) $(HDR)

docs:
	ldoc .

install:
	luarocks --lua-version=5.4 make recur-scm-1.rockspec

# Builds the rock into a private tree and loads it from there (keeps the rockspec honest).
ROCK_TREE = build/rock-tree
rock-check:
	rm -rf $(ROCK_TREE)
	luarocks --lua-version=5.4 make --tree=$(ROCK_TREE) recur-scm-1.rockspec
	rm -f recur/core.so src/*/*.o # luarocks builds in place; let make rebuild its own
	cd /tmp && LUA_PATH="$(CURDIR)/$(ROCK_TREE)/share/lua/5.4/?.lua;$(CURDIR)/$(ROCK_TREE)/share/lua/5.4/?/init.lua" \
	  LUA_CPATH="$(CURDIR)/$(ROCK_TREE)/lib/lua/5.4/?.so" $(LUA) $(CURDIR)/tools/rock-check.lua

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

# The whole spec suite under Lua 5.1, 5.3 and LuaJIT 2.1 (5.4 is `make test`), each with
# its own build of recur.core in build/<interpreter>/.
COMPAT_LUAS = lua5.1 lua5.3 luajit
incdir_lua5.1 = /usr/include/lua5.1
incdir_lua5.3 = /usr/include/lua5.3
incdir_luajit = /usr/include/luajit-2.1
test-compat:
	@for v in $(COMPAT_LUAS); do \
	  mkdir -p build/$$v/recur && \
	  $(CC) -std=c99 -fPIC -fvisibility=hidden $(WARN) -I$$(case $$v in luajit) echo $(incdir_luajit);; *) echo /usr/include/$$v;; esac) \
	    $(CFLAGS) $(LIBFLAG) -o build/$$v/recur/core.so $(SRC) $(LIBS) || exit 1; \
	  printf '%s: ' $$v; \
	  set -o pipefail; $(TEST_ENV) $(BUSTED) --lua=$$v --cpath=build/$$v/?.so -o TAP | awk -f tools/tap-summary.awk | tail -n 1 \
	    || exit 1; \
	done

# The whole spec suite on the BLAS-free build (in build/noblas/, the in-tree build untouched).
NOBLAS_SRC = src/core/blas_portable.c $(filter-out src/core/blas.c src/core/blas_portable.c,$(wildcard src/core/*.c)) $(wildcard src/lua/*.c)
build/noblas/recur/core.so: $(NOBLAS_SRC) $(HDR)
	@mkdir -p build/noblas/recur
	$(CC) $(ALLCFLAGS) $(LIBFLAG) -o $@ $(NOBLAS_SRC) -lm

test-noblas: build/noblas/recur/core.so
	set -o pipefail; $(BUSTED) --lua=$(LUA) --cpath=build/noblas/?.so -o TAP | awk -f tools/tap-summary.awk | tail -n 1

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

# Side-by-side benchmark against PyTorch and the BLAS bound (see bench/compare.sh).
bench: recur/core.so
	@mkdir -p build
	QUICK=$(QUICK) bench/compare.sh $(if $(INSTALL_TORCH),--install-torch)

# The recurrent core calls no allocator: every buffer comes from Lua-owned workspaces.
alloc-check:
	@mkdir -p build/alloc
	@for f in src/core/rnn.c src/core/cells.c src/core/ops.c; do \
	  $(CC) -std=c99 -O2 -c $$f -o build/alloc/$$(basename $$f .c).o || exit 1; done
	@if nm -u build/alloc/*.o | grep -E ' (malloc|calloc|realloc|free)$$'; then \
	  echo "allocator calls in the core"; exit 1; fi; echo "core: no allocator calls"

# A static host program: Lua 5.4 and recur linked in (no dlopen), Lua modules compiled in.
LUA_STATIC ?= /usr/lib/x86_64-linux-gnu/liblua5.4.a
LUA_MODULES = $(wildcard lua/recur/*.lua)
EMBED_SRC = $(SRC) src/embed/preload.c build/embed/recur_lua.c
build/embed/recur_lua.c: $(LUA_MODULES) tools/embed-lua.lua
	@mkdir -p build/embed
	$(LUA) tools/embed-lua.lua $@ $(LUA_MODULES)

build/embed/%: examples/embed/%.c $(EMBED_SRC) $(HDR) include/recur.h
	$(CC) -std=c99 $(WARN) -Iinclude -Isrc/lua $(INC) -O2 -o $@ $< $(EMBED_SRC) $(LUA_STATIC) $(BLAS_LIB) -lm -ldl -lpthread

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

tsan: build/tsan/threads
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" build/tsan/threads

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
FUZZ_LIB_SRC = src/core/blas.c $(filter-out src/core/blas.c src/core/blas_portable.c,$(wildcard src/core/*.c)) $(wildcard src/lua/*.c)
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

clean:
	rm -rf recur build docs luarocks-tree

# recur-mpi, the optional data-parallel module (recur.distributed): its C part built with
# MPI's compiler wrapper, as recur-mpi-scm-1.rockspec does (Open MPI: apt-get install
# openmpi-bin libopenmpi-dev; another MPI: MPICC=its wrapper).
.PHONY: mpi test-mpi
MPICC ?= mpicc
MPI_SRC = $(wildcard src/mpi/*.c)
mpi: recur/distributed_core.so

recur/distributed_core.so: $(MPI_SRC) src/lua/tensor.h src/lua/compat.h
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
