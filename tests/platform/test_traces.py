from __future__ import annotations

import json
import re

import pytest

from erroracle.platform.traces import parse_trace, split_error_line

PYTHON_CHAINED = """Traceback (most recent call last):
  File "/srv/app/users.py", line 10, in get_user
    return CACHE[uid]
           ~~~~~^^^^^
KeyError: 'u1'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/srv/app/views.py", line 31, in handler
    user = get_user(uid)
  File "/usr/lib/python3.11/site-packages/flask/app.py", line 880, in dispatch
    return view()
myapp.errors.UserNotFound: user u1 not found
"""

PYTHON_CAUSE = """Traceback (most recent call last):
  File "/srv/app/db.py", line 5, in connect
    sock.connect(addr)
ConnectionRefusedError: [Errno 111] Connection refused

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/app/main.py", line 9, in <module>
    connect()
RuntimeError: database unavailable"""

JAVA = """Exception in thread "main" java.lang.IllegalStateException: Failed to start
\tat com.acme.App.start(App.java:42)
\tat com.acme.App.main(App.java:10)
\tSuppressed: java.io.IOException: close failed
\t\tat com.acme.Res.close(Res.java:7)
Caused by: java.net.ConnectException: Connection refused
\tat java.base/sun.nio.ch.Net.connect0(Native Method)
\t... 2 more"""

NODE = """TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:12:20)
    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"""

GO = """panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.lookup(...)
\t/app/main.go:8
main.main()
\t/app/main.go:12 +0x1d
exit status 2"""

DOTNET = """System.InvalidOperationException: Sequence contains no elements
   at System.Linq.ThrowHelper.ThrowNoElementsException()
   at MyApp.Services.OrderService.Latest(Int32 id) in C:\\src\\OrderService.cs:line 27
 ---> System.NullReferenceException: Object reference not set to an instance of an object.
   --- End of inner exception stack trace ---
   at MyApp.Program.Main(String[] args) in C:\\src\\Program.cs:line 12"""


def test_python_chained_takes_the_last_exception_and_its_frames():
    parsed = parse_trace(PYTHON_CHAINED)
    assert parsed.language == "python"
    assert parsed.error_type == "myapp.errors.UserNotFound"
    assert parsed.message == "user u1 not found"
    assert [(f.function, f.line, f.in_app) for f in parsed.frames] == [
        ("handler", 31, True),
        ("dispatch", 880, False),
    ]
    assert parsed.frames[1].module == "flask.app"
    assert parsed.causes == [("KeyError", "'u1'")]


def test_python_direct_cause():
    parsed = parse_trace(PYTHON_CAUSE)
    assert (parsed.error_type, parsed.message) == ("RuntimeError", "database unavailable")
    assert parsed.causes == [("ConnectionRefusedError", "[Errno 111] Connection refused")]


def test_python_exception_without_message_and_trailing_prose():
    text = (
        'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n'
        "    main()\nSystemExit\n\nThanks for any help!"
    )
    parsed = parse_trace(text)
    assert (parsed.error_type, parsed.message) == ("SystemExit", "")


def test_jvm_first_line_is_the_error_and_causes_are_kept():
    parsed = parse_trace(JAVA)
    assert parsed.language == "jvm"
    assert (parsed.error_type, parsed.message) == (
        "java.lang.IllegalStateException",
        "Failed to start",
    )
    assert ("java.net.ConnectException", "Connection refused") in parsed.causes
    assert ("java.io.IOException", "close failed") in parsed.causes
    assert [f.function for f in parsed.frames] == ["main", "start"]  # innermost last
    assert parsed.frames[-1].file == "App.java" and parsed.frames[-1].line == 42


def test_node():
    parsed = parse_trace(NODE)
    assert parsed.language == "javascript"
    assert parsed.error_type == "TypeError"
    assert parsed.frames[-1].function == "getUser" and parsed.frames[-1].in_app
    assert not parsed.frames[0].in_app  # node:internal


def test_node_system_error_uses_the_errno_code():
    parsed = parse_trace(
        "Error: connect ECONNREFUSED 127.0.0.1:5432\n"
        "    at TCPConnectWrap.afterConnect (node:net:1555:16)"
    )
    assert parsed.error_type == "ECONNREFUSED"


def test_go_panic():
    parsed = parse_trace(GO)
    assert parsed.language == "go"
    assert (parsed.error_type, parsed.message) == (
        "runtime.Error",
        "index out of range [5] with length 3",
    )
    assert [(f.function, f.line) for f in parsed.frames] == [("main", 12), ("lookup", 8)]


def test_dotnet_with_inner_exception():
    parsed = parse_trace(DOTNET)
    assert parsed.language == "dotnet"
    assert parsed.error_type == "System.InvalidOperationException"
    assert (
        "System.NullReferenceException",
        "Object reference not set to an instance of an object.",
    ) in parsed.causes
    app_frames = [f for f in parsed.frames if f.in_app]
    assert app_frames[0].module == "MyApp.Services.OrderService" and app_frames[0].line == 27


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "just a log line 42",
        "INFO: started",
        "at the end of the day",
        "Traceback",
        "\x00\x01 binary",
        'File "x", line',
    ],
)
def test_text_that_is_not_a_trace_comes_back_unchanged(text):
    parsed = parse_trace(text)
    assert parsed.language is None and parsed.frames == []
    assert parsed.message == text


def test_a_single_error_line_is_split():
    assert split_error_line("ValueError: bad value") == ("ValueError", "bad value")
    assert split_error_line("INFO: started") == (None, "INFO: started")
    assert split_error_line("Error [ERR_MODULE_NOT_FOUND]: Cannot find module") == (
        "ERR_MODULE_NOT_FOUND",
        "Cannot find module",
    )


def test_real_traces_in_the_github_fixtures(shared_data):
    """Traces users pasted into real GitHub issues (PyGithub's recorded traffic)."""
    folder = shared_data / "crawler_fixtures" / "github"
    expected = {
        "Search.testUrlquotingOfQuery.txt": "HTTPError",
        "Repository.testGetIssuesEvents.txt": "github.Requester.UnknownGithubObject",
    }
    for name, error_type in expected.items():
        bodies = []
        for line in (folder / name).read_text().splitlines():
            if "Traceback (most recent call last)" in line:
                data = json.loads(line)
                items = data.get("items", [data]) if isinstance(data, dict) else data
                bodies += [
                    item.get("body") or (item.get("issue") or {}).get("body") or ""
                    for item in items
                ]
        traces = [b[b.index("Traceback") - 4 :] for b in bodies if "Traceback (most" in b]
        assert traces, name
        for trace in traces:
            parsed = parse_trace(trace)
            assert parsed.error_type == error_type and parsed.frames, name


def test_real_trace_in_the_stackoverflow_sample(shared_data):
    import csv
    import html

    csv.field_size_limit(1 << 30)
    path = shared_data / "stackoverflow_sample" / "questions.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        bodies = [row["Body"] for row in csv.DictReader(handle) if "Traceback" in row["Body"]]
    found = []
    for body in bodies:
        text = html.unescape(re.sub(r"<[^>]+>", "", body))
        found.append(parse_trace(text[text.index("Traceback") :]).error_type)
    assert "UnicodeDecodeError" in found


EMBEDDED = {
    "after prose and a prompt": (
        "I ran my script and got this:\n\n$ python app.py\nTraceback (most recent call last):\n"
        '  File "app.py", line 3, in <module>\n    main()\n  File "app.py", line 2, in main\n'
        '    raise ValueError("bad")\nValueError: bad\n\nAny idea?',
        "ValueError", "bad", "app.py"),
    "in a fence, then prose": (
        "Steps:\n```\nTraceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/site-packages/x/y.py", line 10, in f\n    g()\n'
        "KeyError: 'user'\n```\nThanks, and the same happens on 3.12",
        "KeyError", "'user'", "/usr/lib/python3.11/site-packages/x/y.py"),
    "in <details>, with doubled backslashes": (
        "<details><summary>Trace</summary>\n\n```python\nTraceback (most recent call last):\n"
        '  File "C:\\\\Users\\\\me\\\\app.py", line 1, in <module>\n    import foo\n'
        "ModuleNotFoundError: No module named 'foo'\n```\n</details>",
        "ModuleNotFoundError", "No module named 'foo'", "C:\\Users\\me\\app.py"),
    "quoted with >": (
        "> Traceback (most recent call last):\n>   File \"a.py\", line 1, in <module>\n"
        ">     x()\n> NameError: name 'x' is not defined\n",
        "NameError", "name 'x' is not defined", "a.py"),
    "indented, prose right after": (
        "    Traceback (most recent call last):\n      File \"a.py\", line 1, in <module>\n"
        "        x()\n    TypeError: 'NoneType' object is not callable\n\nsome more text",
        "TypeError", "'NoneType' object is not callable", "a.py"),
    "after a log prefix on the same line": (
        "2024-05-01 12:00:00 ERROR worker Traceback (most recent call last):\n"
        '  File "w.py", line 9, in run\n    step()\nRuntimeError: step failed',
        "RuntimeError", "step failed", "w.py"),
}


@pytest.mark.parametrize("name", sorted(EMBEDDED))
def test_python_tracebacks_are_found_wherever_they_start(name):
    text, error_type, message, last_file = EMBEDDED[name]
    parsed = parse_trace(text)
    assert (parsed.language, parsed.error_type, parsed.message) == ("python", error_type, message)
    assert parsed.frames[-1].file == last_file


def test_ruby_traces_old_and_new_quoting():
    old = parse_trace("app.rb:3:in `divide': divided by 0 (ZeroDivisionError)\n"
                      "\tfrom app.rb:7:in `<main>'")
    assert (old.language, old.error_type, old.message) == ("ruby", "ZeroDivisionError",
                                                           "divided by 0")
    assert [(f.function, f.line) for f in old.frames] == [("<main>", 7), ("divide", 3)]
    new = parse_trace(
        "/usr/lib/ruby/3.4.0/json/common.rb:221:in 'JSON::Ext::Parser.parse': unexpected token "
        "at 'x' (JSON::ParserError)\n\tfrom /usr/lib/ruby/3.4.0/json/common.rb:221:in "
        "'JSON.parse'\n\tfrom app/models/user.rb:12:in 'User#load'\n\tfrom main.rb:3:in '<main>'")
    assert new.error_type == "JSON::ParserError" and new.message == "unexpected token at 'x'"
    assert new.frames[-1].in_app is False and new.frames[1].function == "load"
    assert new.frames[1].in_app is True


def test_php_uncaught_exceptions_and_warnings():
    fatal = parse_trace(
        "PHP Fatal error:  Uncaught Exception: Database is down in /var/www/app/src/Db.php:42\n"
        "Stack trace:\n#0 /var/www/app/src/Repo.php(17): App\\Db->connect()\n"
        "#1 /var/www/vendor/lib/Router.php(8): App\\Repo->find()\n#2 {main}\n"
        "  thrown in /var/www/app/src/Db.php on line 42")
    assert (fatal.language, fatal.error_type, fatal.message) == ("php", "Exception",
                                                                 "Database is down")
    assert [(f.function, f.module, f.in_app) for f in fatal.frames] == [
        ("find", "App\\Repo", False), ("connect", "App\\Db", True)]
    warning = parse_trace("PHP Warning:  Undefined variable $x in /var/www/a.php on line 3")
    assert (warning.error_type, warning.message) == ("Warning", "Undefined variable $x")


def test_of_separate_tracebacks_the_first_is_the_error_and_a_cut_one_still_parses():
    first = ('Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
             "UnicodeDecodeError: 'ascii' codec can't decode byte 0xc3\n\nthen I tried:\n")
    second = ('Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
              "TypeError: coercing to Unicode\n")
    assert parse_trace(first + second).error_type == "UnicodeDecodeError"
    frames = 'Traceback (most recent call last):\n' + '  File "x.py", line 1, in f\n    g()\n' * 50
    cut = frames[:700] + "\n…[truncated 9000 chars]…\n" + frames[-700:] + "ValueError: x"
    assert (parse_trace(cut).error_type, parse_trace(cut).message) == ("ValueError", "x")
