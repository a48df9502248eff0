"""tests/conformance/vouch-tuf-client: the TUF conformance suite's
client-under-test protocol (CLIENT-CLI.md of theupdateframework/
tuf-conformance) on top of `vouch client`, driven the way the suite drives
it: options first and in the suite's order, the command last, exit 0 or 1."""
import json
import os

import pytest
from conftest import ROOT, binary, run
from tufrepo import Client, Misbehaviour, Repo, make_handler

ADAPTER = ROOT / "tests" / "conformance" / "vouch-tuf-client"


@pytest.fixture
def world(tmp_path, http_server):
    repo = Repo(tmp_path / "repo")
    state = Misbehaviour()
    url = http_server(repo.path, handler=make_handler(state))
    c = Client(binary("vouch"), run, repo, url, state, tmp_path)
    env = dict(os.environ, VOUCH=str(binary("vouch")))

    def suite(*args, check):
        p = run([ADAPTER, *map(str, args)], env=env)
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
        return p

    return c, suite


def version(c, role):
    p = c.mdir / f"{role}.json"
    return json.loads(p.read_bytes())["signed"]["version"] if p.exists() else None


def test_init_refresh_download_as_the_suite_calls_them(world):
    c, suite = world
    r = c.repo
    r.add_target("targets", "dir/artifact one.txt", b"the artifact")
    r.publish()
    root = c.mdir.parent / "initial_root.json"
    root.write_bytes(r.root_file(1).read_bytes())
    suite("--metadata-dir", c.mdir, "init", root, check=0)
    assert c.state.requests == []
    suite("--metadata-dir", c.mdir, "--metadata-url", c.metadata_url, "refresh", check=0)
    assert [version(c, x) for x in ("root", "timestamp", "snapshot", "targets")] == [1, 1, 1, 1]
    dl = ("--metadata-dir", c.mdir, "--metadata-url", c.metadata_url,
          "--target-name", "dir/artifact one.txt", "--target-base-url", c.target_url,
          "--target-dir", c.tdir, "download")
    suite(*dl, check=0)
    assert (c.tdir / "dir" / "artifact one.txt").read_bytes() == b"the artifact"
    # Cached: the artifact is not requested again.
    c.state.requests.clear()
    suite(*dl, check=0)
    assert not [q for q in c.state.requests if q.startswith("/targets/")]


def test_every_failure_is_exit_1(world):
    c, suite = world
    r = c.repo
    r.publish()
    bad = c.mdir.parent / "bad_root.json"
    env = json.loads(r.root_file(1).read_bytes())
    del env["signed"]["version"]
    bad.write_text(json.dumps(env))
    suite("--metadata-dir", c.mdir, "init", bad, check=1)  # vouch checks the root
    # No trusted root: refresh fails with no request (vouch alone: 1 too).
    suite("--metadata-dir", c.mdir, "--metadata-url", c.metadata_url, "refresh", check=1)
    assert c.state.requests == []
    root = c.mdir.parent / "root.json"
    root.write_bytes(r.root_file(1).read_bytes())
    suite("--metadata-dir", c.mdir, "init", root, check=0)
    # A target nobody signed, a name vouch refuses (usage error 2 for vouch).
    for name in ("nonexistent artifact", "../escape"):
        suite("--metadata-dir", c.mdir, "--metadata-url", c.metadata_url,
              "--target-name", name, "--target-base-url", c.target_url,
              "--target-dir", c.tdir, "download", check=1)
    # A tampered timestamp.
    c.state.rules["/metadata/timestamp.json"] = b'{"signatures":[],"signed":{}}'
    suite("--metadata-dir", c.mdir, "--metadata-url", c.metadata_url, "refresh", check=1)
    # Unknown arguments are refused.
    suite("--metadata-dir", c.mdir, "frobnicate", check=1)
