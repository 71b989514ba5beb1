/* Arithmetic operators on recur.Tensor: t + u, t - 2, 2 * t, t / u, -t. Each returns a new
 * tensor; the operands are a tensor and a tensor of the same shape, or a tensor and a number
 * (on either side). The in-place methods (add_, mul_, ...) stay the way to avoid copies. */
#include "tensor_arith.h"

#include "tensor.h"

typedef enum { ARITH_ADD, ARITH_SUB, ARITH_MUL, ARITH_DIV } arith_op;

static const char *const VERBS[] = {"add", "subtract", "multiply", "divide"};

static float apply(arith_op op, float a, float b) {
  switch (op) {
    case ARITH_ADD: return a + b;
    case ARITH_SUB: return a - b;
    case ARITH_MUL: return a * b;
    default: return a / b;
  }
}

static const char *shape_of(lua_State *L, const rc_tensor *t) {
  char buf[160];
  rcl_shape_string(t->shape, t->ndim, buf, sizeof buf);
  return lua_pushstring(L, buf);
}

static int same_shape(const rc_tensor *a, const rc_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

/* the metamethod of op on the operands at 1 and 2 (either may be the tensor) */
static int arith(lua_State *L, arith_op op) {
  rc_tensor *a = rcl_test_tensor(L, 1), *b = rcl_test_tensor(L, 2);
  if (a && b) {
    if (!same_shape(a, b))
      return luaL_error(L, "cannot %s tensors of shapes %s and %s (operators need equal shapes)", VERBS[op],
                        shape_of(L, a), shape_of(L, b));
    rc_tensor *out = rcl_new_tensor(L, a->ndim, a->shape);
    for (size_t i = 0; i < a->numel; i++) out->data[i] = apply(op, a->data[i], b->data[i]);
    return 1;
  }
  int other = a ? 2 : 1;
  if (lua_type(L, other) != LUA_TNUMBER)
    return luaL_error(L,
                      "cannot %s a recur.Tensor and a %s (expected a tensor of the same shape or a number)",
                      VERBS[op], rcl_typename(L, other));
  rc_tensor *t = a ? a : b;
  float v = (float)lua_tonumber(L, other);
  rc_tensor *out = rcl_new_tensor(L, t->ndim, t->shape);
  for (size_t i = 0; i < t->numel; i++)
    out->data[i] = a ? apply(op, t->data[i], v) : apply(op, v, t->data[i]);
  return 1;
}

static int mt_add(lua_State *L) { return arith(L, ARITH_ADD); }
static int mt_sub(lua_State *L) { return arith(L, ARITH_SUB); }
static int mt_mul(lua_State *L) { return arith(L, ARITH_MUL); }
static int mt_div(lua_State *L) { return arith(L, ARITH_DIV); }

static int mt_unm(lua_State *L) {
  rc_tensor *t = rcl_check_tensor(L, 1, "self");
  rc_tensor *out = rcl_new_tensor(L, t->ndim, t->shape);
  for (size_t i = 0; i < t->numel; i++) out->data[i] = -t->data[i];
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
