"""Evaluation: generation backends, the harness and its eval log, metrics, diagnostics and reports.

    from clinrl.evaluation import HFBackend, run_eval
    result = run_eval(task, samples, HFBackend(model, tokenizer), out_dir="runs/x/eval/base")
    result.metrics["accuracy"], result.records[0]["completions"][0]["text"]
"""

from clinrl.evaluation.backends import Backend, Generation, HFBackend, OpenAIBackend, VLLMBackend
from clinrl.evaluation.harness import EvalResult, read_log, run_eval

__all__ = ["Backend", "EvalResult", "Generation", "HFBackend", "OpenAIBackend", "VLLMBackend", "read_log",
           "run_eval"]
