"""``clinrl rubrics …``, ``clinrl review …`` and ``clinrl pairs build``: building rubric benchmarks
with physicians in the loop."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from clinrl.cli.app import app
from clinrl.cli.output import JSON_HELP, echo_json, print_table
from clinrl.errors import ConfigError

console = Console()
DEFAULT_DB = "sqlite:///runs/review/review.db"
DB_HELP = "SQLAlchemy URL of the review database (default: a local SQLite file; any server URL for a team)."

rubrics_app = typer.Typer(help="Build rubrics: instruction pool, LLM drafting, export.", no_args_is_help=True)
review_app = typer.Typer(help="Physician review of rubrics and double-blind adjudication (web app).",
                         no_args_is_help=True)
adjudication_app = typer.Typer(help="Double-blind criterion labelling of model responses.", no_args_is_help=True)
pairs_app = typer.Typer(help="Preference pairs for the criterion-conditioned reward model.", no_args_is_help=True)
app.add_typer(rubrics_app, name="rubrics")
app.add_typer(review_app, name="review")
review_app.add_typer(adjudication_app, name="adjudication")
app.add_typer(pairs_app, name="pairs")


def _store(db: str, *, must_exist: bool = False):
    """Open the review database. Commands that only read it (stats, exports) pass ``must_exist``, so a
    mistyped ``--db`` path is an error instead of a fresh, empty database that reports nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from clinrl.review.store import ReviewStore

    if db.startswith("sqlite:///") and db[len("sqlite:///"):] not in ("", ":memory:"):
        path = Path(db[len("sqlite:///"):])
        if must_exist and not path.is_file():
            raise ConfigError(f"--db {db}: no review database at {path}; `clinrl review add-user` or "
                              "`clinrl review import` creates one")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return ReviewStore(db)
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"--db {db}: cannot open the review database ({reason})") from None
    except ImportError as exc:  # a server URL whose driver is not installed
        raise ConfigError(f"--db {db}: the database driver is not installed ({exc}); install it into this "
                          "environment (e.g. pip install psycopg for postgresql://)") from None


def _client(base_url: Optional[str], model: str, cache: Optional[Path]):
    from clinrl.llm import ChatClient

    return ChatClient(base_url=base_url, model=model, cache_dir=cache)


def _read_rubrics(path: Path):
    from clinrl.review.uploads import parse_rubric_jsonl

    return parse_rubric_jsonl(path.read_bytes(), source=str(path))


# -- clinrl rubrics ---------------------------------------------------------------------------------
@rubrics_app.command("pool")
def rubrics_pool(
    inputs: List[str] = typer.Argument(..., help="Instruction files (JSONL/CSV/parquet) or hub dataset ids."),
    out: Path = typer.Option(..., "--out", "-o", help="Pool JSONL: every instruction with difficulty, category "
                             "and duplicate marks (nothing is dropped)."),
    kept: Optional[Path] = typer.Option(None, help="Also write the instructions inside the band here."),
    dedup_threshold: float = typer.Option(0.92, help="Cosine similarity (MiniLM embeddings) at which an "
                                          "instruction counts as a near duplicate of an earlier one."),
    low: int = typer.Option(5, help="Lowest difficulty kept (ProMedical kept 5-9 on 0-10)."),
    high: int = typer.Option(9, help="Highest difficulty kept."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint for difficulty scoring "
                                           "(default $CLINRL_LLM_BASE_URL; without one, scoring is skipped)."),
    model: str = typer.Option("default", help="Model name sent to the endpoint."),
    cache: Optional[Path] = typer.Option(Path("runs/llm-cache"), help="On-disk cache of LLM replies (resume)."),
) -> None:
    """Ingest instructions, mark near duplicates, score difficulty 0-10 with an LLM, keep a band."""
    import os

    from clinrl.curation.pool import ingest, mark_near_duplicates, score_difficulty, select_band, write_pool

    pool = ingest(inputs)
    console.print(f"{len(pool)} instructions read")
    marked = mark_near_duplicates(pool, threshold=dedup_threshold)
    console.print(f"{marked} near duplicates marked (threshold {dedup_threshold})")
    if base_url or os.environ.get("CLINRL_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL"):
        counts = score_difficulty(pool, _client(base_url, model, cache))
        console.print(f"difficulty: {counts['scored']} scored, {counts['unscored']} unscored (failed calls)")
    else:
        console.print("[yellow]no LLM endpoint configured: difficulty not scored[/] (pass --base-url)")
    selected, reasons = select_band(pool, low, high)
    write_pool(out, pool)
    if kept:
        write_pool(kept, selected)
    console.print("band {}-{}: ".format(low, high) + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    console.print(f"wrote {out}" + (f" and {kept}" if kept else ""))


@rubrics_app.command("draft")
def rubrics_draft(
    pool_file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                     help="Pool JSONL from `clinrl rubrics pool` (its kept file)."),
    out: Path = typer.Option(..., "--out", "-o", help="Valid drafts (clinrl rubric JSONL), appended as they finish."),
    flagged: Path = typer.Option(None, help="Drafts still invalid after re-asking (default: OUT.flagged.jsonl)."),
    db: Optional[str] = typer.Option(None, help="Review database whose approved rubrics form the few-shot pool."),
    examples: Optional[Path] = typer.Option(None, help="Few-shot rubrics from a JSONL instead of a database."),
    k: int = typer.Option(3, help="Few-shot examples per request."),
    max_attempts: int = typer.Option(3, help="Requests per instruction before a draft is flagged."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint (default $CLINRL_LLM_BASE_URL)."),
    model: str = typer.Option("default", help="Model name sent to the endpoint."),
    cache: Optional[Path] = typer.Option(Path("runs/llm-cache"), help="On-disk cache of LLM replies."),
    round: int = typer.Option(0, help="If > 0, also queue the valid drafts for review in this round of --db."),
    keep_failures: bool = typer.Option(False, "--keep-failures", help="Keep instructions whose requests failed "
                                       "(endpoint down, timeouts) as flagged; by default they are drafted again."),
) -> None:
    """Draft a rubric per instruction from the expert prompt and the approved few-shot pool.

    Resumable: instructions already in OUT or flagged as invalid are skipped; those whose requests failed
    (an outage) are drafted again."""
    from clinrl.curation.drafting import draft_all
    from clinrl.curation.pool import read_pool

    pool = [inst for inst in read_pool(pool_file) if inst.duplicate_of is None]
    few = _store(db, must_exist=round <= 0).fewshot_pool() if db else (_read_rubrics(examples) if examples else [])
    console.print(f"{len(pool)} instructions, {len(few)} few-shot rubrics")
    flagged = flagged or out.with_suffix(".flagged.jsonl")
    counts = draft_all(pool, _client(base_url, model, cache), few, out=out, flagged=flagged, k=k,
                       max_attempts=max_attempts, keep_failures=keep_failures)
    failures = counts.pop("failures")
    console.print(", ".join(f"{key} {value}" for key, value in counts.items()))
    if failures:
        from rich.markup import escape

        console.print("[yellow]failed requests (drafted again on the next run):[/] "
                      + escape("; ".join(f"{k} ×{v}" for k, v in failures.items())), highlight=False)
    if round > 0:
        if not db:
            raise ConfigError("--round needs --db")
        from clinrl.review.store import ReviewError

        store, added = _store(db), 0
        queued = {d.rubric_id for d in store.queue(status=None)}
        fresh = [r for r in _read_rubrics(out) if r.id not in queued] if out.exists() else []
        if fresh:
            try:
                added = store.add_drafts(fresh, round=round)
            except ReviewError as exc:
                raise ConfigError(str(exc)) from exc
        console.print(f"{added} drafts queued for review in round {round}")


@rubrics_app.command("export")
def rubrics_export(
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL."),
    db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
    fmt: str = typer.Option("clinrl", "--format", help="clinrl (rubric schema) or healthbench."),
) -> None:
    """Export the approved rubrics (the few-shot pool) for training and benchmarks."""
    from clinrl.rubrics.formats import write_rubrics

    rubrics = _store(db, must_exist=True).fewshot_pool()
    n = write_rubrics(out, rubrics, fmt)
    console.print(f"wrote {n} approved rubric(s) to {out} ({fmt})")


# -- clinrl review ----------------------------------------------------------------------------------
@review_app.command("serve")
def review_serve(
    db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
    host: str = typer.Option("127.0.0.1", help="Interface to bind. The default serves this machine only; "
                             "bind a network interface only behind your own access controls. Off loopback, "
                             "cookies are marked Secure, so browsers log in only over HTTPS."),
    port: int = typer.Option(8765, help="Port."),
    ssl_certfile: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                                help="Serve HTTPS with this certificate (PEM)."),
    ssl_keyfile: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                               help="Private key (PEM) of --ssl-certfile."),
    trusted_origin: List[str] = typer.Option([], help="Extra origin allowed to post forms, e.g. the public "
                                             "https://review.example.org of a reverse proxy that rewrites Host "
                                             "(repeatable)."),
) -> None:
    """Run the review web app. Add reviewers first with `clinrl review add-user`."""
    import uvicorn

    from clinrl.review.security import is_loopback, origin_of
    from clinrl.review.web import create_app

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise ConfigError("--ssl-certfile and --ssl-keyfile go together")
    for origin in trusted_origin:
        if origin_of(origin) is None:
            raise ConfigError(f"--trusted-origin {origin!r}: give an origin such as https://review.example.org")
    store = _store(db)
    local = is_loopback(host)
    scheme = "https" if ssl_certfile else "http"
    console.print(f"clinrl review on {scheme}://{host}:{port}  (database {db}; Ctrl+C to stop)")
    if not local and not ssl_certfile:
        console.print("[yellow]not a loopback address: session cookies are marked Secure, so browsers log in "
                      "only over HTTPS[/] (put a TLS proxy in front, or pass --ssl-certfile and --ssl-keyfile)")
    options = {"ssl_certfile": str(ssl_certfile), "ssl_keyfile": str(ssl_keyfile)} if ssl_certfile else {}
    uvicorn.run(create_app(store, secure_cookies=not local, trusted_origins=trusted_origin), host=host, port=port,
                log_level="warning", **options)


@review_app.command("add-user")
def review_add_user(
    username: str = typer.Argument(..., help="Login name."),
    admin: bool = typer.Option(False, help="Admins can upload rubrics in the web app."),
    password_stdin: bool = typer.Option(False, help="Read the password from standard input (for scripts)."),
    db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
) -> None:
    """Create a reviewer account (password of at least 8 characters)."""
    from clinrl.review.store import ReviewError

    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    try:
        _store(db).add_reviewer(username, password, admin=admin)
    except ReviewError as exc:
        raise ConfigError(str(exc)) from exc
    console.print(f"reviewer {username!r} created" + (" (admin)" if admin else ""))


@review_app.command("import")
def review_import(
    rubrics: Path = typer.Argument(..., exists=True, dir_okay=False,
                                   help="Rubric JSONL (clinrl format), e.g. from `rubrics draft`."),
    round: int = typer.Option(1, min=1, max=100_000, help="Review round (statistics are reported per round)."),
    db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
) -> None:
    """Queue rubrics for review. The whole file is validated first; nothing is added if any line is bad."""
    from clinrl.review.store import ReviewError

    try:
        added = _store(db).add_drafts(_read_rubrics(rubrics), round=round)
    except ReviewError as exc:
        raise ConfigError(str(exc)) from exc
    console.print(f"{added} rubric(s) queued in round {round}")


@review_app.command("stats")
def review_stats(db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
                 as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Per-round pass rate, edit distance and time per rubric."""
    from clinrl.review.stats import round_stats

    stats = round_stats(_store(db, must_exist=True))
    if as_json:
        echo_json(stats)
        return
    pct = (lambda v: "-" if v is None else f"{100 * v:.0f}%")
    rows = [[str(r["round"]), str(r["total"]), str(r["pending"]), str(r["approved"]), str(r["rejected"]),
             pct(r["pass_rate"]), pct(r["edited_fraction"]),
             "-" if r["mean_edit_distance"] is None else f"{r['mean_edit_distance']:.3f}",
             "-" if r["median_seconds_per_rubric"] is None else f"{r['median_seconds_per_rubric']:.0f}"]
            for r in stats]
    columns = ["round", "total", "pending", "approved", "rejected", "pass rate", "edited", "edit distance",
               "median s/rubric"]
    print_table(console, columns, rows, title="review rounds", right=columns[1:])


@review_app.command("export")
def review_export(
    out: Path = typer.Option(..., "--out", "-o", help="Output JSONL: every reviewed rubric with its decision."),
    db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
) -> None:
    """Export review records: original draft, final rubric, status, reason, round, time spent."""
    from clinrl.data.tables import write_jsonl

    rows = _store(db, must_exist=True).round_rows()
    write_jsonl(out, rows)
    console.print(f"wrote {len(rows)} review record(s) to {out}")


@adjudication_app.command("add")
def adjudication_add(
    rubrics: Path = typer.Option(..., exists=True, dir_okay=False,
                                 help="Rubric JSONL the responses are graded against."),
    candidates: Path = typer.Option(..., exists=True, dir_okay=False,
                                    help='JSONL of {"rubric_id", "model", "response"}.'),
    first: str = typer.Option(..., help="First reviewer (user name)."),
    second: str = typer.Option(..., help="Second reviewer; must differ from the first."),
    third: Optional[str] = typer.Option(None, help="Third reviewer, who settles disagreements."),
    db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
) -> None:
    """Queue anonymised responses for independent criterion labelling by two reviewers."""
    from clinrl.curation.pairs import read_candidates
    from clinrl.review.store import DuplicateItem

    by_id = {r.id: r for r in _read_rubrics(rubrics)}
    store = _store(db)
    items = read_candidates(str(candidates), set(by_id))
    for name in filter(None, (first, second, third)):
        store.reviewer_id(name)  # every reviewer checked before anything is queued
    added = skipped = 0
    for c in items:
        try:
            store.add_adjudication_item(by_id[c.rubric_id], c.response, c.model, first=first, second=second,
                                        third=third)
            added += 1
        except DuplicateItem:
            skipped += 1
    console.print(f"{added} response(s) queued for {first} and {second}" + (f" (third: {third})" if third else "")
                  + (f"; {skipped} already queued, skipped" if skipped else ""))


@adjudication_app.command("export")
def adjudication_export(
    out: Path = typer.Option(..., "--out", "-o", help="Benchmark JSONL: rubric, response, model, final labels."),
    db: str = typer.Option(DEFAULT_DB, help=DB_HELP),
) -> None:
    """Export the adjudicated benchmark and print the two reviewers' agreement (Cohen's κ)."""
    from clinrl.review.stats import adjudication_agreement

    from clinrl.data.tables import write_jsonl

    rows = _store(db, must_exist=True).adjudication_export()
    write_jsonl(out, ({"rubric": row["rubric"], "response": row["response"], "model": row["model"],
                       "labels": [row["labels"].get(item["id"]) for item in row["rubric"]["items"]],
                       "first": row["first"], "second": row["second"]} for row in rows))
    agreement = adjudication_agreement(rows)
    kappa = agreement["kappa"]
    console.print(f"wrote {len(rows)} item(s) to {out}; κ = {'-' if kappa is None else f'{kappa:.3f}'} over "
                  f"{agreement['pairs']} double-labelled criteria; {agreement['unresolved']} label(s) unresolved")


# -- clinrl pairs -----------------------------------------------------------------------------------
@pairs_app.command("build")
def pairs_build(
    rubrics: Path = typer.Option(..., exists=True, dir_okay=False, help="Rubric JSONL (approved rubrics)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: pairs.jsonl, instances.jsonl, summary.json."),
    candidates: Optional[Path] = typer.Option(None, help='Responses JSONL {"rubric_id", "model", "response"}.'),
    model: List[str] = typer.Option([], help="Generate responses: NAME=BASE_URL of an OpenAI-compatible endpoint "
                                    "(repeat for several models)."),
    local_model: List[str] = typer.Option([], help="Generate responses with a local model: a hub id, a directory, "
                                          "a .gguf file or an embedded name such as smollm2-135m (repeatable)."),
    judge_base_url: Optional[str] = typer.Option(None, help="Endpoint of the LLM judge (default $CLINRL_LLM_BASE_URL)."),
    judge_model: str = typer.Option("default", help="Judge model name."),
    cache: Optional[Path] = typer.Option(Path("runs/llm-cache"), help="On-disk cache of LLM replies."),
) -> None:
    """Judge candidate responses criterion by criterion and build lexicographic preference pairs, expanded
    into criterion-conditioned instances for `clinrl train rm`."""
    from clinrl.curation.pairs import (build_pairs, generate_candidates, generate_local_candidates, judge_candidates,
                                       read_candidates)
    from clinrl.data.tables import write_jsonl
    from clinrl.llm import ChatClient
    from clinrl.rubrics.judges.llm import LLMJudge

    by_id = {r.id: r for r in _read_rubrics(rubrics)}
    found = read_candidates(str(candidates), set(by_id)) if candidates else []
    failures: list = []
    if model:
        clients = {}
        for spec in model:
            name, sep, url = spec.partition("=")
            if not sep or not url:
                raise ConfigError(f"--model wants NAME=BASE_URL, got {spec!r}")
            clients[name] = ChatClient(base_url=url, model=name, cache_dir=cache)
        generated, failures = generate_candidates(list(by_id.values()), clients)
        found += generated
    for spec in local_model:
        made = generate_local_candidates(list(by_id.values()), spec)
        failures += [{"rubric_id": rid, "model": spec, "error": "empty response"}
                     for rid in set(by_id) - {c.rubric_id for c in made}]
        found += made
    if not found:
        raise ConfigError("no candidate responses: pass --candidates FILE, --model NAME=BASE_URL or --local-model SPEC")
    judge = LLMJudge(model=judge_model, base_url=judge_base_url, cache_dir=cache, progress=True)
    result = build_pairs(by_id, judge_candidates(by_id, found, judge))
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "pairs.jsonl", result["pairs"])
    write_jsonl(out / "instances.jsonl", result["instances"])
    summary = {**result["counts"], "generation_failures": failures}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(", ".join(f"{k} {v}" for k, v in result["counts"].items()))
    if failures:
        from rich.markup import escape

        console.print(f"[yellow]{len(failures)} generation(s) failed[/] (listed in summary.json)")
