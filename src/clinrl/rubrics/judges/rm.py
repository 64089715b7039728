"""The criterion-conditioned reward model (ProMedical's explicit criteria injection) and its ablation.

Input: ``[dimension] criterion`` as the first segment, ``instruction + response`` as the second, on any
Hugging Face sequence-classification backbone with one output (default: the embedded all-MiniLM-L6-v2).
The scalar says how well the response does *on that criterion* (for a safety item: how clearly it avoids
the violation). Training: a Bradley–Terry loss on preference pairs expanded into one instance per
criterion on which the two responses differ (K criteria → K instances), through TRL's ``RewardTrainer``
on pre-tokenised ``chosen_ids`` / ``rejected_ids`` (pair encodings built here, truncated to
``max_length`` with the longer segment shortened first).

Bradley–Terry scores are relative, so a **calibration** turns them into met / not-met: a logistic fit
``p(good) = σ(a·score + b)`` per dimension on held-out labelled responses (global fit as fall-back).
``judge`` then returns met = p(good) > 0.5 for proficiency / excellence items and met = p(good) < 0.5 for
safety items (met = violation, HealthBench's meaning).

The ablation (``conditioned=False``) scores ``instruction + response`` alone, trained on the same pairs
ordered by the full lexicographic rubric verdict; its calibration fits p(response is violation-free), which
is how it is asked the safety-veto question. It cannot judge single criteria.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from clinrl.errors import ConfigError, require
from clinrl.rubrics.judges.backbones import DEFAULT_BACKBONE, resolve_backbone
from clinrl.rubrics.judges.base import CriterionJudge, JudgeRequest, Verdicts
from clinrl.rubrics.schema import DIMENSIONS, SAFETY, RubricItem
from clinrl.rubrics.scoring import item_good
from clinrl.rubrics.synth import CriterionPair, PlainPair, SyntheticExample, criterion_pairs, plain_pairs

META_FILE = "clinrl_rm.json"


def criterion_text(item: RubricItem) -> str:
    return f"[{item.dimension}] {item.text}"


def response_text(instruction: str, response: str) -> str:
    return f"{instruction}\n\n{response}"


def fit_logistic(x: Sequence[float], y: Sequence[bool], *, l2: float = 1e-3, iters: int = 50) -> tuple[float, float]:
    """1-D logistic regression by Newton's method: ``p(y) = σ(a·x + b)``. Separable data stays finite (L2)."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xs) == 0:
        raise ConfigError("cannot calibrate on zero labelled scores")
    if ys.min() == ys.max():  # one class only: a steep step just outside the observed range
        return (0.0, 10.0 if ys[0] == 1 else -10.0)
    a, b = 1.0, 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(a * xs + b)))
        w = p * (1 - p) + 1e-9
        g = np.array([np.sum((p - ys) * xs) + l2 * a, np.sum(p - ys) + l2 * b])
        h = np.array([[np.sum(w * xs * xs) + l2, np.sum(w * xs)], [np.sum(w * xs), np.sum(w) + l2]])
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-8:
            break
    return (float(a), float(b))


def best_veto_threshold(p_good: Sequence[float], violated: Sequence[bool]) -> float:
    """The cut on p(good) that maximises safety-veto F1 on held-out labels (a violation is flagged when
    p(good) < cut). The logistic fit alone maximises accuracy, which on rare violations can mean never
    flagging one; the veto is judged on F1. Falls back to 0.5 without positives."""
    p, v = np.asarray(p_good, dtype=float), np.asarray(violated, dtype=bool)
    if len(p) == 0 or not v.any():
        return 0.5
    values = np.unique(p)
    cuts = np.concatenate([[0.5], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    best, best_f1 = 0.5, -1.0
    for cut in cuts:
        flagged = p < cut
        tp = int((flagged & v).sum())
        f1 = 2 * tp / (flagged.sum() + v.sum()) if tp else 0.0
        if f1 > best_f1 + 1e-12 or (abs(f1 - best_f1) <= 1e-12 and abs(cut - 0.5) < abs(best - 0.5)):
            best, best_f1 = float(cut), f1
    return best


@dataclass
class RMTrainConfig:
    """Reward-model training settings (defaults sized for a CPU run of a few minutes on MiniLM)."""

    backbone: str = DEFAULT_BACKBONE
    conditioned: bool = True
    #: ProMedical trains 2 epochs; on the synthetic data MiniLM needed ≈2.5 epochs of the expanded instances
    #: to beat the criterion-free ablation (BENCHMARKS.md): safety criteria are learnt last
    epochs: float = 2.5
    #: > 0 caps the optimiser steps (used to give the ablation the same compute as the conditioned model)
    max_steps: int = -1
    #: ProMedical's 5e-6 is for 8B models; a 22M encoder with a fresh head needs a larger step
    learning_rate: float = 1e-4
    batch_size: int = 8
    max_length: int = 256
    #: TRL's centring term keeps scores near 0 so one calibration fits all criteria
    center_rewards_coefficient: float = 0.01
    #: repeat the instances of rarer dimensions (up to 4×) to match the most frequent one: safety
    #: instances are the fewest (only responses that violate yield them) and the veto matters most
    balance_dimensions: bool = True
    #: freeze the embeddings and the first N encoder layers: a CPU-time saver (no backward pass through them)
    freeze_layers: int = 0
    warmup_ratio: float = 0.1
    seed: int = 0
    logging_steps: int = 10


class CriterionRewardModel(CriterionJudge):
    """A trained reward model used as a criterion judge (or, with ``conditioned=False``, the ablation)."""

    name = "rm"

    def __init__(self, model: Any, tokenizer: Any, *, conditioned: bool = True,
                 calibration: dict[str, tuple[float, float]] | None = None, max_length: int = 256,
                 batch_size: int = 32, info: dict[str, Any] | None = None, veto_threshold: float = 0.5) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.conditioned = conditioned
        #: a safety item counts as violated (the ablation: a response as unsafe) when p(good) < this
        self.veto_threshold = veto_threshold
        self.calibration = {k: tuple(v) for k, v in (calibration or {}).items()}
        self.max_length, self.batch_size = max_length, batch_size
        self.info = dict(info or {})
        self.model.eval()

    # -- scoring ------------------------------------------------------------------------------
    def encode(self, instruction: str, response: str, item: RubricItem | None) -> list[int]:
        if self.conditioned:
            if item is None:
                raise ConfigError("a criterion-conditioned reward model needs a criterion to score")
            enc = self.tokenizer(criterion_text(item), response_text(instruction, response), truncation="longest_first",
                                 max_length=self.max_length)
        else:
            enc = self.tokenizer(instruction, response, truncation="longest_first", max_length=self.max_length)
        return list(enc["input_ids"])

    def raw_scores(self, triples: Sequence[tuple[str, str, RubricItem | None]], *, progress: bool = False) -> np.ndarray:
        """Scalar scores for (instruction, response, item) triples, batched (longest first, less padding)."""
        torch = require("torch", "train")
        ids = [self.encode(ins, resp, item) for ins, resp, item in triples]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.zeros(len(ids), dtype=float)
        pad = self.tokenizer.pad_token_id or 0
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        iterator: Any = batches
        if progress:
            from rich.progress import track

            iterator = track(batches, description="scoring criteria")
        with torch.no_grad():
            for batch in iterator:
                width = max(len(ids[i]) for i in batch)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, :len(ids[i])] = torch.tensor(ids[i])
                    mask[row, :len(ids[i])] = 1
                device = _model_device(self.model)
                logits = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits[:, 0]
                out[batch] = logits.float().cpu().numpy()
        return out

    def _p_good(self, scores: np.ndarray, dimensions: Sequence[str]) -> np.ndarray:
        probs = np.empty(len(scores))
        for i, (s, dim) in enumerate(zip(scores, dimensions)):
            a, b = self.calibration.get(dim) or self.calibration.get("all") or (1.0, 0.0)
            probs[i] = 1 / (1 + math.exp(-max(-60.0, min(60.0, a * s + b))))
        return probs

    def windows(self, instruction: str, response: str, item: RubricItem) -> list[tuple[str, str]]:
        """``(instruction, response part)`` inputs that together cover the whole response.

        One input (the pair itself) when criterion + instruction + response fit ``max_length``. Otherwise the
        response is cut into windows that overlap by a quarter (a phrase on a boundary is seen whole), each
        beside the start of the instruction (at most a quarter of the room). Without this, everything past
        ``max_length`` tokens was never read: a late safety violation scored as safe."""
        tok = self.tokenizer
        first = criterion_text(item)
        if len(tok(first, response_text(instruction, response), verbose=False)["input_ids"]) <= self.max_length:
            return [(instruction, response)]
        room = self.max_length - len(tok(first)["input_ids"]) - 4   # the second [SEP], the blank line, slack
        instruction_ids = tok(instruction, add_special_tokens=False, verbose=False)["input_ids"]
        keep = min(len(instruction_ids), room // 4)
        width = room - keep
        if width < 8:
            return [(instruction, response)]                       # nothing sensible fits: plain truncation
        head = tok.decode(instruction_ids[:keep], skip_special_tokens=True) if keep < len(instruction_ids) \
            else instruction
        spans = _token_spans(tok, response)
        stride = max(1, width * 3 // 4)
        parts = []
        for start in range(0, len(spans), stride):
            end = min(start + width, len(spans))
            parts.append((head, response[spans[start][0]:spans[end - 1][1]]))
            if end == len(spans):
                break
        return parts or [(instruction, response)]

    def item_probabilities(self, requests: Sequence[JudgeRequest], *, progress: bool = False) -> list[list[float]]:
        """p(the response is on the good side of each item) for every request.

        A response longer than the model's input is judged window by window (:meth:`windows`): a safety item
        takes the *lowest* p(good) over the windows (a violation anywhere counts), any other item the highest
        (the behaviour shown anywhere counts)."""
        if not self.conditioned:
            raise ConfigError("the criterion-free reward model cannot score single criteria")
        triples, owners = [], []
        for r, (ins, resp, items) in enumerate(requests):
            for k, item in enumerate(items):
                for part_ins, part in self.windows(ins, resp, item):
                    triples.append((part_ins, part, item))
                    owners.append((r, k))
        probs = self._p_good(self.raw_scores(triples, progress=progress), [t[2].dimension for t in triples])
        out: list[list[float | None]] = [[None] * len(items) for _, _, items in requests]
        for (r, k), p in zip(owners, probs):
            item = requests[r][2][k]
            current = out[r][k]
            pick = min if item.dimension == SAFETY else max
            out[r][k] = float(p) if current is None else pick(current, float(p))
        return [[float(p) for p in row] for row in out]

    def judge(self, instruction: str, response: str, items: Sequence[RubricItem]) -> Verdicts:
        return self.judge_many([(instruction, response, items)])[0]

    def judge_many(self, requests: Sequence[JudgeRequest]) -> list[Verdicts]:
        out = []
        texts = [(ins, resp if isinstance(resp, str) else "", items) for ins, resp, items in requests]
        for (_, response, items), probs in zip(requests, self.item_probabilities(texts)):
            if not isinstance(response, str):   # not text: unscored, never "not met"
                out.append([None] * len(items))
                continue
            out.append([(p < self.veto_threshold) if item.dimension == SAFETY else (p > 0.5)
                        for item, p in zip(items, probs)])
        return out

    def response_scores(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Criterion-free scores (ablation only)."""
        if self.conditioned:
            raise ConfigError("response_scores is for the criterion-free reward model")
        return self.raw_scores([(ins, resp, None) for ins, resp in pairs])

    def p_safe(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Ablation: p(response is violation-free) from its calibrated scalar score."""
        return self._p_good(self.response_scores(pairs), ["all"] * len(pairs))

    # -- calibration --------------------------------------------------------------------------
    def calibrate(self, examples: Sequence[SyntheticExample]) -> dict[str, tuple[float, float]]:
        """Fit the logistic calibration on labelled responses (per dimension, plus ``all``)."""
        if self.conditioned:
            triples, goods = [], []
            for ex in examples:
                for resp in ex.responses:
                    for item, met in zip(ex.rubric.items, resp.labels):
                        triples.append((ex.rubric.instruction, resp.text, item))
                        goods.append(item_good(item, met))
            scores = self.raw_scores(triples)
            dims = np.array([t[2].dimension for t in triples])
            goods_arr = np.array(goods)
            cal = {"all": fit_logistic(scores, goods_arr)}
            for dim in DIMENSIONS:
                sel = dims == dim
                if sel.sum() >= 10 and 0 < goods_arr[sel].sum() < sel.sum():
                    cal[dim] = fit_logistic(scores[sel], goods_arr[sel])
            self.calibration = cal
            sel = dims == SAFETY
            self.veto_threshold = best_veto_threshold(self._p_good(scores[sel], [SAFETY] * int(sel.sum())),
                                                      ~goods_arr[sel])
        else:
            pairs = [(ex.rubric.instruction, r.text) for ex in examples for r in ex.responses]
            safe = np.array([s.s3 == 0 for ex in examples for s in ex.scores()])
            scores = self.response_scores(pairs)
            self.calibration = {"all": fit_logistic(scores, safe)}
            self.veto_threshold = best_veto_threshold(self._p_good(scores, ["all"] * len(scores)), ~safe)
        return self.calibration

    def calibrate_pairs(self, pairs: Sequence[CriterionPair]) -> dict[str, tuple[float, float]]:
        """Calibrate on criterion instances: the chosen response is on the good side of its criterion,
        the rejected one on the bad side (what ``clinrl pairs build`` writes)."""
        if not self.conditioned:
            raise ConfigError("the criterion-free model calibrates on labelled responses (calibration examples)")
        triples = [(p.instruction, text, p.item) for p in pairs for text in (p.chosen, p.rejected)]
        goods = np.array([good for _ in pairs for good in (True, False)])
        scores = self.raw_scores(triples)
        dims = np.array([t[2].dimension for t in triples])
        cal = {"all": fit_logistic(scores, goods)}
        for dim in DIMENSIONS:
            sel = dims == dim
            if sel.sum() >= 10:
                cal[dim] = fit_logistic(scores[sel], goods[sel])
        self.calibration = cal
        sel = dims == SAFETY
        self.veto_threshold = best_veto_threshold(self._p_good(scores[sel], [SAFETY] * int(sel.sum())), ~goods[sel])
        return cal

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        meta = {"conditioned": self.conditioned, "calibration": self.calibration, "max_length": self.max_length,
                "veto_threshold": self.veto_threshold, "info": self.info}
        (path / META_FILE).write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path, *, batch_size: int = 32, device: str = "auto") -> "CriterionRewardModel":
        path = Path(path)
        if not (path / META_FILE).exists():
            raise ConfigError(f"{path} is not a clinrl reward model (no {META_FILE}); train one with `clinrl train rm`")
        transformers = require("transformers", "train")
        meta = json.loads((path / META_FILE).read_text())
        from clinrl.device import resolve_placement

        where = resolve_placement(device, "auto")  # scoring: bf16 on a capable GPU, float32 elsewhere
        model = transformers.AutoModelForSequenceClassification.from_pretrained(path, dtype=where.dtype)
        model.to(where.device)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        return cls(model, tokenizer, conditioned=meta["conditioned"], calibration=meta.get("calibration"),
                   max_length=meta.get("max_length", 256), batch_size=batch_size, info=meta.get("info"),
                   veto_threshold=float(meta.get("veto_threshold", 0.5)))


def _token_spans(tokenizer: Any, text: str) -> list[tuple[int, int]]:
    """Character span of every token of ``text`` (estimated evenly when the tokenizer gives no offsets)."""
    try:
        spans = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)["offset_mapping"]
        return [(int(a), int(b)) for a, b in spans]
    except (NotImplementedError, TypeError, KeyError):
        n = max(1, len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]))
        step = len(text) / n
        return [(int(i * step), int((i + 1) * step)) for i in range(n)]


def load_backbone(spec: str, *, seed: int = 0) -> tuple[Any, Any]:
    transformers = require("transformers", "train")
    require("torch", "train").manual_seed(seed)
    path = resolve_backbone(spec)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        raise ConfigError(f"backbone {spec!r} has no padding token")
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def balance_by_dimension(pairs: Sequence[CriterionPair], max_factor: int = 4) -> list[CriterionPair]:
    """Repeat each dimension's instances (cyclically, in order) towards the largest dimension's count,
    at most ``max_factor`` times its own size."""
    groups: dict[str, list[CriterionPair]] = {}
    for p in pairs:
        groups.setdefault(p.item.dimension, []).append(p)
    if not groups:
        return list(pairs)
    target = max(len(g) for g in groups.values())
    out = []
    for group in groups.values():
        n = min(target, len(group) * max_factor)
        out.extend(group[i % len(group)] for i in range(n))
    return out


def freeze_bottom(model: Any, n_layers: int) -> int:
    """Freeze the embeddings and the first ``n_layers`` transformer layers; returns the layers frozen."""
    base = getattr(model, model.base_model_prefix, model)
    layers = getattr(getattr(base, "encoder", None), "layer", None) or getattr(base, "layers", None)
    if layers is None:
        raise ConfigError(f"cannot find the transformer layers of {type(model).__name__} to freeze")
    n_layers = min(n_layers, len(layers) - 1)   # the top layer always trains (the tiny backbone has 2)
    for module in [base.get_input_embeddings(), *list(layers)[:n_layers]]:
        for param in module.parameters():
            param.requires_grad_(False)
    embeddings = getattr(base, "embeddings", None)   # BERT-style: position / type embeddings and LayerNorm
    if embeddings is not None:
        for param in embeddings.parameters():
            param.requires_grad_(False)
    return n_layers


def train_reward_model(train: Sequence[SyntheticExample], config: RMTrainConfig | None = None, *,
                       calibration: Sequence[SyntheticExample] | None = None, output_dir: str | Path | None = None,
                       progress: bool = True, pairs: Sequence[Any] | None = None,
                       calibration_pairs: Sequence[CriterionPair] | None = None) -> CriterionRewardModel:
    """Train (and calibrate) a reward model with TRL's ``RewardTrainer``.

    Training data: labelled examples ``train`` (expanded into criterion instances or plain pairs here), or
    ready ``pairs`` (:class:`CriterionPair` for the conditioned model, :class:`PlainPair` for the ablation,
    e.g. from ``clinrl pairs build``). Calibration: labelled ``calibration`` examples (use a held-out
    split), else held-out ``calibration_pairs`` (criterion instances: chosen = good side, rejected = bad
    side), else the training examples (optimistic). ``output_dir`` receives the trainer state and the model.
    """
    import tempfile

    config = config or RMTrainConfig()
    datasets = require("datasets", "train")
    trl = require("trl", "train")
    from clinrl.device import resolve_placement

    where = resolve_placement("auto", "auto")  # float32 master weights; bf16 autocast on a capable GPU
    model, tokenizer = load_backbone(config.backbone, seed=config.seed)
    if config.freeze_layers:
        freeze_bottom(model, config.freeze_layers)
    rm = CriterionRewardModel(model, tokenizer, conditioned=config.conditioned, max_length=config.max_length,
                              info={"train": asdict(config), "n_train_examples": len(train)})
    if pairs is None:
        pairs = criterion_pairs(train) if config.conditioned else plain_pairs(train)
    wanted = CriterionPair if config.conditioned else PlainPair
    if any(not isinstance(p, wanted) for p in pairs):
        raise ConfigError(f"a {'criterion-conditioned' if config.conditioned else 'criterion-free'} reward model "
                          f"trains on {wanted.__name__} rows")
    if config.conditioned and config.balance_dimensions:
        pairs = balance_by_dimension(pairs)
    rows = [{"chosen_ids": rm.encode(p.instruction, p.chosen, getattr(p, "item", None)),
             "rejected_ids": rm.encode(p.instruction, p.rejected, getattr(p, "item", None))} for p in pairs]
    if not rows:
        raise ConfigError("no preference pairs in the training examples (every response pair tied)")
    rm.info["n_train_instances"] = len(rows)
    out = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="clinrl-rm-"))
    args = trl.RewardConfig(
        output_dir=str(out / "trainer"), num_train_epochs=config.epochs, max_steps=config.max_steps,
        learning_rate=config.learning_rate, per_device_train_batch_size=config.batch_size,
        max_length=config.max_length, center_rewards_coefficient=config.center_rewards_coefficient,
        warmup_steps=config.warmup_ratio, seed=config.seed, logging_steps=config.logging_steps,
        use_cpu=where.on_cpu, bf16=not where.on_cpu and where.dtype_name == "bfloat16", report_to="none",
        save_strategy="no",
        disable_tqdm=not progress, dataloader_num_workers=0,
    )
    trainer = trl.RewardTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                                processing_class=tokenizer)
    result = trainer.train()
    if output_dir:
        trainer.state.save_to_json(str(out / "trainer" / "trainer_state.json"))
    rm.model = trainer.model
    rm.model.eval()
    rm.info["train_loss"] = float(result.training_loss)
    rm.info["train_steps"] = int(result.global_step)
    if calibration:
        rm.calibrate(calibration)
    elif calibration_pairs:
        rm.calibrate_pairs(calibration_pairs)
    elif train:
        rm.calibrate(train)
    else:
        raise ConfigError("nothing to calibrate on: pass labelled calibration examples or held-out criterion pairs")
    if output_dir:
        rm.save(out / "model")
    return rm


def _model_device(model) -> "torch.device":
    """Where ``model``'s weights live: a transformers model says so; any other module, by its first parameter."""
    import torch

    device = getattr(model, "device", None)
    if device is not None:
        return device
    first = next(iter(model.parameters()), None)
    return first.device if first is not None else torch.device("cpu")
