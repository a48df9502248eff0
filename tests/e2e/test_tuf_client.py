"""`vouch client`: init, refresh, download and list against TUF 1.0
repositories written by tests/e2e/tufrepo.py (independent of `vouch repo`),
served over HTTP on 127.0.0.1. Attacks are in test_tuf_attacks.py."""
import hashlib
import json
import os

import pytest
from conftest import binary, run, run_on_pty
from tufrepo import Client, Key, Misbehaviour, Repo, faketime_env, make_handler, sign


@pytest.fixture
def make_client(tmp_path, http_server):
    def _make(**kw):
        repo = Repo(tmp_path / "repo", **kw)
        state = Misbehaviour()
        url = http_server(repo.path, handler=make_handler(state))
        return Client(binary("vouch"), run, repo, url, state, tmp_path)

    return _make


def tiered(c):
    """targets + two terminating tiers, a few targets, published."""
    r = c.repo
    r.add_target("targets", "README.txt", b"top-level target\n")
    r.delegate("targets", "os", paths=["os/*", "os/*/*"], terminating=True)
    r.delegate("targets", "app", paths=["app/*", "app/*/*"], terminating=True)
    r.add_target("os", "os/stable/os-1.0.img", b"os image 1.0",
                 custom={"vouch": {"version": "1.0", "security_version": 1,
                                   "hardware": ["board-a"], "tier": "os", "format": "raw"}})
    r.add_target("os", "os/beta/os-1.1.img", b"os image 1.1")
    r.add_target("app", "app/stable/app.tar", b"app archive")
    r.publish()
    c.init()


@pytest.mark.parametrize("consistent", [False, True])
def test_refresh_and_download(make_client, consistent):
    c = make_client(consistent=consistent)
    tiered(c)
    p = c.download("README.txt", "os/stable/os-1.0.img", "app/stable/app.tar", extra=["--json"])
    out = json.loads(p.stdout)
    assert out["ok"] and out["versions"] == {"root": 1, "timestamp": 1, "snapshot": 1,
                                             "targets": 1}
    assert [(t["name"], t["role"], t["status"]) for t in out["targets"]] == [
        ("README.txt", "targets", "downloaded"), ("os/stable/os-1.0.img", "os", "downloaded"),
        ("app/stable/app.tar", "app", "downloaded")]
    assert (c.tdir / "os/stable/os-1.0.img").read_bytes() == b"os image 1.0"
    assert (c.tdir / "app/stable/app.tar").read_bytes() == b"app archive"
    # Trusted metadata under unversioned names, byte for byte as served.
    for name in ("root.json", "timestamp.json", "snapshot.json", "targets.json", "os.json",
                 "app.json"):
        assert c.trusted(name) == (c.repo.metadata_dir / name).read_bytes(), name
    # With consistent snapshots, versioned names were requested.
    reqs = set(c.state.requests)
    if consistent:
        assert "/metadata/1.snapshot.json" in reqs and "/metadata/1.targets.json" in reqs
        assert "/metadata/1.os.json" in reqs
        h = hashlib.sha256(b"os image 1.0").hexdigest()
        assert f"/targets/os/stable/{h}.os-1.0.img" in reqs
    else:
        assert "/metadata/snapshot.json" in reqs and "/metadata/os.json" in reqs
        assert "/targets/os/stable/os-1.0.img" in reqs
    assert "/metadata/timestamp.json" in reqs  # always unversioned


def test_refresh_prints_versions_and_updates(make_client):
    c = make_client()
    tiered(c)
    p = c.refresh()
    assert "root v1, timestamp v1, snapshot v1, targets v1" in p.stdout
    c.repo.add_target("os", "os/stable/os-2.0.img", b"os image 2.0")
    c.repo.publish(["os"])
    p = c.refresh("--json")
    assert json.loads(p.stdout)["versions"]["snapshot"] == 2
    c.download("os/stable/os-2.0.img")
    assert c.trusted("os.json") == (c.repo.metadata_dir / "os.json").read_bytes()


def test_init_checks_root_and_touches_no_network(make_client, tmp_path):
    c = make_client(root_keys=3, root_threshold=2)
    c.repo.publish()
    # Signed by only one of the two required root keys.
    bad = tmp_path / "bad-root.json"
    env = sign(c.repo.root_signed(), c.repo.keys["root"][:1])
    bad.write_text(json.dumps(env))
    p = c.init(root=bad, check=1)
    assert "signature threshold 2 not met (1 valid)" in p.stderr
    assert not (c.mdir / "root.json").exists()
    c.init()
    assert c.state.requests == []
    assert c.trusted("root.json") == c.repo.root_file(1).read_bytes()
    # Idempotent with the same root, refuses to replace it with another.
    c.init()
    other = Repo(tmp_path / "other")
    other.publish()
    p = c.init(root=other.root_file(1), check=3)
    assert "already holds a trusted root" in p.stderr
    # Not JSON at all.
    junk = tmp_path / "junk.json"
    junk.write_text("{nope")
    c.mdir = tmp_path / "md2"
    assert "malformed JSON" in c.init(root=junk, check=1).stderr


def test_download_skips_a_target_already_present(make_client):
    c = make_client()
    tiered(c)
    c.download("os/stable/os-1.0.img")
    c.state.requests.clear()
    p = c.download("os/stable/os-1.0.img", extra=["--json"])
    assert json.loads(p.stdout)["targets"][0]["status"] == "cached"
    assert not [r for r in c.state.requests if r.startswith("/targets/")]
    # A modified local copy is fetched again and replaced.
    (c.tdir / "os/stable/os-1.0.img").write_bytes(b"os image 1.X")
    p = c.download("os/stable/os-1.0.img")
    assert "downloaded" in p.stdout
    assert (c.tdir / "os/stable/os-1.0.img").read_bytes() == b"os image 1.0"


def test_download_stops_at_first_failure(make_client):
    c = make_client()
    tiered(c)
    p = c.download("README.txt", "os/stable/missing.img", "app/stable/app.tar", check=1)
    assert "os/stable/missing.img: no trusted role lists this target" in p.stderr
    assert (c.tdir / "README.txt").exists()
    assert not (c.tdir / "app/stable/app.tar").exists()


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b", "a//b", "./a", ""])
def test_download_refuses_unsafe_names(make_client, name):
    c = make_client()
    tiered(c)
    p = c.download(name, check=2)
    assert "not a safe target name" in p.stderr
    assert not [r for r in c.state.requests]


def test_options_in_any_order(make_client):
    c = make_client()
    tiered(c)
    c.run("download", "README.txt", "--target-dir", c.tdir, "--metadata-url", c.metadata_url,
          "os/beta/os-1.1.img", "--target-base-url", c.target_url, "--metadata-dir", c.mdir,
          check=0)
    assert (c.tdir / "os/beta/os-1.1.img").read_bytes() == b"os image 1.1"
    assert c.run("refresh", "--metadata-dir", c.mdir, check=2).returncode == 2
    assert c.run("frobnicate", check=2).returncode == 2


def test_role_names_and_target_paths_are_url_encoded(make_client):
    c = make_client()
    r = c.repo
    r.delegate("targets", "team a+b/ü", paths=["dir with space/*"])
    r.add_target("team a+b/ü", "dir with space/a+b%.txt", b"encoded")
    r.publish()
    c.init()
    c.download("dir with space/a+b%.txt")
    assert (c.tdir / "dir with space/a+b%.txt").read_bytes() == b"encoded"
    assert "/metadata/team%20a%2Bb%2F%C3%BC.json" in c.state.requests
    assert "/targets/dir%20with%20space/a%2Bb%25.txt" in c.state.requests
    # Stored under an encoded local name that cannot leave the directory.
    assert (c.mdir / "team%20a%2Bb%2F%C3%BC.json").exists()


def test_root_rotation_chain(make_client):
    c = make_client(root_keys=2, root_threshold=2)
    tiered(c)
    r = c.repo
    r.rotate_root(new_keys=[Key(), Key(), Key()], threshold=2)  # v2: new root keys
    r.rotate_root("targets", new_keys=[Key()])  # v3: new targets key, signed by v2's keys
    r.publish(["targets"])
    p = c.refresh("--json")
    assert json.loads(p.stdout)["versions"]["root"] == 3
    assert c.trusted("root.json") == r.root_file(3).read_bytes()
    assert "/metadata/4.root.json" in c.state.requests
    c.download("README.txt")


def test_root_chain_bound(make_client):
    c = make_client()
    tiered(c)
    for _ in range(4):
        c.repo.rotate_root()
    # Followed at most 2 versions per refresh: stays at v3 and still works.
    p = c.refresh("--max-root-rotations", "2", "--json")
    assert json.loads(p.stdout)["versions"]["root"] == 3
    p = c.refresh("--json")
    assert json.loads(p.stdout)["versions"]["root"] == 5


def test_list_targets_under_a_prefix(make_client):
    c = make_client()
    tiered(c)
    out = c.list("os/")
    assert [(t["name"], t["role"], t["chain"]) for t in out["targets"]] == [
        ("os/beta/os-1.1.img", "os", ["targets", "os"]),
        ("os/stable/os-1.0.img", "os", ["targets", "os"])]
    assert out["targets"][1]["custom"]["vouch"]["hardware"] == ["board-a"]
    assert out["targets"][1]["length"] == len(b"os image 1.0")
    # The app tier cannot hold os/ names: it is not even fetched.
    assert "/metadata/app.json" not in c.state.requests
    assert [t["name"] for t in c.list()["targets"]] == [
        "README.txt", "app/stable/app.tar", "os/beta/os-1.1.img", "os/stable/os-1.0.img"]
    assert c.list("nothing/")["targets"] == []


def test_delegation_order_and_terminating(make_client):
    c = make_client()
    r = c.repo
    # Two non-terminating roles both claim x/a: the first in order wins.
    r.delegate("targets", "first", paths=["x/*"])
    r.delegate("targets", "second", paths=["x/*"])
    r.add_target("first", "x/a", b"from first")
    r.add_target("second", "x/a", b"from second", write_file=False)
    r.add_target("second", "x/b", b"only second")
    # A terminating role that matches y/* but does not list y/c hides the
    # role after it that does.
    r.delegate("targets", "stopper", paths=["y/*"], terminating=True)
    r.delegate("targets", "hidden", paths=["y/*"])
    r.add_target("hidden", "y/c", b"never trusted")
    r.publish()
    c.init()
    c.download("x/a", "x/b")
    assert (c.tdir / "x/a").read_bytes() == b"from first"
    assert (c.tdir / "x/b").read_bytes() == b"only second"
    p = c.download("y/c", check=1)
    assert "no trusted role lists this target" in p.stderr
    assert [t["name"] for t in c.list("y/")["targets"]] == []
    assert [(t["name"], t["role"]) for t in c.list("x/")["targets"]] == [
        ("x/a", "first"), ("x/b", "second")]


def test_nested_delegation_and_hash_prefixes(make_client):
    c = make_client()
    r = c.repo
    r.delegate("targets", "parent", paths=["a/*/*"])
    r.delegate("parent", "child", paths=["*/deep/*"])
    r.add_target("child", "a/deep/file", b"nested")
    # path_hash_prefixes: all 16 first hex digits, so any name matches.
    r.delegate("targets", "bins", path_hash_prefixes=[f"{i:x}" for i in range(16)])
    r.add_target("bins", "binned/file", b"hashed bin")
    r.publish()
    c.init()
    c.download("a/deep/file", "binned/file")
    out = c.list("a/")
    assert out["targets"][0]["chain"] == ["targets", "parent", "child"]


def test_delegation_cycle_and_search_bound(make_client):
    c = make_client()
    r = c.repo
    r.delegate("targets", "ping", paths=["*"])
    r.delegate("ping", "pong", paths=["*"])
    r.roles["pong"].delegations.append({"name": "ping", "paths": ["*"],
                                        "terminating": False})
    # A long chain: d0 -> d1 -> ... -> d39 lists "deep".
    r.delegate("targets", "d0", paths=["*"])
    for i in range(1, 40):
        r.delegate(f"d{i-1}", f"d{i}", paths=["*"])
    r.add_target("d39", "deep", b"forty levels down")
    r.publish()
    c.init()
    p = c.download("deep", check=1)
    assert "no trusted role lists this target" in p.stderr
    c.download("deep", extra=["--max-delegations", "50"])
    assert (c.tdir / "deep").read_bytes() == b"forty levels down"


def test_unknown_fields_are_kept_and_signed(make_client):
    c = make_client()
    r = c.repo
    r.roles["targets"].extra = {"x-vendor": {"note": "kept", "list": [1, 2, 3]}}
    r.root_extra = {"x-root-extra": True}
    r.add_target("targets", "t", b"t", custom={"anything": {"nested": [True, None]}})
    r.publish()
    c.init()
    c.download("t")
    assert json.loads(c.trusted("targets.json"))["signed"]["x-vendor"]["note"] == "kept"


def test_sha512_and_several_hashes(make_client):
    c = make_client(hash_algs=("sha512", "sha256"))
    c.repo.add_target("targets", "both", b"two hashes")
    c.repo.publish()
    c.init()
    c.download("both")
    assert (c.tdir / "both").read_bytes() == b"two hashes"


def test_file_urls(make_client):
    c = make_client(consistent=True)
    tiered(c)
    murl = "file://" + str(c.repo.metadata_dir)
    c.run("download", "--metadata-dir", c.mdir, "--metadata-url", murl, "--target-base-url",
          "file://" + str(c.repo.targets_dir), "--target-dir", c.tdir, "os/stable/os-1.0.img",
          check=0)
    assert (c.tdir / "os/stable/os-1.0.img").read_bytes() == b"os image 1.0"
    assert c.state.requests == []


def test_unreachable_repository_refuses_the_update(make_client):
    """A repository that cannot be reached or withholds a file refuses the
    update (exit 1, as a failed check: a freeze looks the same); the
    message says what happened and nothing new is trusted."""
    c = make_client()
    tiered(c)
    c.refresh()
    before = c.trusted("timestamp.json")
    p = c.refresh(url="http://127.0.0.1:9/metadata", check=1)
    assert "127.0.0.1:9" in p.stderr
    c.state.rules["/metadata/timestamp.json"] = "404"
    p = c.refresh(check=1)
    assert "not found" in p.stderr
    assert c.trusted("timestamp.json") == before
    # A local problem stays a system error: the new timestamp cannot be
    # stored because a directory sits where timestamp.json goes.
    del c.state.rules["/metadata/timestamp.json"]
    c.repo.publish()
    (c.mdir / "timestamp.json").unlink()
    (c.mdir / "timestamp.json").mkdir()
    (c.mdir / "timestamp.json" / "x").write_text("x")
    p = c.refresh(check=3)
    assert "timestamp.json" in p.stderr


def test_list_offline_uses_trusted_metadata(make_client):
    """Without --metadata-url the trusted metadata is used as it is, after
    the same checks (signatures, versions, expiry at the current time)."""
    c = make_client()
    tiered(c)
    c.download("os/stable/os-1.0.img")  # loads targets and os, not app
    c.state.requests.clear()
    p = c.run("list", "--metadata-dir", c.mdir, "--json", "os/", check=0)
    assert [t["name"] for t in json.loads(p.stdout)["targets"]] == [
        "os/beta/os-1.1.img", "os/stable/os-1.0.img"]
    assert c.state.requests == []
    # app.json was never fetched: it cannot be listed offline.
    p = c.run("list", "--metadata-dir", c.mdir, "app/", check=3)
    assert "app.json cannot be fetched" in p.stderr
    # A trusted file changed on disk is not trusted any more.
    ts = json.loads(c.trusted("timestamp.json"))
    ts["signed"]["version"] = 99
    (c.mdir / "timestamp.json").write_text(json.dumps(ts))
    p = c.run("list", "--metadata-dir", c.mdir, "os/", check=3)
    assert "no valid trusted timestamp.json" in p.stderr
    # Refreshing repairs it; later, expired metadata is refused offline too.
    c.refresh()
    env = faketime_env("+3d")
    if env is None:
        pytest.skip("libfaketime not installed (scripts/install-deps)")
    p = c.run("list", "--metadata-dir", c.mdir, "os/", check=1, env=env)
    assert "timestamp.json: expired" in p.stderr


def test_power_cut_during_refresh_leaves_a_recoverable_client(make_client, tmp_path):
    """A power cut at every durable write of a refresh (root rotation,
    timestamp, snapshot, targets and a tier role written): the next refresh
    always succeeds and the target downloads (spec 5: errors must not leave
    the client unrecoverable)."""
    import shutil
    c = make_client(consistent=True)
    tiered(c)
    c.refresh()
    r = c.repo
    r.rotate_root("timestamp", new_keys=[Key()])  # the trusted timestamp stops counting
    r.add_target("os", "os/stable/os-2.0.img", b"os image 2.0")
    r.publish(["os", "targets"])
    saved = tmp_path / "saved-metadata"
    shutil.copytree(c.mdir, saved)
    count = tmp_path / "fault-count"
    c.download("os/stable/os-2.0.img", env={"VOUCH_FAULT_COUNT_FILE": str(count)})
    if not count.exists():
        pytest.skip("vouch built without -Dfault_injection=true")
    points = int(count.read_text().split()[0])
    assert points >= 10
    for i in range(1, points + 1):
        shutil.rmtree(c.mdir)
        shutil.copytree(saved, c.mdir)
        shutil.rmtree(c.tdir, ignore_errors=True)
        p = c.download("os/stable/os-2.0.img", check=None, env={"VOUCH_FAULT_CUT_AT": str(i)})
        assert p.returncode == 99, (i, p.stderr)
        c.download("os/stable/os-2.0.img")
        assert (c.tdir / "os/stable/os-2.0.img").read_bytes() == b"os image 2.0"
        assert json.loads(c.trusted("root.json"))["signed"]["version"] == 2


def test_terminating_delegation_still_searches_earlier_siblings(make_client):
    """5.6.7.2.1: a terminating delegation cuts what comes *after* it (and
    the roles still pending above), not the delegations listed before it
    in the same role (python-tuf, go-tuf, tuf-js agree)."""
    c = make_client()
    r = c.repo
    r.delegate("targets", "early", paths=["z/*"])
    r.delegate("targets", "stopper", paths=["z/*"], terminating=True)
    r.delegate("targets", "late", paths=["z/*"])
    r.add_target("early", "z/a", b"from early")
    r.add_target("late", "z/b", b"never trusted")
    r.publish()
    c.init()
    c.download("z/a")
    assert (c.tdir / "z/a").read_bytes() == b"from early"
    p = c.download("z/b", check=1)
    assert "no trusted role lists this target" in p.stderr
    # Order of visits: early, then stopper, never late.
    assert "/metadata/late.json" not in c.state.requests


def test_terminating_delegation_in_a_nested_role(make_client):
    """A terminating delegation deep in the graph also ends the search of
    the roles pending above it."""
    c = make_client()
    r = c.repo
    r.delegate("targets", "a", paths=["*"])
    r.delegate("a", "a-term", paths=["*"], terminating=True)
    r.delegate("targets", "b", paths=["*"])
    r.add_target("b", "f", b"after a terminating nested delegation")
    r.publish()
    c.init()
    p = c.download("f", check=1)
    assert "no trusted role lists this target" in p.stderr
    assert "/metadata/b.json" not in c.state.requests


@pytest.mark.parametrize("role", ["timestamp.json", "snapshot.json", "targets.json"])
@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"signatures": [], "signed": {}}'])
def test_corrupted_trusted_metadata_does_not_brick_the_client(make_client, role, damage):
    """A damaged local copy of a non-root role is treated as absent: the
    next refresh fetches and verifies a fresh one."""
    c = make_client()
    r = c.repo
    r.add_target("targets", "t", b"payload")
    r.publish()
    c.init()
    c.refresh()
    (c.mdir / role).write_bytes(damage)
    r.add_target("targets", "u", b"second payload")
    r.publish(roles=["targets"])
    c.download("t", "u")
    assert (c.tdir / "u").read_bytes() == b"second payload"
    assert json.loads(c.trusted(role))["signed"]["version"] >= 1


def test_timestamp_of_the_trusted_version_is_ignored_whatever_it_lists(make_client):
    """5.4.3.1: a new timestamp with the trusted version is discarded and
    the update goes on with the trusted one, with no error, even when its
    content differs (here: a lower snapshot version, which 5.4.3.2 would
    otherwise call a rollback). tuf-conformance test_timestamp_eq_versions."""
    c = make_client()
    r = c.repo
    r.add_target("targets", "t", b"payload")
    r.publish()
    r.publish(roles=[])
    c.init()
    c.refresh()
    trusted = c.trusted("timestamp.json")
    assert json.loads(trusted)["signed"]["version"] == 2
    for snapshot_version in (1, 100):
        r.timestamp_version = 2
        body = r.timestamp_signed()
        body["meta"]["snapshot.json"]["version"] = snapshot_version
        r.write("timestamp.json", sign(body, r.keys["timestamp"]))
        c.refresh()
        assert c.trusted("timestamp.json") == trusted


def test_root_at_the_largest_version(make_client):
    """A trusted root of version 2^63-1 has no successor: the walk ends
    there (no N+1 computed past the largest integer; UBSan builds report
    the overflow as a runtime error)."""
    c = make_client()
    r = c.repo
    r.add_target("targets", "t", b"payload")
    r.root_version = 2**63 - 1
    r.write_root()
    r.publish()
    p = c.init(root=r.root_file())
    p = c.refresh()
    assert "runtime error" not in p.stderr
    assert json.loads(c.trusted("root.json"))["signed"]["version"] == 2**63 - 1


def test_download_progress_bar_on_a_terminal_only(make_client):
    """Long transfers show a progress bar when stderr is a terminal, and
    nothing of it when the output goes to a file or a script."""
    c = make_client()
    r = c.repo
    big = os.urandom(3 * 1024 * 1024)
    r.add_target("targets", "big.bin", big)
    r.publish()
    c.init()
    argv = [c.exe, "client", "download", "--metadata-dir", c.mdir, "--metadata-url",
            c.metadata_url, "--target-base-url", c.target_url,
            "--target-dir", c.tdir, "big.bin"]
    code, out = run_on_pty(argv)
    assert code == 0, out
    assert "big.bin" in out and "100%" in out and "MiB/s" in out, out
    assert (c.tdir / "big.bin").read_bytes() == big
    (c.tdir / "big.bin").unlink()
    p = c.download("big.bin")
    assert "MiB/s" not in p.stderr and "%" not in p.stderr
    # Cached: nothing is transferred, no bar.
    code, out = run_on_pty(argv)
    assert code == 0 and "cached" in out and "MiB/s" not in out, out
