"""Mutation testing of the money core: `make mutate` (or `python mutation/run.py`).

Each mutant in `mutation/mutants.toml` is a small, meaningful bug: a file, an exact
snippet of it, and what replaces the snippet. For each one the runner copies the working
tree to a scratch directory (never touching the checkout), applies the mutant there,
starts from a fresh test database, and runs the tests the mutant names. A mutant is
*killed* when they fail, and *survives* when they pass: then a bug of that shape would
go unnoticed. Mutants marked `equivalent` cannot change behaviour (their reason says
why); they are run too, but left out of the score.

The list cannot rot silently: before anything runs, every snippet must occur exactly
once in its file and every named test file must exist, or the runner stops and says
which mutant to update. The tests themselves are first run unmutated, and must pass.

Usage:
  python mutation/run.py                 every mutant
  python mutation/run.py ID [ID ...]     these mutants only
  python mutation/run.py --check         only check that the list still applies

Environment: as `make test` (WALLET_ENV=test, a *_test DATABASE_URL, REDIS_URL, ...);
the runner resets that database and empties that Redis db before each mutant, so give
it names of its own (the Makefile's `mutate` target does).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MUTANTS = os.path.join(ROOT, "mutation", "mutants.toml")
LOG_DIR = os.path.join(ROOT, "tests", "artifacts", "mutation")
# Never copied: version control, virtualenvs, caches and artifacts.
SKIPPED = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".pytest_cache",
                                 ".hypothesis", "artifacts", "out")
MUTANT_TIMEOUT_S = 600
PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]


@dataclass(frozen=True)
class Mutant:
    """One bug: `original` in `file` becomes `replacement`; `tests` should notice."""

    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    bug: str
    equivalent: str | None = None


def load(path: str = MUTANTS) -> list[Mutant]:
    """The mutants of the list, in order."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    return [Mutant(id=m["id"], file=m["file"], original=m["original"],
                   replacement=m["replacement"], tests=tuple(m["tests"]), bug=m["bug"],
                   equivalent=m.get("equivalent")) for m in doc["mutant"]]


def problems(mutants: list[Mutant], root: str = ROOT) -> list[str]:
    """Why some mutants no longer apply to the tree at `root` (empty when all do)."""
    found, seen = [], set()
    for m in mutants:
        if m.id in seen:
            found.append(f"{m.id}: the id is used twice")
        seen.add(m.id)
        path = os.path.join(root, m.file)
        if not os.path.isfile(path):
            found.append(f"{m.id}: {m.file} does not exist")
            continue
        with open(path, encoding="utf-8") as f:
            count = f.read().count(m.original)
        if count != 1:
            found.append(f"{m.id}: its original snippet occurs {count} times in {m.file} "
                         "(it must occur exactly once): update the mutant")
        if m.original == m.replacement:
            found.append(f"{m.id}: the replacement is the original")
        if not m.tests:
            found.append(f"{m.id}: names no tests")
        for test in m.tests:
            if not os.path.isfile(os.path.join(root, test.split("::")[0])):
                found.append(f"{m.id}: test {test} does not exist")
    return found


def copy_tree(destination: str, mutants: list[Mutant]) -> str:
    """A copy of the working tree to mutate, with each mutated file's original kept
    beside it as `<file>.orig`."""
    tree = os.path.join(destination, "tree")
    shutil.copytree(ROOT, tree, ignore=SKIPPED, symlinks=True)
    for file in {m.file for m in mutants}:
        shutil.copyfile(os.path.join(tree, file), os.path.join(tree, file + ".orig"))
    if problems(mutants, tree):  # the checkout changed while it was being copied
        raise SystemExit("mutate: the copied tree does not match the mutant list; run again")
    return tree


def fresh_database(tree: str) -> None:
    done = subprocess.run([sys.executable, "manage.py", "reset-test-db"], cwd=tree,
                          capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise SystemExit(f"mutate: reset-test-db failed:\n{done.stdout}{done.stderr}")


def run_tests(tree: str, tests: tuple[str, ...], log_path: str) -> tuple[str, float]:
    """Run `tests` in `tree`; returns the verdict (passed, failed, timeout, error)."""
    started = time.monotonic()
    with open(log_path, "w") as log:
        try:
            code = subprocess.run([sys.executable, *PYTEST, *tests], cwd=tree, stdout=log,
                                  stderr=subprocess.STDOUT, timeout=MUTANT_TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - started
    # pytest: 0 passed, 1 some failed, 2 interrupted (an import or collection error);
    # 3, 4 and 5 mean the run itself was wrong (internal error, usage, no tests).
    verdict = {0: "passed", 1: "failed", 2: "failed"}.get(code, "error")
    return verdict, time.monotonic() - started


def apply(tree: str, mutant: Mutant, previous: Mutant | None) -> None:
    """Put back the file the previous mutant changed (from the tree's copy as it was
    made), then apply this one."""
    for m in (previous, mutant):
        if m is None:
            continue
        with open(os.path.join(tree, m.file + ".orig"), encoding="utf-8") as f:
            text = f.read()
        if m is mutant:
            text = text.replace(m.original, m.replacement, 1)
        with open(os.path.join(tree, m.file), "w", encoding="utf-8") as f:
            f.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="*", help="run only these mutants")
    parser.add_argument("--check", action="store_true",
                        help="only check that every mutant still applies")
    args = parser.parse_args(argv)
    mutants = load()
    wrong = problems(mutants)
    if wrong:
        print("mutate: the mutant list no longer matches the code:\n  " + "\n  ".join(wrong),
              file=sys.stderr)
        return 2
    if args.ids:
        unknown = set(args.ids) - {m.id for m in mutants}
        if unknown:
            print(f"mutate: no such mutant: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.id in args.ids]
    if args.check:
        print(f"mutate: all {len(mutants)} mutants apply")
        return 0
    if os.environ.get("WALLET_ENV") != "test" or \
            not os.environ.get("DATABASE_URL", "").endswith("_test"):
        print("mutate: run with WALLET_ENV=test and a *_test DATABASE_URL (make mutate)",
              file=sys.stderr)
        return 2

    began = time.monotonic()
    os.makedirs(LOG_DIR, exist_ok=True)
    results: list[tuple[Mutant, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="wallet-mutate-") as scratch:
        tree = copy_tree(scratch, mutants)
        # The tests must pass on the code as it is, or no verdict below means anything.
        everything = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
        fresh_database(tree)
        verdict, seconds = run_tests(tree, everything, os.path.join(LOG_DIR, "baseline.log"))
        print(f"baseline: {len(everything)} test selections {verdict} in {seconds:.0f} s",
              flush=True)
        if verdict != "passed":
            print(f"mutate: the tests fail without any mutant; see {LOG_DIR}/baseline.log",
                  file=sys.stderr)
            return 2
        previous = None
        for mutant in mutants:
            apply(tree, mutant, previous)
            previous = mutant
            fresh_database(tree)
            verdict, seconds = run_tests(tree, mutant.tests,
                                         os.path.join(LOG_DIR, f"{mutant.id}.log"))
            outcome = {"failed": "killed", "timeout": "killed (timeout)",
                       "passed": "SURVIVED", "error": "ERROR"}[verdict]
            if mutant.equivalent:
                outcome = "equivalent, " + ("survived" if verdict == "passed" else outcome)
            results.append((mutant, outcome, seconds))
            print(f"  {outcome:<22} {seconds:5.0f} s  {mutant.id}", flush=True)
    return report(results, time.monotonic() - began)


def report(results: list[tuple[Mutant, str, float]], elapsed_s: float) -> int:
    """Print the score and the survivors; non-zero when a meaningful mutant survived."""
    meaningful = [(m, o) for m, o, _ in results if not m.equivalent]
    killed = [m for m, o in meaningful if o.startswith("killed")]
    survived = [m for m, o in meaningful if o == "SURVIVED"]
    errors = [m for m, o in meaningful if o == "ERROR"]
    equivalent = [(m, o) for m, o, _ in results if m.equivalent]
    print(f"\nmutation score: {len(killed)}/{len(meaningful)} meaningful mutants killed "
          f"({len(equivalent)} equivalent left out) in {elapsed_s / 60:.1f} min")
    for title, group in (("survivors", survived), ("errors (see tests/artifacts/mutation/)",
                                                   errors)):
        if group:
            print(f"{title}:")
            for m in group:
                print(f"  {m.id} ({m.file}): {m.bug}")
    if equivalent:
        print("equivalent mutants:")
        for m, outcome in equivalent:
            reason = " ".join(m.equivalent.split())
            print(f"  {m.id} ({m.file}, {outcome.split(', ')[1]}): {reason}")
    return 1 if survived or errors else 0


if __name__ == "__main__":
    sys.exit(main())
