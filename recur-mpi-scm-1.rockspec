rockspec_format = "3.0"
package = "recur-mpi"
version = "scm-1"

source = {
  url = "git+https://example.invalid/recur.git",
}

description = {
  summary = "Data-parallel training over MPI for recur (recur.distributed)",
  detailed = [[
    recur.distributed: every rank of an mpirun job trains on its shard of each batch and
    the gradients are averaged across ranks (MPI collectives on recur's flat gradient
    buffers), so that n ranks train as one process with n times the batch. Broadcast of
    modules and optimizer state, reductions for metrics, rank-0 checkpoints, and jobs that
    end with an error on every rank instead of hanging when one rank fails.
  ]],
  license = "MIT",
  labels = { "neural-networks", "rnn", "mpi", "distributed", "machine-learning" },
}

dependencies = {
  "lua >= 5.4, < 5.5",
  "recur",
}

-- Built with the MPI compiler wrapper, which knows MPI's include and library paths:
-- mpicc by default (Debian: apt-get install openmpi-bin libopenmpi-dev), or the one named
-- by the environment variable MPICC.
build = {
  type = "command",
  build_command = [[
    command -v "${MPICC:-mpicc}" > /dev/null ||
      { echo "recur-mpi needs MPI's compiler wrapper ${MPICC:-mpicc} (Debian: apt-get install openmpi-bin libopenmpi-dev)"; exit 1; }
    mkdir -p build/mpi-rock &&
    "${MPICC:-mpicc}" -std=c99 $(CFLAGS) -fvisibility=hidden -I$(LUA_INCDIR) -Isrc/lua $(LIBFLAG) \
      -o build/mpi-rock/distributed_core.so src/mpi/distributed.c
  ]],
  install = {
    lua = {
      ["recur.distributed"] = "lua/recur/distributed.lua",
    },
    lib = {
      ["recur.distributed_core"] = "build/mpi-rock/distributed_core.so",
    },
  },
}
