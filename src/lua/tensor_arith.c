/* Arithmetic operators on recur.Tensor: t + u, t - 2, 2 * t, t / u, -t. Each returns a new
 * tensor; the operands are a tensor and a tensor of the same shape, or a tensor and a number
 * (on either side). The arithmetic itself is the tensor methods' (add, sub, mul, div, fill):
 * the operators check their operands, then call them. The in-place methods (add_, mul_, ...)
 * stay the way to avoid copies. */
#include "tensor_arith.h"

#include "tensor.h"

typedef enum { ARITH_ADD, ARITH_SUB, ARITH_MUL, ARITH_DIV } arith_op;

static const char *const VERBS[] = {"add", "subtract", "multiply", "divide"};
static const char *const METHODS[] = {"add", "sub", "mul", "div"};

static const char *shape_of(lua_State *L, const rc_tensor *t) {
  char buf[160];
  rcl_shape_string(t->shape, t->ndim, buf, sizeof buf);
  lua_pushstring(L, buf);
  return lua_tostring(L, -1);
}

static int same_shape(const rc_tensor *a, const rc_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

/* pushes self:name(arg) for the tensor at self and the value at arg */
static void call_method(lua_State *L, int self, const char *name, int arg) {
  self = lua_absindex(L, self);
  arg = lua_absindex(L, arg);
  lua_getfield(L, self, name);
  lua_pushvalue(L, self);
  lua_pushvalue(L, arg);
  lua_call(L, 2, 1);
}

/* the metamethod of op on the operands at 1 and 2 (either may be the tensor) */
static int arith(lua_State *L, arith_op op) {
  lua_settop(L, 2);
  rc_tensor *a = rcl_test_tensor(L, 1), *b = rcl_test_tensor(L, 2);
  if (a && b && !same_shape(a, b))
    return luaL_error(L, "cannot %s tensors of shapes %s and %s (operators need equal shapes)", VERBS[op],
                      shape_of(L, a), shape_of(L, b));
  int other = a ? 2 : 1;
  if (!(a && b) && lua_type(L, other) != LUA_TNUMBER)
    return luaL_error(L,
                      "cannot %s a recur.Tensor and a %s (expected a tensor of the same shape or a number)",
                      VERBS[op], rcl_typename(L, other));
  if (a) { /* t op u, t op n */
    call_method(L, 1, METHODS[op], 2);
  } else if (op == ARITH_ADD || op == ARITH_MUL) { /* n + t = t + n, n * t = t * n */
    call_method(L, 2, METHODS[op], 1);
  } else { /* n - t, n / t: a tensor full of n, then the in-place method with t */
    call_method(L, 2, "clone", 1);
    call_method(L, -1, "fill", 1);
    call_method(L, -1, op == ARITH_SUB ? "sub_" : "div_", 2);
  }
  return 1;
}

static int mt_add(lua_State *L) { return arith(L, ARITH_ADD); }
static int mt_sub(lua_State *L) { return arith(L, ARITH_SUB); }
static int mt_mul(lua_State *L) { return arith(L, ARITH_MUL); }
static int mt_div(lua_State *L) { return arith(L, ARITH_DIV); }

/* -t (Lua passes the operand twice) */
static int mt_unm(lua_State *L) {
  rcl_check_tensor(L, 1, "self");
  lua_pushnumber(L, -1);
  call_method(L, 1, "mul", -1);
  return 1;
}

/* %, ^ and // have no tensor meaning here: a clear error instead of Lua's generic one */
static int mt_unsupported(lua_State *L) {
  return luaL_error(
      L,
      "recur.Tensor supports + - * / and unary - (with a tensor of the same shape or a number); "
      "%s is not supported",
      lua_tostring(L, lua_upvalueindex(1)));
}

void rcl_open_tensor_arith(lua_State *L) {
  static const luaL_Reg ops[] = {{"__add", mt_add}, {"__sub", mt_sub}, {"__mul", mt_mul},
                                 {"__div", mt_div}, {"__unm", mt_unm}, {NULL, NULL}};
  static const char *const unsupported[][2] = {{"__mod", "%"}, {"__pow", "^"}, {"__idiv", "//"}};
  luaL_getmetatable(L, RC_TENSOR);
  luaL_setfuncs(L, ops, 0);
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
    lua_pushstring(L, unsupported[i][1]);
    lua_pushcclosure(L, mt_unsupported, 1);
    lua_setfield(L, -2, unsupported[i][0]);
  }
  lua_pop(L, 1);
}
