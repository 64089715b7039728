"""Task registry.

Built-in tasks are listed by import path and imported only when asked for, so ``clinrl tasks``
stays fast and a task's heavy dependencies load only when that task is used. Third-party packages
register tasks through the ``clinrl.tasks`` entry-point group::

    [project.entry-points."clinrl.tasks"]
    my_task = "my_package.my_module:MyTask"

or at run time with the :func:`register_task` decorator.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable

from clinrl.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from clinrl.tasks.base import Task

ENTRY_POINT_GROUP = "clinrl.tasks"

#: the task a recipe trains when it names none (and `clinrl quickstart`'s default through its recipe)
DEFAULT_TASK = "medcalc"

#: name -> "module:Class" of the tasks that ship with clinrl.
BUILTIN_TASKS: dict[str, str] = {
    "medcalc": "clinrl.tasks.medcalc:MedCalcTask",
    "trials": "clinrl.tasks.trials:TrialMatchingTask",
    "ehr": "clinrl.tasks.ehr:EHRDiagnosisTask",
    "rubric": "clinrl.tasks.rubric_qa:RubricQATask",
}

_registered: dict[str, type["Task"]] = {}


def register_task(name: str | None = None) -> Callable[[type["Task"]], type["Task"]]:
    """Class decorator that registers a task under ``name`` (default: the class's ``name``).

    A name already taken by another task class (registered, or built in) is refused; registering the same class
    again (its module imported twice) is allowed.
    """

    def decorator(cls: type["Task"]) -> type["Task"]:
        key = name or getattr(cls, "name", None)
        if not key:
            raise ConfigError(f"{cls.__name__} has no task name")
        where = f"{cls.__module__}:{cls.__qualname__}"
        taken = _registered.get(key)
        if taken is not None and f"{taken.__module__}:{taken.__qualname__}" != where:
            raise ConfigError(f"task name {key!r} is already registered by {taken.__module__}.{taken.__qualname__}; "
                              f"give {cls.__qualname__} another name")
        builtin = BUILTIN_TASKS.get(key)
        if taken is None and builtin is not None and not cls.__module__.startswith(builtin.partition(":")[0]):
            raise ConfigError(f"task name {key!r} belongs to the built-in task {builtin}; give {cls.__qualname__} "
                              "another name")
        _registered[key] = cls
        return cls

    return decorator


def _load_path(path: str) -> type["Task"]:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _entry_point_tasks() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def task_names() -> list[str]:
    """Names of every task that can be loaded: built-in, registered and entry points."""
    names = set(BUILTIN_TASKS) | set(_registered) | set(_entry_point_tasks())
    return sorted(names)


def get_task_class(name: str) -> type["Task"]:
    if name in _registered:
        return _registered[name]
    if name in BUILTIN_TASKS:
        cls = _load_path(BUILTIN_TASKS[name])
        _registered.setdefault(name, cls)
        return cls
    eps = _entry_point_tasks()
    if name in eps:
        cls = eps[name].load()
        _registered.setdefault(name, cls)
        return cls
    raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(task_names()) or '(none)'}")


def get_task(name: str, **options: Any) -> "Task":
    """Instantiate a registered task: ``get_task("medcalc", labels="official")``.

    An option the task does not take is a ``ConfigError`` that lists the options it does take.
    """
    cls = get_task_class(name)
    known = task_options(cls)
    unknown = [key for key in options if key not in known]
    if unknown:
        raise ConfigError(f"task {name!r} has no option {', '.join(map(repr, unknown))}; its options: "
                          f"{', '.join(known) or '(none)'}")
    return cls(**options)


def task_options(cls: type) -> list[str]:
    """The keyword options a task class takes, following ``**kwargs`` up to the base classes."""
    import inspect

    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if klass is object or init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]
        names += [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in names]
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def list_tasks() -> list[dict[str, str]]:
    """One line per task: name, version and the card's one-line summary."""
    rows = []
    for name in task_names():
        try:
            cls = get_task_class(name)
            card = getattr(cls, "card", None)
            rows.append({
                "name": name,
                "version": str(getattr(cls, "version", "")),
                "summary": card.summary if card else "",
            })
        except Exception as exc:  # a broken third-party task must not hide the others
            rows.append({"name": name, "version": "?", "summary": f"(failed to load: {exc})"})
    return rows
