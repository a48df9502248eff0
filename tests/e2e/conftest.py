"""Shared fixtures for vouch's end-to-end tests.

The tests drive the real binaries of a build directory (VOUCH_BUILD, default
./build) against real servers on 127.0.0.1. Servers listen on port 0 and
report the port; every fixture stops what it starts.
"""
import functools
import http.server
import os
import pathlib
import socketserver
import subprocess
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("VOUCH_BUILD", ROOT / "build")).resolve()
INTEROP = ROOT / "tests" / "interop"
VECTORS = ROOT.parent / "shared" / "vectors"


def binary(name):
    """Path of a built program (vouch, vouch-agent)."""
    for p in (BUILD / "src" / "cli" / name, BUILD / "src" / "agent" / name, BUILD / name):
        if p.exists():
            return str(p)
    raise FileNotFoundError(f"{name} not built in {BUILD}")


def run(args, *, check=None, input=None, env=None, cwd=None, timeout=300):
    """Runs a command; returns CompletedProcess with text stdout/stderr.
    check=N asserts the exit code is N and shows the output if not."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([str(a) for a in args], input=input, capture_output=True, text=True,
                       env=full_env, cwd=cwd, timeout=timeout)
    if check is not None:
        assert p.returncode == check, (
            f"{args}: exit {p.returncode}, wanted {check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


@pytest.fixture
def vouch(tmp_path):
    """Runs the vouch CLI with a key log inside the test's directory:
    vouch("sign", ..., check=0)."""
    exe = binary("vouch")
    log = tmp_path / "key-usage.log"

    def _run(*args, check=None, input=None, env=None, cwd=None, timeout=300):
        e = {"VOUCH_KEY_LOG": str(log)}
        if env:
            e.update(env)
        return run([exe, *args], check=check, input=input, env=e, cwd=cwd, timeout=timeout)

    _run.exe = exe
    _run.log = log
    return _run


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def http_server():
    """Starts static file servers on 127.0.0.1:0. Call with a directory (and
    optionally a handler class derived from SimpleHTTPRequestHandler for a
    server that misbehaves on request); returns the base URL without a
    trailing slash."""
    servers = []

    def _start(directory, handler=_QuietHandler):
        h = functools.partial(handler, directory=str(directory))
        srv = _Server(("127.0.0.1", 0), h)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield _start
    for s in servers:
        s.shutdown()
        s.server_close()


def node(script, *args, check=0, timeout=300, cwd=None):
    """Runs a Node.js script of tests/interop with its node_modules."""
    return run(["node", INTEROP / script, *args], check=check, timeout=timeout,
               cwd=cwd or INTEROP)


def run_on_pty(argv, timeout=60):
    """Runs argv with stdout/stderr on a pseudo-terminal; (exit code, output)."""
    import pty
    import select
    import time
    master, slave = pty.openpty()
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return p.wait(timeout=10), out.decode(errors="replace")

