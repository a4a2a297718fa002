"""The mutant list of `make mutate` still describes the code (pure: files are only read).

When a refactor moves a snippet a mutant names, this fails in `make test` and names the
mutant to update, so the list never silently tests nothing.
"""
from mutation import run


def test_every_mutant_still_applies_to_exactly_one_place_and_names_tests_that_exist():
    mutants = run.load()
    assert run.problems(mutants) == []


def test_the_list_covers_the_money_core_and_explains_every_equivalent_mutant():
    mutants = run.load()
    covered = {m.file for m in mutants}
    assert {"payments/settle.py", "payments/requests.py", "ledger/posting.py",
            "locking/wallets.py", "locking/batch.py", "money.py", "ledger/audit.py",
            "infra/idempotency.py", "accounts/auth.py", "infra/throttle.py"} <= covered
    assert all(m.bug for m in mutants)
    assert all(len(m.equivalent) > 40 for m in mutants if m.equivalent is not None)


def test_a_snippet_that_is_gone_or_ambiguous_is_reported_by_name(tmp_path):
    # Given a tree where one mutant's snippet vanished and another's appears twice
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    (tmp_path / "a.py").write_text("x = 1\nx = 1\n")
    gone = run.Mutant("gone", "a.py", "y = 2", "y = 3", ("tests/test_x.py",), "bug")
    twice = run.Mutant("twice", "a.py", "x = 1", "x = 2", ("tests/test_x.py",), "bug")
    missing = run.Mutant("missing", "a.py", "x = 1\nx", "x", ("tests/test_y.py",), "bug")
    # When the list is checked against it, Then each is named with what is wrong
    found = run.problems([gone, twice, missing], str(tmp_path))
    assert [p.split(":")[0] for p in found] == ["gone", "twice", "missing"]
    assert "occurs 0 times" in found[0] and "occurs 2 times" in found[1]
    assert "tests/test_y.py does not exist" in found[2]
