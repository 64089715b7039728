"""The terminal during a training run: clinrl's own lines and one live display per stage; the rest in RUN/train.log.

:class:`RunConsole` is entered once per command (``clinrl quickstart``, ``clinrl train sft|grpo``). While it
is active:

* clinrl's lines (``say``), the stage displays and the held-out results go to the terminal's stdout as it was
  when the run started;
* ``sys.stdout`` / ``sys.stderr`` (library progress bars, printed dicts), the transformers / datasets / TRL /
  accelerate / peft loggers and Python warnings go to ``RUN/train.log``, one timestamped line each (a progress
  bar's carriage-return updates collapse to its last state), together with every trainer log dict as JSON;
* clinrl's own warnings and library errors stay on the terminal, once each, in one line;
* ``verbose=True`` also passes the library output through to the terminal (the stage display then prints lines).

A new run directory must be empty when the run prepares it, so the log is buffered in memory until
``RUN/config.yaml`` exists and appended to ``RUN/train.log`` from then on. Without a TTY (CI logs, pipes)
the stage display prints plain, throttled progress lines instead of redrawing.

This module imports neither transformers nor torch; the trainer callback that feeds it lives in
:mod:`clinrl.training.callbacks`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

LOG_FILE = "train.log"
#: loggers whose records go to train.log instead of the terminal
LIBRARY_LOGGERS = ("transformers", "datasets", "trl", "accelerate", "peft", "huggingface_hub", "torch",
                   "tokenizers", "filelock", "urllib3", "matplotlib")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_active: "RunConsole | None" = None


def active() -> "RunConsole | None":
    """The run console that owns the terminal now, or None outside ``clinrl quickstart`` / ``train``."""
    return _active


def _stamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


class _Sink:
    """Timestamped lines for train.log; kept in memory until the run directory has been prepared."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / (LOG_FILE if _rank() == 0 else f"train.rank{_rank()}.log")
        self.ready_marker = Path(run_dir) / "config.yaml"
        self.buffer: list[str] = []
        self.handle: io.TextIOBase | None = None
        self.lock = threading.RLock()

    def try_attach(self) -> bool:
        if self.handle is None and self.ready_marker.is_file():
            self.handle = self.path.open("a", encoding="utf-8")
            self.handle.write("".join(self.buffer))
            self.handle.flush()
            self.buffer.clear()
        return self.handle is not None

    def write(self, source: str, text: str) -> None:
        lines = [f"{_stamp()} [{source}] {line}\n" for line in text.splitlines() or [""]]
        with self.lock:
            if self.handle is None and not self.try_attach():
                self.buffer.extend(lines)
                return
            self.handle.write("".join(lines))
            self.handle.flush()

    def close(self) -> None:
        with self.lock:
            self.try_attach()
            if self.handle is not None:
                self.handle.close()
                self.handle = None


class _LogStream(io.TextIOBase):
    """A stand-in for sys.stdout / sys.stderr: complete lines to the sink, optionally also to the terminal."""

    def __init__(self, sink: _Sink, source: str, real: Any, passthrough: bool):
        self.sink, self.source, self.real, self.passthrough = sink, source, real, passthrough
        self.partial = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:  # libraries that check draw plain output
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", None) or "utf-8"

    def fileno(self) -> int:
        return self.real.fileno()

    def write(self, text: str) -> int:
        if self.passthrough:
            self.real.write(text)
        *complete, self.partial = (self.partial + text).split("\n")
        for line in complete:
            self._emit(line)
        if len(self.partial) > 100_000:  # a progress bar that never ends its line: keep its last state only
            self.partial = self.partial.rsplit("\r", 1)[-1][-10_000:]
        return len(text)

    def _emit(self, line: str) -> None:
        # a progress bar redraws with carriage returns: its last state is the one worth keeping
        states = [s for s in _ANSI.sub("", line).split("\r") if s.strip()]
        if states:
            self.sink.write(self.source, states[-1].rstrip())

    def flush(self) -> None:
        if self.passthrough:
            self.real.flush()

    def close_partial(self) -> None:
        if self.partial:
            self._emit(self.partial)
            self.partial = ""


class _SinkHandler(logging.Handler):
    def __init__(self, console: "RunConsole"):
        super().__init__(logging.DEBUG)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed library log call must not stop training
            message = str(record.msg)
        self.console.log(record.name, f"{record.levelname}: {message}")
        if logging.WARNING <= record.levelno < logging.ERROR:
            self.console.library_warnings += 1
        elif record.levelno >= logging.ERROR:  # shown, so not counted as one more thing to look up
            self.console.warn_once(f"{record.name}: {message}", label="library error")


class RunConsole:
    """Owns the terminal for one training command; see the module docstring."""

    def __init__(self, run_dir: Path, *, verbose: bool = False, file: Any = None, err_file: Any = None,
                 summary_follows: bool = False):
        """``summary_follows``: the command prints the run's health warnings in its closing summary, so the run's
        own ``warning: …`` lines (:meth:`say`) go to train.log only; warnings raised live, during a stage, still
        show when they happen."""
        from rich.console import Console

        self.run_dir = Path(run_dir)
        self.verbose = verbose
        self.summary_follows = summary_follows
        self.out = file if file is not None else sys.stdout
        self.err = err_file if err_file is not None else sys.stderr
        self.console = Console(file=self.out)
        self.err_console = Console(file=self.err)
        self.sink = _Sink(self.run_dir)
        self.library_warnings = 0
        self.shown: set[str] = set()
        self.view: StageView | None = None
        self.main_process = _rank() == 0
        self._saved: dict[str, Any] = {}

    # -- the context --------------------------------------------------------------------------------
    def __enter__(self) -> "RunConsole":
        global _active
        self._saved = {"stdout": sys.stdout, "stderr": sys.stderr, "showwarning": warnings.showwarning,
                       "loggers": {}, "active": _active}
        self.streams = [_LogStream(self.sink, "stdout", sys.stdout, self.verbose),
                        _LogStream(self.sink, "stderr", sys.stderr, self.verbose)]
        sys.stdout, sys.stderr = self.streams
        handler = _SinkHandler(self)
        for name in LIBRARY_LOGGERS:
            logger = logging.getLogger(name)
            self._saved["loggers"][name] = (list(logger.handlers), logger.propagate)
            logger.handlers = [handler, *(logger.handlers if self.verbose else [])]
            logger.propagate = False
        warnings.showwarning = self._show_warning
        _active = self
        self.log("clinrl", f"run console: {self.run_dir} (verbose={self.verbose})")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        global _active
        if self.view is not None:
            self.view.finish()
        for stream in self.streams:
            stream.close_partial()
        sys.stdout, sys.stderr = self._saved["stdout"], self._saved["stderr"]
        warnings.showwarning = self._saved["showwarning"]
        for name, (handlers, propagate) in self._saved["loggers"].items():
            logger = logging.getLogger(name)
            logger.handlers, logger.propagate = handlers, propagate
        _active = self._saved["active"]
        if exc_type is not None:
            self.log("clinrl", f"stopped by {exc_type.__name__}: {exc}")
        attached = self.sink.try_attach()
        self.sink.close()
        if not attached or not self.main_process:
            return
        if exc_type is not None:
            self.err_console.print(f"library output of this run: {self.sink.path}", highlight=False, soft_wrap=True)
        elif self.library_warnings and not self.verbose:
            self.console.print(f"[dim]{self.library_warnings} library warning(s) in {self.sink.path} "
                               "(--verbose prints library output)[/]", highlight=False, soft_wrap=True)

    # -- output -------------------------------------------------------------------------------------
    def log(self, source: str, text: str) -> None:
        self.sink.write(source, text)

    def say(self, message: str) -> None:
        """One clinrl line on the terminal (and in train.log). A ``warning: …`` line goes through
        :meth:`warn_once`, so a health warning already shown live is not printed again before the summary."""
        from rich.markup import escape

        self.log("clinrl", message)
        if message.startswith("warning: "):
            if not self.summary_follows:
                self.warn_once(message[len("warning: "):])
        elif self.main_process:
            self.console.print(f"[bold cyan]clinrl[/] {escape(message)}", highlight=False, soft_wrap=True)

    def warn_once(self, message: str, *, label: str = "warning") -> None:
        from rich.markup import escape

        first_line = " ".join(str(message).split())
        if first_line in self.shown or not self.main_process:
            return
        self.shown.add(first_line)
        self.err_console.print(f"[bold yellow]{label}:[/] {escape(first_line)}", highlight=False, soft_wrap=True)

    def _show_warning(self, message: Any, category: type, filename: str, lineno: int, file: Any = None,
                      line: Any = None) -> None:
        self.log("warning", f"{category.__name__}: {message} ({filename}:{lineno})")
        if getattr(category, "__module__", "").startswith("clinrl"):
            self.warn_once(str(message))
        else:
            self.library_warnings += 1

    # -- stages and held-out results ----------------------------------------------------------------
    def stage_started(self, stage: str, total: int, start: int = 0) -> "StageView":
        if self.view is not None:
            self.view.finish()
        self.sink.try_attach()
        self.log("clinrl", f"stage {stage}: steps {start} → {total}")
        self.view = StageView(self, stage, total, start)
        return self.view

    def stage_finished(self) -> None:
        if self.view is not None:
            self.view.finish()
            self.view = None

    def heldout(self, rows: Sequence[dict[str, Any]], *, stage: str, step: int, final: bool,
                split: str = "held-out") -> None:
        """A held-out (or validation) evaluation finished: one line, and its headline number in the stage display."""
        if not rows:
            return
        text = "; ".join(heldout_summary(r) for r in rows)
        where = (f"{stage} final" + (f" (step {step})" if step else "")) if final else f"{stage} step {step}"
        self.log("clinrl", f"{split} {where}: {text}")
        for row in rows:
            self.log("heldout" if split == "held-out" else split, json.dumps(row, default=str))
        if self.view is not None and self.view.stage == stage:  # its step: the final evaluation may differ later
            self.view.set_heldout(f"{headline_short(rows, split)} ({'final' if final else f'step {step}'})")
        if self.main_process:
            from rich.markup import escape

            self.console.print(f"[bold cyan]{escape(split)}[/] {escape(where)}: {escape(text)}", highlight=False,
                               soft_wrap=True)

    def status(self, text: str) -> None:
        if self.view is not None:
            self.view.set_status(text)


# -- numbers in one line ----------------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    return float(value) if math.isfinite(value) else None


def _pct(value: Any) -> str:
    v = _num(value)
    return "–" if v is None else f"{100 * v:.1f}%"


def headline_short(rows: Sequence[dict[str, Any]], split: str = "held-out") -> str:
    """``"held-out accuracy 34.4%"`` (the task's headline metric where it has one) for the display."""
    parts = []
    for row in rows:
        headline = row.get("headline") or {}
        name = headline.get("name") or "accuracy"
        value = headline.get("value") if headline else row.get("accuracy")
        prefix = f"{row['task']} " if len(rows) > 1 else ""
        parts.append(f"{prefix}{name} {_pct(value) if name == 'accuracy' else _fmt(value)}")
    return f"{split} " + ", ".join(parts)


def heldout_summary(row: dict[str, Any]) -> str:
    parts = [f"{row.get('task')} accuracy {_pct(row.get('accuracy'))}"]
    ci = row.get("accuracy_ci")
    if ci and all(_num(c) is not None for c in ci):
        parts[-1] += f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    headline = row.get("headline") or {}
    if headline:
        parts.append(f"{headline.get('name')} {_fmt(headline.get('value'))}")
    parts.append(f"format {_pct(row.get('format_valid'))}")
    if row.get("paired_gain"):
        parts.append(gain_short(row["paired_gain"]))
    if row.get("n_unscored"):
        parts.append(f"{row['n_unscored']}/{row.get('n')} unscored")
    else:
        parts.append(f"n={row.get('n')}")
    return " · ".join(parts)


def gain_label(gain: dict[str, Any]) -> str:
    """What a held-out row's paired gain is measured against: ``"warm-up"`` (``sft``), else the stage's name."""
    stage = str(gain.get("from_stage") or "sft")
    return "warm-up" if stage == "sft" else stage


def gain_short(gain: dict[str, Any], *, label: bool = True) -> str:
    """``"vs warm-up +4.5 [-2.3, +11.4]"``: a held-out row's paired gain over the warm-up, in points."""
    delta, ci = _num(gain.get("delta")), gain.get("ci") or [None, None]
    head = f"vs {gain_label(gain)} " if label else ""
    if delta is None:
        return f"{head}–"
    interval = (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"
                if len(ci) == 2 and all(_num(c) is not None for c in ci) else "")
    return f"{head}{100 * delta:+.1f}{interval}"


def _fmt(value: Any, digits: int = 3) -> str:
    v = _num(value)
    if v is None:
        return "–"
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.1e}"
    return f"{v:.{digits}f}"


def stage_stats(stage: str, logs: dict[str, Any]) -> str:
    """The numbers a practitioner watches for a stage, from one trainer log dict."""
    parts = []
    if "reward" in logs:  # GRPO
        std = logs.get("reward_std_within_group", logs.get("reward_std"))
        parts.append(f"reward {_fmt(logs.get('reward'), 2)} ± {_fmt(std, 2)}")
        if "frac_reward_zero_std" in logs:
            parts.append(f"tied groups {_pct(logs['frac_reward_zero_std'])}")
        if "kl" in logs:
            parts.append(f"KL {_fmt(logs['kl'], 4)}")
        if "completions/mean_length" in logs:
            length = _num(logs["completions/mean_length"])
            parts.append(f"length {'–' if length is None else f'{length:.0f}'}"
                         + (f" (truncated {_pct(logs['completions/clipped_ratio'])})"
                            if "completions/clipped_ratio" in logs else ""))
    else:
        if "loss" in logs:
            parts.append(f"loss {_fmt(logs['loss'])}")
        if "mean_token_accuracy" in logs:
            parts.append(f"token accuracy {_pct(logs['mean_token_accuracy'])}")
    return " · ".join(parts)


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


STAGE_LABELS = {"sft": "SFT", "grpo": "GRPO"}


class StageView:
    """One stage's display: a redrawn bar and a line of numbers on a TTY, throttled plain lines otherwise."""

    def __init__(self, owner: RunConsole, stage: str, total: int, start: int):
        self.owner, self.stage, self.total, self.start = owner, stage, max(int(total), 1), int(start)
        self.step, self.stats, self.heldout, self.status_text = self.start, "", "", ""
        self.latest: dict[str, Any] = {}
        self.started = time.perf_counter()
        self.last_printed: int | None = None
        self.progress = None
        self.label = STAGE_LABELS.get(stage, stage)
        console = owner.console
        self.live = owner.main_process and console.is_terminal and not owner.verbose
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            from rich.text import Text

            view = self

            class _Progress(Progress):
                def get_renderables(self):  # the bar, then the stage's numbers on their own line
                    yield self.make_tasks_table(self.tasks)
                    line = " · ".join(p for p in (view.stats, view.heldout, view.status_text) if p)
                    if line:
                        yield Text("  " + line, style="dim" if not view.stats else "")

            # the ETA is the mean step time so far × steps left (rich's own estimate needs a 30 s window)
            self.progress = _Progress(TextColumn(f"[bold]{self.label}[/]"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("steps"), TimeElapsedColumn(), TextColumn("eta {task.fields[eta]}"),
                                      console=console, transient=False, refresh_per_second=4,
                                      redirect_stdout=False, redirect_stderr=False)  # library output → train.log
            self.task_id = self.progress.add_task(stage, total=self.total, completed=self.start, eta="–")
            self.progress.start()

    def eta(self) -> float | None:
        done = self.step - self.start
        if done <= 0:
            return None
        return (time.perf_counter() - self.started) / done * (self.total - self.step)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        parts = [f"{self.label} step {self.step}/{self.total}", f"{_clock(elapsed)} elapsed",
                 f"eta {_clock(self.eta())}", self.stats, self.heldout]
        return " · ".join(p for p in parts if p)

    def advance(self, step: int) -> None:
        self.step = int(step)
        if self.progress is not None:
            self.status_text = ""
            self.progress.update(self.task_id, completed=self.step, eta=_clock(self.eta()))

    def update(self, step: int, logs: dict[str, Any]) -> None:
        self.step = int(step)
        # the latest value of each number: the trainer's closing entry carries only what was not logged yet
        self.latest.update({k: v for k, v in logs.items() if not k.startswith("train_")})
        stats = stage_stats(self.stage, self.latest) if stage_stats(self.stage, logs) else ""
        if not stats:
            return
        self.stats = stats
        if self.progress is not None:
            self.progress.update(self.task_id, completed=self.step, eta=_clock(self.eta()))
            return
        every = max(1, self.total // 10)
        if self.last_printed is None or self.step - self.last_printed >= every or self.step >= self.total:
            self._print_line()

    def _print_line(self) -> None:
        self.last_printed = self.step
        if self.owner.main_process:
            from rich.markup import escape

            self.owner.console.print(escape(self.line()), highlight=False, soft_wrap=True)

    def set_heldout(self, text: str) -> None:
        self.heldout = text
        if self.progress is not None:
            self.progress.refresh()

    def set_status(self, text: str) -> None:
        self.status_text = text
        if self.progress is not None:
            self.progress.refresh()

    def finish(self) -> None:
        if self.progress is not None:
            self.status_text = ""
            self.progress.stop()
            self.progress = None
        elif self.last_printed != self.step and self.stats:
            self._print_line()
        self.owner.log("clinrl", self.line())
        if self.owner.view is self:
            self.owner.view = None
