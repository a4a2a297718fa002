"""The bank test's nemesis: what it says when MariaDB does not come back."""
from tests.chaos import nemesis


def test_the_error_log_tail_comes_from_the_file_my_print_defaults_names(tmp_path):
    log = tmp_path / "error.log"
    log.write_text("".join(f"line {i}\n" for i in range(10)))
    defaults = f"--socket=/run/mysqld/mysqld.sock\n--log-error={log}\n--port=3306\n"
    assert nemesis.error_log_tail(defaults, lines=3) == "line 7\nline 8\nline 9\n"


def test_without_a_log_error_option_or_a_readable_log_the_tail_is_empty(tmp_path):
    assert nemesis.error_log_tail("--port=3306\n") == ""
    assert nemesis.error_log_tail(f"--log-error={tmp_path / 'missing.log'}\n") == ""
