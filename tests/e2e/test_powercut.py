"""Power cuts at every durable step of vouch-agent (DESIGN.md §6).

The test build compiles fault-injection points into every write, fsync,
rename, symlink swap and boot-environment write (src/lib/fault.h). For an
update, a commit and a fall-back, the uncut run reports how many points it
passes (VOUCH_FAULT_COUNT_FILE); then the same run is repeated from the same
starting state with a cut at each point in turn (VOUCH_FAULT_CUT_AT=N: the
process dies there with exit 99). After each cut the device "reboots"
(boot-sim, then startup) and must boot a slot holding a complete, verified
image, parse its state, keep its floors consistent, and finish a further
update cycle."""
import hashlib
import os
import shutil

import pytest

from agentlib import Device, Repo, image, make_keys, tarball


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return make_keys(tmp_path_factory.mktemp("powercut-keys"))


def app_tar(version):
    return tarball([("VERSION", "file", version + "\n"), ("bin", "dir", None),
                    ("bin/app", "file", f"app {version}\n"), ("run", "symlink", "bin/app")])


class Scenario:
    def __init__(self, tmp, keys, http_server):
        self.tmp = tmp
        self.repo = Repo(tmp / "repo", keys)
        self.url = http_server(self.repo.dir)
        self.images = {}
        self.n = 0

    def release(self, tier, version, secver):
        self.n += 1
        path = self.tmp / f"rel-{self.n}"
        if tier == "os":
            data = image(48 * 1024, f"os-{version}")
            self.images[hashlib.sha256(data).hexdigest()] = version
            path.write_bytes(data)
            self.repo.add(path, f"os/stable/fw-{version}.img", version, secver)
        else:
            path.write_bytes(app_tar(version))
            self.repo.add(path, f"app/prod/app-{version}.tar.gz", version, secver,
                          custom={"format": "archive"})


def snapshot(dev, to):
    if to.exists():
        shutil.rmtree(to)
    shutil.copytree(dev.dir, to, symlinks=True)


def restore(dev, frm):
    shutil.rmtree(dev.dir)
    shutil.copytree(frm, dev.dir, symlinks=True)


def count_points(dev, args, tmp):
    count = tmp / "count"
    env = {"VOUCH_FAULT_COUNT_FILE": str(count)}
    p = dev.agent(*args, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return int(count.read_text())


def check_device(sc, dev, versions):
    """After a cut: reboot and check everything the device relies on."""
    slot = dev.boot()
    st = dev.status()  # the state parses
    os_t = st["tiers"]["os"]
    run_rel = os_t.get("running")
    # The booted slot holds a complete image that was verified: the
    # committed one, the trial one the state knows about, or (a cut while
    # falling back, before the boot environment was told) the release just
    # marked bad, which startup then leaves at once.
    known = [r for r in (run_rel, os_t.get("pending")) if r] + os_t.get("bad", [])
    match = [r for r in known if r.get("slot") == slot]
    assert match, (slot, st)
    r = match[0]
    data = dev.slot_bytes(slot, r["written_length"])
    assert hashlib.sha256(data).hexdigest() == r["written_sha256"]
    assert sc.images.get(r["written_sha256"]) == r["version"]
    p = dev.agent("startup")
    assert p.returncode == 0, p.stdout + p.stderr
    st = dev.status()
    for name, t in st["tiers"].items():
        run_rel = t.get("running")
        # Floors only rise, and only to what was committed.
        if run_rel:
            assert t["floor"] == run_rel["security_version"], (name, t)
            assert run_rel["version"] in versions[name], (name, t)
        else:
            assert t["floor"] == 0
    # The archive tier's live link points to the running release.
    app = st["tiers"]["app"]
    link = dev.dir / "app" / "current"
    if app.get("running") and not app.get("pending"):
        assert os.path.realpath(link) == os.path.realpath(app["running"]["dir"])
        assert (link / "VERSION").read_text().strip() == app["running"]["version"]


def finish(dev, expect):
    """A further update cycle (and the reboots it needs) reaches expect."""
    for _ in range(3):
        p = dev.agent("update")
        assert p.returncode == 0, p.stdout + p.stderr
        dev.reboot()
    st = dev.status()
    for tier, version in expect.items():
        assert st["tiers"][tier]["running"]["version"] == version, st


def cut_every_point(sc, dev, args, base, tmp, versions, expect, capsys, after=None):
    restore(dev, base)
    n = count_points(dev, args, tmp)
    assert n > 0
    covered = 0
    for k in range(1, n + 1):
        restore(dev, base)
        env = {"VOUCH_FAULT_CUT_AT": str(k)}
        p = dev.agent(*args, env=env)
        assert p.returncode == 99, (k, p.stdout, p.stderr)
        assert f"power cut at point {k}" in p.stderr
        covered += 1
        check_device(sc, dev, versions)
        if after:
            after(dev)
        finish(dev, expect)
    with capsys.disabled():
        print(f"\npower cut: {' '.join(args)} ({tmp.name}): covered {covered} of {n} cut points")
    assert covered == n
    return n


@pytest.fixture
def scenario(tmp_path, keys, http_server):
    sc = Scenario(tmp_path, keys, http_server)
    sc.release("os", "1.0.0", 1)
    sc.release("app", "1.0.0", 1)
    dev = Device(tmp_path / "dev", sc.url, sc.repo.root)
    dev.boot()
    p = dev.agent("update", check=0)
    assert "committed 1.0.0" in p.stdout  # app
    dev.reboot()
    assert dev.tier("os")["running"]["version"] == "1.0.0"
    return sc, dev


def test_powercut_during_update(scenario, tmp_path, capsys):
    sc, dev = scenario
    sc.release("os", "2.0.0", 2)
    sc.release("app", "2.0.0", 2)
    base = tmp_path / "base"
    snapshot(dev, base)
    versions = {"os": {"1.0.0", "2.0.0"}, "app": {"1.0.0", "2.0.0"}}
    n = cut_every_point(sc, dev, ["update"], base, tmp_path, versions,
                        {"os": "2.0.0", "app": "2.0.0"}, capsys)
    assert n >= 10


def test_powercut_during_commit(scenario, tmp_path, capsys):
    sc, dev = scenario
    sc.release("os", "2.0.0", 2)
    dev.agent("update", check=0)
    assert dev.boot() == "a"  # the trial boot; startup will commit
    base = tmp_path / "base"
    snapshot(dev, base)
    versions = {"os": {"1.0.0", "2.0.0"}, "app": {"1.0.0"}}
    n = cut_every_point(sc, dev, ["startup"], base, tmp_path, versions,
                        {"os": "2.0.0", "app": "1.0.0"}, capsys)
    assert n >= 5


def test_powercut_during_fallback(scenario, tmp_path, capsys):
    sc, dev = scenario
    sc.release("os", "2.0.0", 2)
    dev.unhealthy("os", "2.0.0")
    dev.agent("update", check=0)
    assert dev.boot() == "a"
    base = tmp_path / "base"
    snapshot(dev, base)
    versions = {"os": {"1.0.0"}, "app": {"1.0.0"}}

    def still_bad(d):
        # Whatever the cut, the release is either still on trial (and will
        # fail again) or marked bad: it never becomes the running one.
        assert d.tier("os")["running"]["version"] == "1.0.0"

    n = cut_every_point(sc, dev, ["startup"], base, tmp_path, versions,
                        {"os": "1.0.0", "app": "1.0.0"}, capsys, after=still_bad)
    assert n >= 4
    assert dev.tier("os")["bad"][0]["version"] == "2.0.0"
