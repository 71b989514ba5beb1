/* recur.distributed_core: MPI collectives over recur tensors, for lua/recur/distributed.lua
 * (the rock recur-mpi). Every function takes its arguments already checked by the Lua side,
 * except the tensors, which are checked here.
 *
 * State. MPI's state is process-global by design: MPI_Init runs once per process and every
 * MPI object belongs to that one world, so "one MPI job per process" is a property of MPI,
 * not a global of this module. What this module adds lives in one Job userdata per
 * lua_State, the upvalue of every function: its own communicator (a duplicate of
 * MPI_COMM_WORLD, so that other MPI users in the process never see its messages), the
 * number of collectives this rank has entered, and whether it initialised MPI (then it
 * finalises MPI when the lua_State closes; a host that initialised MPI finalises it itself).
 *
 * Ends of a job. When a rank's lua_State closes, at a normal end or after an uncaught error
 * (lua.c closes the state in both cases), the Job's __gc sends every other rank a "leave"
 * message carrying the number of collectives this rank entered, waits for the leave
 * messages of the others, and finalises MPI. A rank waiting in its collective number k that
 * receives a leave message with a count below k knows that the sender will never join it:
 * it raises a Lua error naming the rank that left, and when its own state closes it calls
 * MPI_Abort (MPI cannot finalise with a collective pending), which ends every rank. So an
 * error on one rank, or ranks that run different numbers of collectives, end the job with
 * a message instead of a hang. A rank killed by a signal is mpirun's to handle: it ends
 * the job. */
#define _POSIX_C_SOURCE 200112L /* setenv */
/* MPI's C API only, also when compiled as C++ (Open MPI and MPICH add C++ bindings then) */
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1

#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor.h" /* the recur.Tensor userdata layout: data, numel */

#define JOB "recur.distributed.Job"
#define TAG_LEAVE 7001
#define CHUNK ((size_t)1 << 30) /* elements per MPI call (MPI counts are int) */
/* Waiting. A rank often waits for a busy one (still in backward, writing a checkpoint,
 * evaluating): a wait polls MPI for its first millisecond (yielding the core between polls
 * to any other runnable process), then naps 50 us between polls, so that a waiting rank
 * leaves its core to others. Tensor collectives first wait for every rank to arrive (a
 * barrier, with naps), then move the data without naps: MPI moves data only while it is
 * polled, and naps would slow a 1 MB allreduce several times over. */
#define SPIN_SECONDS 1e-3
#define NAP_NANOSECONDS 50000L

typedef struct job {
  MPI_Comm comm;          /* MPI_COMM_NULL until init */
  MPI_Request *leave_req; /* size requests for the leave messages, in a userdata the Job pins */
  long long entered;      /* collectives this rank has entered */
  long long first_left;   /* the smallest count a departed rank left with (LLONG_MAX: none) */
  int first_leaver;       /* the rank that left with that count */
  int rank, size, owns_mpi, departed, failed;
} job;

static job *get_job(lua_State *L) { return (job *)lua_touserdata(L, lua_upvalueindex(1)); }

static job *check_job(lua_State *L, const char *label) {
  job *j = get_job(L);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (j->comm == MPI_COMM_NULL || finalized)
    luaL_error(L, "%s: MPI is %s (call dist.init() first)", label,
               finalized ? "finalised" : "not initialised");
  if (j->failed)
    luaL_error(L, "%s: the job has failed (a rank left during a collective); it cannot go on", label);
  return j;
}

/* keeps the value at idx alive as long as the Job: buffers of a collective that will never
 * complete must not be freed while MPI may still write into them */
static void pin(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_getiuservalue(L, lua_upvalueindex(1), 1);
  lua_pushvalue(L, idx);
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  lua_pop(L, 1);
}

static void check_mpi(lua_State *L, job *j, int code, const char *label) {
  if (code == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, msg, &len);
  j->failed = 1;
  luaL_error(L, "%s: MPI error: %s", label, msg);
}

/* rank `who` has left after `count` collectives: it never enters the later ones */
static void record_leave(job *j, int who, long long count) {
  j->departed++;
  if (count < j->first_left) {
    j->first_left = count;
    j->first_leaver = who;
  }
}

static void raise_departed(lua_State *L, job *j, const char *label) {
  j->failed = 1;
  luaL_error(L,
             "%s: rank %d left the job after %s collectives, while rank %d waits in collective %s "
             "(an error or an early end on rank %d, or ranks that ran different steps); the job "
             "aborts when this rank ends",
             label, j->first_leaver, rcl_istr(L, j->first_left), j->rank, rcl_istr(L, j->entered),
             j->first_leaver);
}

/* counts a new collective; raises if a rank has already left before it */
static void enter(lua_State *L, job *j, const char *label) {
  j->entered++;
  if (j->first_left < j->entered) raise_departed(L, j, label);
}

/* Waits for n requests while watching for leave messages, napping after SPIN_SECONDS if
 * `nap`. The values at pins..top (the requests' userdata and the buffers) are pinned when
 * a departed rank means they never complete. */
static void wait_all(lua_State *L, job *j, int n, MPI_Request *req, int pins, const char *label, int nap) {
  double start = MPI_Wtime();
  for (;;) {
    int done = 0, arrived = 0;
    MPI_Status st;
    check_mpi(L, j, MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE), label);
    if (done) return;
    check_mpi(L, j, MPI_Iprobe(MPI_ANY_SOURCE, TAG_LEAVE, j->comm, &arrived, &st), label);
    if (!arrived) {
      if (nap && MPI_Wtime() - start > SPIN_SECONDS) {
        struct timespec pause = {0, NAP_NANOSECONDS};
        nanosleep(&pause, NULL);
      } else {
        sched_yield(); /* a rank that shares its core with others lets them run */
      }
      continue;
    }
    long long count = 0;
    check_mpi(L, j, MPI_Recv(&count, 1, MPI_LONG_LONG, st.MPI_SOURCE, TAG_LEAVE, j->comm, MPI_STATUS_IGNORE),
              label);
    record_leave(j, st.MPI_SOURCE, count);
    if (j->first_left < j->entered) {
      for (int i = pins; i <= lua_gettop(L); i++) pin(L, i);
      raise_departed(L, j, label);
    }
  }
}

static MPI_Request *new_requests(lua_State *L, size_t n) {
  return (MPI_Request *)lua_newuserdatauv(L, (n ? n : 1) * sizeof(MPI_Request), 0);
}

/* the tensor at index i of the array at arg */
static rc_tensor *tensor_at(lua_State *L, int arg, lua_Integer i, const char *label) {
  lua_geti(L, arg, i);
  rc_tensor *t = (rc_tensor *)luaL_testudata(L, -1, RC_TENSOR);
  if (!t) luaL_error(L, "%s: element %d is a %s, not a recur.Tensor", label, (int)i, luaL_typename(L, -1));
  lua_pop(L, 1); /* the array keeps it alive */
  return t;
}

static size_t chunks_of(size_t numel) { return numel ? (numel + CHUNK - 1) / CHUNK : 0; }

static MPI_Op op_of(lua_State *L, const char *name) {
  if (strcmp(name, "sum") == 0) return MPI_SUM;
  if (strcmp(name, "max") == 0) return MPI_MAX;
  if (strcmp(name, "min") == 0) return MPI_MIN;
  luaL_error(L, "unknown reduction '%s'", name);
  return MPI_OP_NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

/* init() -> rank, size. Initialises MPI unless the host already has. */
static int l_init(lua_State *L) {
  job *j = get_job(L);
  int initialized = 0, finalized = 0;
  if (j->comm != MPI_COMM_NULL) {
    lua_pushinteger(L, j->rank);
    lua_pushinteger(L, j->size);
    return 2;
  }
  MPI_Finalized(&finalized);
  if (finalized) return luaL_error(L, "init: MPI has been finalised in this process; it cannot start again");
  MPI_Initialized(&initialized);
  if (!initialized) {
    /* Open MPI's non-blocking allreduce picks a binomial tree for large buffers, twice as
     * slow here as its blocking allreduce (1 MB, 2 ranks: 1.4 vs 0.6 ms); its ring matches
     * the blocking one. Ring also gives every rank the same bits. The user's setting wins. */
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return luaL_error(L, "init: MPI_Init failed");
    j->owns_mpi = 1;
  }
  MPI_Comm comm;
  if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS) return luaL_error(L, "init: MPI_Comm_dup failed");
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm, &j->rank);
  MPI_Comm_size(comm, &j->size);
  lua_getiuservalue(L, lua_upvalueindex(1), 1);
  j->leave_req = new_requests(L, (size_t)j->size);
  lua_rawseti(L, -2, 1);
  j->comm = comm;
  lua_pushinteger(L, j->rank);
  lua_pushinteger(L, j->size);
  return 2;
}

static int l_initialized(lua_State *L) {
  job *j = get_job(L);
  int finalized = 0;
  MPI_Finalized(&finalized);
  lua_pushboolean(L, j->comm != MPI_COMM_NULL && !finalized);
  return 1;
}

/* Tells every other rank that this one leaves after `entered` collectives and waits until
 * all the others have said the same (a rank still in a collective aborts the job instead). */
static void leave(job *j) {
  int n = 0;
  for (int r = 0; r < j->size; r++)
    if (r != j->rank) MPI_Isend(&j->entered, 1, MPI_LONG_LONG, r, TAG_LEAVE, j->comm, &j->leave_req[n++]);
  for (; j->departed < j->size - 1; j->departed++) {
    long long count = 0;
    MPI_Recv(&count, 1, MPI_LONG_LONG, MPI_ANY_SOURCE, TAG_LEAVE, j->comm, MPI_STATUS_IGNORE);
  }
  MPI_Waitall(n, j->leave_req, MPI_STATUSES_IGNORE);
}

/* __gc: the end of the lua_State ends this rank's part in the job */
static int job_gc(lua_State *L) {
  job *j = (job *)luaL_checkudata(L, 1, JOB);
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (j->comm == MPI_COMM_NULL || finalized) return 0;
  if (j->failed) MPI_Abort(j->comm, 1);
  leave(j);
  MPI_Comm_free(&j->comm);
  j->comm = MPI_COMM_NULL;
  if (j->owns_mpi) MPI_Finalize();
  return 0;
}

static int l_rank(lua_State *L) {
  lua_pushinteger(L, check_job(L, "rank")->rank);
  return 1;
}

static int l_size(lua_State *L) {
  lua_pushinteger(L, check_job(L, "size")->size);
  return 1;
}

/* ---- collectives ----------------------------------------------------------------------- */

/* returns once every rank has called it */
static void barrier(lua_State *L, job *j, const char *label) {
  enter(L, j, label);
  int pins = lua_gettop(L) + 1;
  MPI_Request *req = new_requests(L, 1);
  check_mpi(L, j, MPI_Ibarrier(j->comm, req), label);
  wait_all(L, j, 1, req, pins, label, 1);
  lua_pop(L, 1);
}

/* barrier(label) */
static int l_barrier(lua_State *L) {
  const char *label = luaL_checkstring(L, 1);
  barrier(L, check_job(L, label), label);
  return 0;
}

/* Runs one collective per chunk of every tensor in the array at index 1, all in flight at
 * once, once every rank has arrived: an allreduce with `op` in place, or (root >= 0) a
 * broadcast from root. */
static void tensor_collectives(lua_State *L, job *j, MPI_Op op, int root, const char *label) {
  lua_Integer n = luaL_len(L, 1);
  size_t total = 0;
  for (lua_Integer i = 1; i <= n; i++) total += chunks_of(tensor_at(L, 1, i, label)->numel);
  barrier(L, j, label);
  enter(L, j, label);
  int pins = lua_gettop(L) + 1;
  MPI_Request *req = new_requests(L, total);
  lua_pushvalue(L, 1);
  size_t k = 0;
  for (lua_Integer i = 1; i <= n; i++) {
    rc_tensor *t = tensor_at(L, 1, i, label);
    for (size_t at = 0; at < t->numel; at += CHUNK, k++) {
      int count = (int)(t->numel - at < CHUNK ? t->numel - at : CHUNK);
      check_mpi(L, j,
                root >= 0
                    ? MPI_Ibcast(t->data + at, count, MPI_FLOAT, root, j->comm, &req[k])
                    : MPI_Iallreduce(MPI_IN_PLACE, t->data + at, count, MPI_FLOAT, op, j->comm, &req[k]),
                label);
    }
  }
  wait_all(L, j, (int)k, req, pins, label, 0);
  lua_pop(L, 2);
}

/* allreduce(tensors, op, mean, label): reduces every tensor in place; with mean, scales
 * the sums by 1 / the number of ranks */
static int l_allreduce(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  MPI_Op op = op_of(L, luaL_checkstring(L, 2));
  int mean = lua_toboolean(L, 3);
  const char *label = luaL_checkstring(L, 4);
  job *j = check_job(L, label);
  tensor_collectives(L, j, op, -1, label);
  if (mean && j->size > 1) {
    /* a product with 1/size (exact for 2, 4, 8 ... ranks): a division per element took
     * 0.44 ms of a 0.65 ms allreduce of char-rnn's 244k gradients */
    float reciprocal = 1.0f / (float)j->size;
    for (lua_Integer i = 1, n = luaL_len(L, 1); i <= n; i++) {
      rc_tensor *t = tensor_at(L, 1, i, label);
      float *data = t->data;
      size_t e = 0, numel = t->numel;
      for (; e + 4 <= numel; e += 4) { /* four at once: -O2 makes this one SIMD product */
        data[e] *= reciprocal;
        data[e + 1] *= reciprocal;
        data[e + 2] *= reciprocal;
        data[e + 3] *= reciprocal;
      }
      for (; e < numel; e++) data[e] *= reciprocal;
    }
  }
  return 0;
}

/* allreduce_numbers(array, op, label) -> a new array of the reduced numbers (as doubles) */
static int l_allreduce_numbers(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  MPI_Op op = op_of(L, luaL_checkstring(L, 2));
  const char *label = luaL_checkstring(L, 3);
  job *j = check_job(L, label);
  int n = (int)luaL_len(L, 1);
  double *values = (double *)lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(double), 0);
  for (int i = 0; i < n; i++) {
    lua_geti(L, 1, i + 1);
    values[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  enter(L, j, label);
  int pins = lua_gettop(L);
  MPI_Request *req = new_requests(L, 1);
  check_mpi(L, j, MPI_Iallreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, op, j->comm, req), label);
  wait_all(L, j, 1, req, pins, label, 1);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, values[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* broadcast(tensors, root, label): every tensor gets root's values */
static int l_broadcast(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int root = (int)luaL_checkinteger(L, 2);
  const char *label = luaL_checkstring(L, 3);
  job *j = check_job(L, label);
  if (root < 0 || root >= j->size) return luaL_error(L, "%s: root %d is not a rank", label, root);
  tensor_collectives(L, j, MPI_OP_NULL, root, label);
  return 0;
}

/* broadcast_string(s, root, label) -> root's string (s is ignored on the other ranks) */
static int l_broadcast_string(lua_State *L) {
  int root = (int)luaL_checkinteger(L, 2);
  const char *label = luaL_checkstring(L, 3);
  job *j = check_job(L, label);
  size_t len = 0;
  const char *s = j->rank == root ? luaL_checklstring(L, 1, &len) : NULL;
  long long *n = (long long *)lua_newuserdatauv(L, sizeof(long long), 0);
  *n = (long long)len;
  enter(L, j, label);
  int pins = lua_gettop(L);
  MPI_Request *req = new_requests(L, 1);
  check_mpi(L, j, MPI_Ibcast(n, 1, MPI_LONG_LONG, root, j->comm, req), label);
  wait_all(L, j, 1, req, pins, label, 1);
  if (*n > INT_MAX) return luaL_error(L, "%s: a string of %s bytes is too long", label, rcl_istr(L, *n));
  char *buf = (char *)lua_newuserdatauv(L, (size_t)(*n ? *n : 1), 0);
  if (s) memcpy(buf, s, len);
  enter(L, j, label);
  pins = lua_gettop(L);
  req = new_requests(L, 1);
  check_mpi(L, j, MPI_Ibcast(buf, (int)*n, MPI_CHAR, root, j->comm, req), label);
  wait_all(L, j, 1, req, pins, label, 1);
  lua_pushlstring(L, buf, (size_t)*n);
  return 1;
}

/* gather_strings(s, root, label) -> on root, the array of every rank's string (rank r at
 * r + 1); nil elsewhere */
static int l_gather_strings(lua_State *L) {
  size_t len = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  int root = (int)luaL_checkinteger(L, 2);
  const char *label = luaL_checkstring(L, 3);
  job *j = check_job(L, label);
  if (len > INT_MAX)
    return luaL_error(L, "%s: a string of %s bytes is too long", label, rcl_istr(L, (long long)len));
  int is_root = j->rank == root, size = j->size;
  int *counts = (int *)lua_newuserdatauv(L, 2 * (size_t)size * sizeof(int) + sizeof(int), 0);
  int *displs = counts + size, *mine = displs + size;
  *mine = (int)len;
  enter(L, j, label);
  int pins = lua_gettop(L);
  MPI_Request *req = new_requests(L, 1);
  check_mpi(L, j, MPI_Igather(mine, 1, MPI_INT, counts, 1, MPI_INT, root, j->comm, req), label);
  wait_all(L, j, 1, req, pins, label, 1);
  size_t total = 0;
  for (int r = 0; is_root && r < size; r++) {
    displs[r] = (int)total;
    total += (size_t)counts[r];
    if (total > INT_MAX)
      return luaL_error(L, "%s: %s bytes in all are too many", label, rcl_istr(L, (long long)total));
  }
  char *buf = (char *)lua_newuserdatauv(L, total ? total : 1, 0);
  enter(L, j, label);
  pins = lua_gettop(L);
  req = new_requests(L, 1);
  lua_pushvalue(L, 1); /* the string MPI reads from */
  check_mpi(L, j, MPI_Igatherv(s, (int)len, MPI_CHAR, buf, counts, displs, MPI_CHAR, root, j->comm, req),
            label);
  wait_all(L, j, 1, req, pins, label, 1);
  if (!is_root) return 0;
  lua_createtable(L, size, 0);
  for (int r = 0; r < size; r++) {
    lua_pushlstring(L, buf + displs[r], (size_t)counts[r]);
    lua_rawseti(L, -2, r + 1);
  }
  return 1;
}

static const luaL_Reg functions[] = {{"init", l_init},
                                     {"initialized", l_initialized},
                                     {"rank", l_rank},
                                     {"size", l_size},
                                     {"barrier", l_barrier},
                                     {"allreduce", l_allreduce},
                                     {"allreduce_numbers", l_allreduce_numbers},
                                     {"broadcast", l_broadcast},
                                     {"broadcast_string", l_broadcast_string},
                                     {"gather_strings", l_gather_strings},
                                     {NULL, NULL}};

RECUR_API int luaopen_recur_distributed_core(lua_State *L) {
  luaL_newlibtable(L, functions);
  job *j = (job *)lua_newuserdatauv(L, sizeof(job), 1);
  memset(j, 0, sizeof *j);
  j->comm = MPI_COMM_NULL;
  j->first_left = LLONG_MAX;
  lua_newtable(L); /* pinned values: [1] the leave requests, then buffers of failed collectives */
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, JOB)) {
    lua_pushcfunction(L, job_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "_job");    /* the module keeps the Job alive until the state closes */
  luaL_setfuncs(L, functions, 1); /* the Job is every function's upvalue */
  return 1;
}
