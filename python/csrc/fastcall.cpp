// myops._fastcall: the eager-mode entry of the Python wrappers, a CPython extension (the only
// part of myops built against Python's headers and linked with torch_python; libmyops.so never
// is, and the package works without this module: python/myops/_args.py's eager_entry falls
// back to the op overload's own entry).
//
// Why: `torch.ops.myops.mul.default._op(a, b)` goes through torch's generic binding for
// dispatcher ops (pybind11, the overloaded-argument scan, createStackForSchema, a
// std::function, createPyObjectForStack): ~1.2-1.6 us more per call than `torch.mul`, whose
// binding is generated code. On tensors below ~256K elements that is most of a mul's time.
// An entry made here converts the positional arguments straight from the schema's types,
// calls the operator through the dispatcher (autograd, autocast, vmap, every backend and
// Python dispatch mode apply, as for any dispatcher call) and wraps the result.
//
// It declines, and calls the overload's own entry (`fallback`) with the same arguments,
// whenever anything is not the plain case: keyword arguments, a different argument count, a
// tensor with a __torch_function__ override or an active torch function mode, a number that is
// not exactly a Python int / float (bools, numpy scalars, SymInts), an int list that is not a
// list or tuple of such ints of the schema's length, a string that is not a str.
// So the semantics (error types and messages for bad arguments, __torch_function__, tracing)
// are the overload's, and only the common call is faster.
#include <Python.h>

#include <ATen/PythonTorchFunctionTLS.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <torch/csrc/Exceptions.h>
#include <torch/csrc/autograd/python_variable.h>

#include <string>
#include <vector>

namespace {

// How one schema argument is converted from Python (the types myops' wrappers pass).
enum class ArgKind { Tensor, OptionalTensor, Int, IntList, Float, OptionalFloat, Str, Bool };

// One schema argument: its kind, and for an int[N] list its length N (0: any).
struct ArgSpec {
  ArgKind kind;
  int64_t list_length = 0;
};

// How the returns are given back.
enum class ReturnKind { None, Tensor, TensorTuple };

bool arg_kind_of(const c10::TypePtr& type, ArgKind* kind) {
  if (type->kind() == c10::TypeKind::ListType) {
    const c10::TypePtr& element = type->castRaw<c10::ListType>()->getElementType();
    return element->kind() == c10::TypeKind::IntType ? (*kind = ArgKind::IntList, true) : false;
  }
  if (type->kind() == c10::TypeKind::OptionalType) {
    const c10::TypePtr& inner = type->castRaw<c10::OptionalType>()->getElementType();
    if (inner->kind() == c10::TypeKind::TensorType) return *kind = ArgKind::OptionalTensor, true;
    if (inner->kind() == c10::TypeKind::FloatType) return *kind = ArgKind::OptionalFloat, true;
    return false;
  }
  switch (type->kind()) {
    case c10::TypeKind::TensorType: return *kind = ArgKind::Tensor, true;
    case c10::TypeKind::IntType: return *kind = ArgKind::Int, true;
    case c10::TypeKind::FloatType: return *kind = ArgKind::Float, true;
    case c10::TypeKind::StringType: return *kind = ArgKind::Str, true;
    case c10::TypeKind::BoolType: return *kind = ArgKind::Bool, true;
    default: return false;
  }
}

bool return_kind_of(const std::vector<c10::Argument>& returns, ReturnKind* kind) {
  for (const c10::Argument& r : returns) {
    if (r.type()->kind() != c10::TypeKind::TensorType) return false;
  }
  *kind = returns.empty() ? ReturnKind::None : returns.size() == 1 ? ReturnKind::Tensor : ReturnKind::TensorTuple;
  return true;
}

// torch._C._disabled_torch_function_impl (set when the module is imported).
PyObject* disabled_torch_function = nullptr;

// A tensor the dispatcher may take as is: a torch.Tensor, or a subclass whose
// __torch_function__ is the disabled one (nn.Parameter). Other subclasses go through their
// __torch_function__ (torch's own check, torch::check_has_torch_function, is not exported).
bool plain_tensor(PyObject* obj) {
  if (THPVariable_CheckExact(obj)) return true;
  if (!THPVariable_Check(obj)) return false;
  PyObject* attr = PyObject_GetAttrString(obj, "__torch_function__");
  if (attr == nullptr) return PyErr_Clear(), false;
  const bool plain = attr == disabled_torch_function;
  Py_DECREF(attr);
  return plain;
}

// An exact Python int that fits int64_t; false otherwise (bool, numpy integers, SymInt, past int64).
bool plain_int(PyObject* obj, int64_t* value) {
  if (!PyLong_CheckExact(obj)) return false;
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
  if (overflow != 0 || (v == -1 && PyErr_Occurred())) return PyErr_Clear(), false;
  *value = static_cast<int64_t>(v);
  return true;
}

// One argument onto the stack; false: not the plain case (the entry declines).
bool push_arg(const ArgSpec& spec, PyObject* obj, torch::jit::Stack& stack) {
  switch (spec.kind) {
    case ArgKind::OptionalTensor:
      if (obj == Py_None) return stack.emplace_back(), true;
      [[fallthrough]];
    case ArgKind::Tensor:
      if (!plain_tensor(obj)) return false;
      return stack.emplace_back(THPVariable_Unpack(obj)), true;
    case ArgKind::Int: {
      int64_t v = 0;
      if (!plain_int(obj, &v)) return false;
      return stack.emplace_back(v), true;
    }
    case ArgKind::IntList: {  // a list or tuple of exact ints, of the schema's length if it has one
      if (!PyList_CheckExact(obj) && !PyTuple_CheckExact(obj)) return false;
      const Py_ssize_t n = PySequence_Fast_GET_SIZE(obj);
      if (spec.list_length != 0 && n != spec.list_length) return false;
      c10::List<int64_t> values;
      values.reserve(static_cast<size_t>(n));
      PyObject** items = PySequence_Fast_ITEMS(obj);
      for (Py_ssize_t i = 0; i < n; ++i) {
        int64_t v = 0;
        if (!plain_int(items[i], &v)) return false;
        values.push_back(v);
      }
      return stack.emplace_back(std::move(values)), true;
    }
    case ArgKind::OptionalFloat:
      if (obj == Py_None) return stack.emplace_back(), true;
      [[fallthrough]];
    case ArgKind::Float:
      if (!PyFloat_CheckExact(obj)) return false;  // (ints, numpy scalars, SymFloat: declined)
      return stack.emplace_back(PyFloat_AS_DOUBLE(obj)), true;
    case ArgKind::Str: {
      if (!PyUnicode_CheckExact(obj)) return false;
      Py_ssize_t size = 0;
      const char* s = PyUnicode_AsUTF8AndSize(obj, &size);
      if (s == nullptr) return PyErr_Clear(), false;
      return stack.emplace_back(std::string(s, static_cast<size_t>(size))), true;
    }
    case ArgKind::Bool:
      if (obj != Py_True && obj != Py_False) return false;
      return stack.emplace_back(obj == Py_True), true;
  }
  return false;
}

// The GIL released around the dispatcher call, as torch's own bindings do (and taken back
// before an exception leaves the call).
struct ReleaseGil {
  PyThreadState* state = PyEval_SaveThread();
  ~ReleaseGil() { PyEval_RestoreThread(state); }
};

struct Entry {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  c10::OperatorHandle* op;  // (owned; OperatorHandle has no default constructor)
  std::vector<ArgSpec>* args;
  ReturnKind returns;
  PyObject* fallback;  // the overload's own entry (OpOverload._op)
  PyObject* name;      // "myops::mul", for repr
};

PyObject* call_fallback(Entry* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

PyObject* wrap_returns(ReturnKind kind, torch::jit::Stack& stack) {
  switch (kind) {
    case ReturnKind::None: Py_RETURN_NONE;
    case ReturnKind::Tensor: return THPVariable_Wrap(std::move(stack.back()).toTensor());
    case ReturnKind::TensorTuple: {
      PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(stack.size()));
      if (tuple == nullptr) return nullptr;
      for (size_t i = 0; i < stack.size(); ++i) {
        PyObject* t = THPVariable_Wrap(std::move(stack[i]).toTensor());
        if (t == nullptr) return Py_DECREF(tuple), nullptr;
        PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), t);
      }
      return tuple;
    }
  }
  Py_RETURN_NONE;
}

PyObject* entry_call(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  Entry* self = reinterpret_cast<Entry*>(callable);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  const std::vector<ArgSpec>& kinds = *self->args;
  if (kwnames != nullptr || nargs != static_cast<Py_ssize_t>(kinds.size()) || at::impl::torch_function_mode_enabled()) {
    return call_fallback(self, args, nargsf, kwnames);
  }
  HANDLE_TH_ERRORS
  torch::jit::Stack stack;
  stack.reserve(kinds.size());
  for (Py_ssize_t i = 0; i < nargs; ++i) {
    if (!push_arg(kinds[i], args[i], stack)) return call_fallback(self, args, nargsf, kwnames);
  }
  {
    ReleaseGil no_gil;
    self->op->callBoxed(stack);
  }
  return wrap_returns(self->returns, stack);
  END_HANDLE_TH_ERRORS
}

void entry_dealloc(PyObject* obj) {
  Entry* self = reinterpret_cast<Entry*>(obj);
  delete self->op;
  delete self->args;
  Py_XDECREF(self->fallback);
  Py_XDECREF(self->name);
  Py_TYPE(obj)->tp_free(obj);
}

PyObject* entry_repr(PyObject* obj) {
  return PyUnicode_FromFormat("<myops._fastcall entry of %U>", reinterpret_cast<Entry*>(obj)->name);
}

PyTypeObject EntryType = [] {
  PyTypeObject t{PyVarObject_HEAD_INIT(nullptr, 0)};
  t.tp_name = "myops._fastcall.Entry";
  t.tp_basicsize = sizeof(Entry);
  t.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL;
  t.tp_vectorcall_offset = offsetof(Entry, vectorcall);
  t.tp_call = PyVectorcall_Call;
  t.tp_dealloc = entry_dealloc;
  t.tp_repr = entry_repr;
  t.tp_doc = "A dispatcher op's eager entry (myops._fastcall.entry).";
  return t;
}();

// entry(name, overload, fallback): the fast entry of the registered operator name.overload,
// or `fallback` itself where its schema has an argument or return type not handled here.
PyObject* make_entry(PyObject* /*module*/, PyObject* args) {
  const char* name = nullptr;
  const char* overload = nullptr;
  PyObject* fallback = nullptr;
  if (!PyArg_ParseTuple(args, "ssO:entry", &name, &overload, &fallback)) return nullptr;
  HANDLE_TH_ERRORS
  const c10::OperatorHandle op = c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
  const c10::FunctionSchema& schema = op.schema();
  std::vector<ArgSpec> kinds;
  ReturnKind returns = ReturnKind::None;
  for (const c10::Argument& a : schema.arguments()) {
    ArgKind kind;
    if (a.kwarg_only() || !arg_kind_of(a.type(), &kind)) return Py_NewRef(fallback);
    kinds.push_back({kind, a.N().value_or(0)});
  }
  if (schema.is_vararg() || schema.is_varret() || !return_kind_of(schema.returns(), &returns)) {
    return Py_NewRef(fallback);
  }
  Entry* self = PyObject_New(Entry, &EntryType);
  if (self == nullptr) return nullptr;
  self->vectorcall = entry_call;
  self->op = new c10::OperatorHandle(op);
  self->args = new std::vector<ArgSpec>(std::move(kinds));
  self->returns = returns;
  self->fallback = Py_NewRef(fallback);
  self->name = PyUnicode_FromFormat("%s.%s", name, overload[0] ? overload : "default");
  return reinterpret_cast<PyObject*>(self);
  END_HANDLE_TH_ERRORS
}

PyMethodDef methods[] = {
    {"entry", make_entry, METH_VARARGS,
     "entry(name, overload, fallback): the fast eager entry of the dispatcher op name.overload "
     "(or fallback, where its schema has types this module does not convert)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_fastcall", "myops' fast eager entries (see fastcall.cpp).",
                          -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__fastcall() {
  if (PyType_Ready(&EntryType) < 0) return nullptr;
  PyObject* torch_c = PyImport_ImportModule("torch._C");
  if (torch_c == nullptr) return nullptr;
  disabled_torch_function = PyObject_GetAttrString(torch_c, "_disabled_torch_function_impl");
  Py_DECREF(torch_c);
  if (disabled_torch_function == nullptr) return nullptr;
  return PyModule_Create(&module_def);
}
