"""What Python's ``eval`` would return for an expression, without calling ``eval``.

MedCalc-Bench's evaluator passes parts of a model's reply to ``eval`` (see
:mod:`clinrl.tasks.medcalc.official`). clinrl never evaluates model output as code. It parses the
text with Python's own parser (``ast.parse``, after removing the leading spaces and tabs ``eval``
ignores, so the syntax errors are exactly ``eval``'s) and walks the tree applying Python's real
operators and functions to plain values. For an expression in the supported subset the result is
``eval``'s result:

* constants: ``int``, ``float``, ``complex``, ``str``, ``bool``, ``None``; tuples and lists;
* unary and binary operators, comparisons (not ``is``), ``and`` / ``or`` / ``not``, ``x if c else y``;
* the names of a :class:`Namespace`, the public attributes of ``math``, a list of ``numpy`` functions,
  and calls of the functions a namespace allows.

Three outcomes: a value; :class:`EvalFailed` (``eval`` would raise: a syntax error, an unknown name,
a division by zero, a type error ...); :class:`Unsupported` (valid Python outside the subset, or an
integer too large to build here: what ``eval`` returns is not known, and callers report the answer
as unscored rather than guess).
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
from dataclasses import dataclass, field
from typing import Any

#: integers above this many bits are not built (the evaluator's ``str()`` refuses > 4,300 digits anyway)
MAX_INT_BITS = 1 << 17
MAX_SEQUENCE = 100_000
MAX_DEPTH = 200
MAX_COMBINATORIC_ARG = 5_000


class EvalFailed(Exception):
    """``eval`` would raise on this expression."""


class Unsupported(Exception):
    """Valid Python outside the reproduced subset (or beyond its size limits)."""


@dataclass(frozen=True)
class Namespace:
    """The names an ``eval`` call sees: ``values`` resolve; ``opaque`` names exist in the evaluator's
    namespace but are not reproduced (they give :class:`Unsupported`); any other name is a
    ``NameError``."""

    values: dict[str, Any]
    opaque: frozenset[str] = field(default_factory=frozenset)


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy comes with the training stack
        return None
    return numpy


#: numpy attributes reproduced (called with the real numpy on plain numbers and lists of numbers)
NUMPY_NAMES = frozenset({
    "sqrt", "exp", "log", "log10", "log2", "power", "abs", "absolute", "round", "around", "floor", "ceil",
    "mean", "pi", "e",
})
_BUILTIN_CALLABLES = {name: getattr(builtins, name) for name in (
    "abs", "round", "min", "max", "pow", "int", "float", "sum", "bool", "complex", "divmod", "len")}
_MATH_CALLABLES = frozenset(id(getattr(math, n)) for n in dir(math) if not n.startswith("_")
                            and callable(getattr(math, n)))
_SEQUENCES = (str, tuple, list)

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.BitAnd: operator.and_,
    ast.MatMult: operator.matmul,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Invert: operator.invert, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


def _is_int(x: Any) -> bool:
    return isinstance(x, int)  # bool included, as Python treats it


def _bits(x: int) -> int:
    return int(x).bit_length()


def _check_int_size(op: type, a: Any, b: Any) -> None:
    """Refuse integer results that would exceed :data:`MAX_INT_BITS` before computing them."""
    if not (_is_int(a) and _is_int(b)):
        return
    if op is ast.Mult:
        size = _bits(a) + _bits(b)
    elif op is ast.Pow:
        size = 0 if b < 0 or abs(a) <= 1 else b * _bits(a)
    elif op is ast.LShift:
        size = _bits(a) + max(b, 0)
    else:
        return
    if size > MAX_INT_BITS:
        raise Unsupported(f"an integer of about {size} bits")


def _check_value(value: Any) -> Any:
    """Values the walk may hold: plain Python data, numpy scalars, allowed functions and modules."""
    numpy = _numpy()
    if numpy is not None and isinstance(value, numpy.ndarray):
        raise Unsupported("a numpy array")
    if isinstance(value, _SEQUENCES) and len(value) > MAX_SEQUENCE:
        raise Unsupported("a very long sequence")
    return value


class _Walker:
    def __init__(self, namespace: Namespace) -> None:
        self.namespace = namespace

    def run(self, node: ast.AST, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise Unsupported("expression nested too deeply")
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise Unsupported(f"{type(node).__name__} expressions")
        return _check_value(method(node, depth + 1))

    def _Expression(self, node: ast.Expression, d: int) -> Any:
        return self.run(node.body, d)

    def _Constant(self, node: ast.Constant, d: int) -> Any:
        if node.value is None or type(node.value) in (int, float, complex, str, bool):
            return node.value
        raise Unsupported(f"{type(node.value).__name__} constants")

    def _Tuple(self, node: ast.Tuple, d: int) -> Any:
        return tuple(self.run(e, d) for e in node.elts)

    def _List(self, node: ast.List, d: int) -> Any:
        return [self.run(e, d) for e in node.elts]

    def _Name(self, node: ast.Name, d: int) -> Any:
        ns = self.namespace
        if node.id in ns.values:
            return ns.values[node.id]
        if node.id in ns.opaque:
            raise Unsupported(f"the name {node.id!r}")
        raise EvalFailed(f"NameError: name {node.id!r} is not defined")

    def _Attribute(self, node: ast.Attribute, d: int) -> Any:
        owner, name = self.run(node.value, d), node.attr
        numpy = _numpy()
        if owner is math:
            if name.startswith("_"):
                raise Unsupported(f"math.{name}")
            if not hasattr(math, name):
                raise EvalFailed(f"AttributeError: module 'math' has no attribute {name!r}")
            return getattr(math, name)
        if numpy is not None and owner is numpy:
            if name in NUMPY_NAMES:
                return getattr(numpy, name)
            if hasattr(numpy, name):
                raise Unsupported(f"numpy.{name}")
            raise EvalFailed(f"AttributeError: module 'numpy' has no attribute {name!r}")
        raise Unsupported(f"attribute {name!r} of a {type(owner).__name__}")

    def _UnaryOp(self, node: ast.UnaryOp, d: int) -> Any:
        value = self.run(node.operand, d)
        return _apply(_UNARY[type(node.op)], value)

    def _BinOp(self, node: ast.BinOp, d: int) -> Any:
        left = self.run(node.left, d)
        right = self.run(node.right, d)
        op = type(node.op)
        if isinstance(left, _SEQUENCES) or isinstance(right, _SEQUENCES):
            if op is ast.Mod and isinstance(left, str):
                raise Unsupported("string formatting with %")
            if op is ast.Mult:
                count, seq = (right, left) if isinstance(left, _SEQUENCES) else (left, right)
                if _is_int(count) and isinstance(seq, _SEQUENCES) and len(seq) * max(int(count), 0) > MAX_SEQUENCE:
                    raise Unsupported("a very long sequence")
        _check_int_size(op, left, right)
        return _apply(_BINOPS[op], left, right)

    def _BoolOp(self, node: ast.BoolOp, d: int) -> Any:
        is_and = isinstance(node.op, ast.And)
        value = None
        for operand in node.values:
            value = self.run(operand, d)
            truth = _apply(bool, value)
            if truth != is_and:  # `and` stops at the first false value, `or` at the first true one
                return value
        return value

    def _Compare(self, node: ast.Compare, d: int) -> Any:
        left = self.run(node.left, d)
        result: Any = True
        for op, right_node in zip(node.ops, node.comparators):
            if type(op) not in _COMPARE:
                raise Unsupported("identity comparisons (is / is not)")
            right = self.run(right_node, d)
            result = _check_value(_apply(_COMPARE[type(op)], left, right))
            if not _apply(bool, result):
                return result
            left = right
        return result

    def _IfExp(self, node: ast.IfExp, d: int) -> Any:
        test = self.run(node.test, d)
        return self.run(node.body if _apply(bool, test) else node.orelse, d)

    def _Call(self, node: ast.Call, d: int) -> Any:
        func = self.run(node.func, d)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise Unsupported("*args / **kwargs")
        args = [self.run(a, d) for a in node.args]
        kwargs = {k.arg: self.run(k.value, d) for k in node.keywords}
        if not callable(func):
            raise EvalFailed(f"TypeError: {type(func).__name__!r} object is not callable")
        _check_call(func, args, kwargs)
        return _apply(func, *args, **kwargs)


def _allowed_callable(func: Any) -> bool:
    if any(func is f for f in _BUILTIN_CALLABLES.values()) or id(func) in _MATH_CALLABLES:
        return True
    numpy = _numpy()
    return numpy is not None and any(func is getattr(numpy, n) for n in NUMPY_NAMES)


def _check_call(func: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    if not _allowed_callable(func):
        raise Unsupported(f"calling {getattr(func, '__name__', type(func).__name__)}")
    name = getattr(func, "__name__", "")
    values = list(args) + list(kwargs.values())
    if name == "pow" and len(values) == 2:
        base = args[0] if args else kwargs.get("base")
        exp = args[1] if len(args) > 1 else kwargs.get("exp")
        _check_int_size(ast.Pow, base, exp)
    if name in ("factorial", "comb", "perm") and any(_is_int(v) and abs(v) > MAX_COMBINATORIC_ARG for v in values):
        raise Unsupported(f"math.{name} of a large number")
    if name in ("prod", "lcm"):
        total = sum(_bits(v) for v in _flatten(values) if _is_int(v))
        if total > MAX_INT_BITS:
            raise Unsupported(f"math.{name} of large numbers")
    if name == "round" and len(values) == 2 and _is_int(values[0]) and _is_int(values[1]) and abs(values[1]) > 5_000:
        raise Unsupported("round() of an integer to very many digits")


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(_flatten(list(v)) if isinstance(v, (tuple, list)) else [v])
    return out


def _apply(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a real operator or allowed function; any exception it raises becomes :class:`EvalFailed`
    (the evaluator catches every exception of ``eval`` alike)."""
    numpy = _numpy()
    try:
        if numpy is not None and (isinstance(fn, numpy.ufunc) or str(getattr(fn, "__module__", "")).startswith("numpy")):
            with numpy.errstate(all="ignore"):
                return fn(*args, **kwargs)
        return fn(*args, **kwargs)
    except RecursionError:
        raise Unsupported("recursion too deep") from None
    except MemoryError:
        raise Unsupported("memory") from None
    except Exception as exc:
        raise EvalFailed(f"{type(exc).__name__}: {exc}") from None


def parse_for_eval(text: str) -> ast.Expression:
    """``ast.parse`` as ``eval`` parses a string: leading spaces and tabs are ignored."""
    try:
        return ast.parse(text.lstrip(" \t"), mode="eval")
    except (SyntaxError, ValueError) as exc:  # ValueError: a null byte in the source
        raise EvalFailed(f"{type(exc).__name__}: {exc}") from None
    except (RecursionError, MemoryError):
        raise Unsupported("expression too deeply nested to parse here") from None


def evaluate(text: str, namespace: Namespace) -> Any:
    """What ``eval(text, ...)`` returns with ``namespace``'s names; raises :class:`EvalFailed` or
    :class:`Unsupported` (see the module docstring)."""
    tree = parse_for_eval(text)
    try:
        return _Walker(namespace).run(tree)
    except RecursionError:
        raise Unsupported("expression too deeply nested") from None


def _evaluator_stage_one() -> Namespace:
    numpy = _numpy()
    values: dict[str, Any] = {"min": min, "pow": pow, "round": round, "abs": abs, "int": int, "float": float,
                              "math": math, "__builtins__": None}
    opaque: set[str] = set()
    if numpy is not None:
        values.update(np=numpy, numpy=numpy)
    else:  # pragma: no cover
        opaque.update({"np", "numpy"})
    return Namespace(values, frozenset(opaque))


def _evaluator_stage_two() -> Namespace:
    # check_correctness calls eval(answer) inside its module: the builtins, that module's globals and the
    # function's own arguments are visible. Only the plain builtins below are reproduced.
    module_names = {"re", "os", "argparse", "np", "pd", "datetime", "categories", "check_correctness",
                    "answer", "ground_truth", "calid", "upper_limit", "lower_limit", "__name__", "__file__",
                    "__doc__", "__builtins__", "__spec__", "__loader__", "__package__", "__cached__"}
    opaque = (set(dir(builtins)) | module_names) - set(_BUILTIN_CALLABLES)
    return Namespace(dict(_BUILTIN_CALLABLES), frozenset(opaque))


#: ``eval(expression, {"__builtins__": None}, {min, pow, round, abs, int, float, math, np, numpy})``: the
#: evaluator's reading of a ``str(...)`` answer
STAGE_ONE = _evaluator_stage_one()
#: a plain ``eval(text)`` in the evaluator's correctness check (Python's builtins visible)
STAGE_TWO = _evaluator_stage_two()
