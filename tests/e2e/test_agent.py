"""vouch-agent end to end: simulated devices following channels of a static
TUF repository served on 127.0.0.1 (DESIGN.md §2, §3, §6; issue 4)."""
import http.server
import os
import signal
import subprocess
import threading
import time

import pytest

from agentlib import Device, Repo, image, make_keys, tarball
from conftest import binary, run


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    return make_keys(tmp_path_factory.mktemp("agent-keys"))


class World:
    def __init__(self, tmp, keys, http_server, handler=None):
        self.tmp = tmp
        self.repo = Repo(tmp / "repo", keys)
        self.url = (http_server(self.repo.dir, handler) if handler
                    else http_server(self.repo.dir))
        self.n = 0

    def device(self, name="dev1", **kw):
        return Device(self.tmp / name, self.url, self.repo.root, **kw)

    def release(self, name, version, security_version=0, data=None, size=60000, **kw):
        self.n += 1
        path = self.tmp / f"rel-{self.n}"
        path.write_bytes(data if data is not None else image(size, f"{name}-{version}"))
        self.repo.add(path, name, version, security_version, **kw)
        return path.read_bytes()


@pytest.fixture
def world(tmp_path, keys, http_server):
    return World(tmp_path, keys, http_server)


def install_and_commit(dev, tier="os"):
    p = dev.agent("update", check=0)
    dev.reboot()
    return p


# ---------------------------------------------------------------- basics

def test_help_and_usage(tmp_path):
    exe = binary("vouch-agent")
    p = run([exe, "--help"], check=0)
    for cmd in ("run", "check", "update", "startup", "commit", "rollback", "status",
                "boot-sim"):
        assert cmd in p.stdout
    run([exe], check=2)
    run([exe, "--config", tmp_path / "x.conf", "frobnicate"], check=2)
    run([exe, "status"], check=2)  # no --config
    bad = tmp_path / "bad.conf"
    bad.write_text("[device]\nid = x\ncolour = blue\n")
    p = run([exe, "--config", bad, "status"], check=2)
    assert "line 3: unknown key 'colour'" in p.stderr


def test_v1_then_v2_install_and_commit(world):
    v1 = world.release("os/stable/fw-1.0.0.img", "1.0.0", 0)
    dev = world.device()
    assert dev.boot() == "a"
    p = dev.agent("update", check=0)
    assert "installing 1.0.0" in p.stdout
    assert "trial boot armed" in p.stdout
    env = dev.bootenv()
    assert env["vouch_trial"] == "b" and env["vouch_tries"] == "2"
    assert dev.tier("os")["pending"]["version"] == "1.0.0"
    assert dev.slot_bytes("b", len(v1)) == v1

    assert dev.boot() == "b"
    p = dev.agent("startup", check=0)
    assert "committed 1.0.0" in p.stdout
    t = dev.tier("os")
    assert t["running"]["version"] == "1.0.0" and t["running"]["slot"] == "b"
    assert "pending" not in t or t["pending"] is None
    assert t["floor"] == 0
    assert dev.bootenv()["vouch_active"] == "b"

    v2 = world.release("os/stable/fw-2.0.0.img", "2.0.0", 1)
    p = dev.agent("update", check=0)
    assert "installing 2.0.0" in p.stdout
    assert "refuse" not in p.stdout
    assert dev.slot_bytes("a", len(v2)) == v2
    # Nothing raised the floor yet: only a commit does.
    assert dev.tier("os")["floor"] == 0
    assert dev.reboot() == "a"
    t = dev.tier("os")
    assert t["running"]["version"] == "2.0.0" and t["floor"] == 1
    assert t["previous"]["version"] == "1.0.0"
    # Up to date now; the next boot stays on a.
    p = dev.agent("update", check=0)
    assert "up to date at 2.0.0" in p.stdout
    assert dev.reboot() == "a"


def test_check_changes_nothing(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    dev.boot()
    env_before = (dev.dir / "bootenv").read_bytes()
    p = dev.agent("check", check=0)
    assert "would install" in p.stdout
    assert (dev.dir / "bootenv").read_bytes() == env_before
    assert dev.tier("os").get("pending") is None
    assert dev.slot_bytes("b", 16) == b"\0" * 16
    j = dev.agent("check", "--json", check=0)
    import json
    doc = json.loads(j.stdout)
    assert doc["tiers"]["os"]["action"] == "install"
    assert doc["tiers"]["os"]["candidate_version"] == "1.0.0"


def test_manual_commit_needs_the_trial_slot(world):
    world.release("os/stable/fw-1.img", "1.0.0", 3)
    dev = world.device()
    dev.agent("update", check=0)
    p = dev.agent("commit", check=2)
    assert "not booted into the trial slot" in p.stderr
    assert dev.boot() == "b"
    dev.agent("commit", check=0)
    t = dev.tier("os")
    assert t["running"]["version"] == "1.0.0" and t["floor"] == 3


# ---------------------------------------------------- automatic rollback

def committed_v2(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    world.release("os/stable/fw-2.img", "2.0.0", 1)
    install_and_commit(dev)
    assert dev.tier("os")["running"]["version"] == "2.0.0"
    assert dev.bootenv()["vouch_active"] == "a"
    return dev


def test_v3_failing_health_check_falls_back_and_is_marked_bad(world):
    dev = committed_v2(world)
    world.release("os/stable/fw-3.img", "3.0.0", 2)
    dev.unhealthy("os", "3.0.0")
    dev.agent("update", check=0)
    assert dev.boot() == "b"  # the trial boot
    p = dev.agent("startup", check=0)
    assert "rolled back from 3.0.0: health check failed (exit 1)" in p.stdout
    t = dev.tier("os")
    assert t["running"]["version"] == "2.0.0"
    assert t["floor"] == 1  # never raised to 3.0.0's 2
    assert [b["version"] for b in t["bad"]] == ["3.0.0"]
    assert "health check failed" in t["bad"][0]["reason"]
    env = dev.bootenv()
    assert env["vouch_active"] == "a" and "vouch_trial" not in env
    assert dev.reboot() == "a"
    # Never retried by itself.
    p = dev.agent("update", check=0)
    assert "refuse os/stable/fw-3.img (3.0.0): marked bad on this device" in p.stdout
    assert "up to date at 2.0.0" in p.stdout
    assert "vouch_trial" not in dev.bootenv()
    s = dev.agent("status", check=0).stdout
    assert "bad       3.0.0  os/stable/fw-3.img: health check failed (exit 1)" in s


def test_exhausted_boot_tries_fall_back(world):
    dev = committed_v2(world)
    world.release("os/stable/fw-3.img", "3.0.0", 2)
    dev.agent("update", check=0)
    # The new release never gets as far as startup: the bootloader counts.
    assert dev.boot() == "b"
    assert dev.boot() == "b"
    assert dev.boot() == "a"
    p = dev.agent("startup", check=0)
    assert "boot tries exhausted" in p.stdout
    t = dev.tier("os")
    assert t["running"]["version"] == "2.0.0"
    assert "boot tries exhausted" in t["bad"][0]["reason"]
    assert "vouch_trial" not in dev.bootenv()
    assert dev.reboot() == "a"


def test_raw_operator_rollback(world):
    v1 = world.release("os/stable/fw-1.img", "1.0.0", 1)
    dev = world.device()
    install_and_commit(dev)
    world.release("os/stable/fw-2.img", "2.0.0", 1)
    install_and_commit(dev)
    assert dev.bootenv()["vouch_active"] == "a"
    p = dev.agent("rollback", "os", check=0)
    assert "rolled back to 1.0.0: reboot into slot b" in p.stdout
    assert dev.reboot() == "b"
    t = dev.tier("os")
    assert t["running"]["version"] == "1.0.0" and t["floor"] == 1
    assert t["bad"][0]["version"] == "2.0.0"
    assert dev.slot_bytes("b", len(v1)) == v1
    p = dev.agent("update", check=0)
    assert "up to date at 1.0.0" in p.stdout


def test_raw_rollback_refused_below_floor_or_when_slot_changed(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    world.release("os/stable/fw-2.img", "2.0.0", 1)
    install_and_commit(dev)
    p = dev.agent("rollback", "os", check=1)
    assert "security_version 0, below the floor 1" in p.stderr
    assert dev.bootenv()["vouch_active"] == "a"
    # Same security version, but the old slot no longer holds that release.
    world.release("os/stable/fw-3.img", "3.0.0", 1)
    install_and_commit(dev)  # 3.0.0 in b, previous 2.0.0 in a
    with open(dev.dir / "slot-a", "r+b") as f:
        f.seek(100)
        f.write(b"X")
    p = dev.agent("rollback", "os", check=1)
    assert "re-read sha256 mismatch" in p.stderr
    assert dev.bootenv()["vouch_active"] == "b"
    assert dev.tier("os")["running"]["version"] == "3.0.0"


# ------------------------------------------------------------ refusals

def test_release_below_the_floor_is_refused(world):
    world.release("os/stable/fw-5.img", "5.0.0", 5)
    dev = world.device()
    install_and_commit(dev)
    assert dev.tier("os")["floor"] == 5
    # Newer version number, older security version: an attacker's pick.
    world.release("os/stable/fw-6.img", "6.0.0", 4)
    env_before = (dev.dir / "bootenv").read_bytes()
    p = dev.agent("update", check=1)
    assert ("refuse os/stable/fw-6.img (6.0.0): security_version 4 is below this "
            "device's floor 5 (anti-rollback)") in p.stdout
    assert (dev.dir / "bootenv").read_bytes() == env_before
    refusals = dev.tier("os")["last_check"]["refusals"]
    assert refusals[0]["code"] == "rollback"
    assert "below this device's floor 5" in dev.agent("status", check=0).stdout
    assert "below this device's floor 5" in dev.agent("check", check=1).stdout


def test_wrong_hardware_is_refused(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0, hardware=("board-b", "board-c"))
    dev = world.device()
    p = dev.agent("update", check=1)
    assert "hardware 'board-a' is not in the release's hardware list" in p.stdout
    assert "no installable release" in p.stdout
    assert not (dev.dir / "bootenv").exists() or "vouch_trial" not in dev.bootenv()
    other = world.device("dev2", hardware="board-c")
    other.agent("update", check=0)
    assert other.bootenv()["vouch_trial"] == "b"


def test_tampered_image_refused_and_boot_env_untouched(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    world.release("os/stable/fw-2.img", "2.0.0", 0)
    world.repo.tamper("os/stable/fw-2.img")
    env_before = (dev.dir / "bootenv").read_bytes()
    p = dev.agent("update", check=1)
    assert "install of 2.0.0 failed" in p.stdout
    assert "mismatch" in p.stdout
    assert (dev.dir / "bootenv").read_bytes() == env_before
    t = dev.tier("os")
    assert t.get("pending") is None and t["running"]["version"] == "1.0.0"
    assert "mismatch" in t["last_check"]["error"]
    assert dev.reboot() == "b"


def test_image_larger_than_its_slot_is_refused(world):
    world.release("os/stable/fw-big.img", "9.0.0", 0, size=300 * 1024)
    dev = world.device(slot_size=256 * 1024)
    p = dev.agent("update", check=1)
    assert "is larger than slot" in p.stdout
    assert not (dev.dir / "bootenv").exists() or "vouch_trial" not in dev.bootenv()
    assert dev.slot_bytes("b", 16) == b"\0" * 16


def test_path_outside_the_tier_is_never_a_candidate(world):
    # The app tier's key cannot sign an os/ path (vouch repo refuses), and
    # a device never takes an app/ target for its os tier.
    p = world.repo.vouch("repo", "add", world.repo.dir, world.tmp / "repo" / "metadata" /
                         "root.json", "--name", "os/stable/evil.img", "--key",
                         world.repo.keys["app"], "--version", "9.9.9", check=None)
    assert p.returncode != 0
    dev = world.device()
    p = dev.agent("check", check=0)
    assert "no installable release on channel os/stable/" in p.stdout


# -------------------------------------------------------------- resume

class CutOnce(http.server.SimpleHTTPRequestHandler):
    """Serves files; the first GET of a target is cut after CUT bytes.
    Records Range headers. With CORRUPT, the resumed part is corrupted."""
    CUT = 100000
    CORRUPT = False
    seen = []
    cut_done = False

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        if "/targets/os/" not in self.path:
            return super().do_GET()
        cls.seen.append(self.headers.get("Range"))
        path = self.translate_path(self.path)
        data = open(path, "rb").read()
        rng = self.headers.get("Range")
        if not cls.cut_done:
            cls.cut_done = True
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:cls.CUT])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        start = 0
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
        body = bytearray(data[start:])
        if cls.CORRUPT and body:
            body[len(body) // 2] ^= 1
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(bytes(body))


@pytest.mark.parametrize("corrupt", [False, True], ids=["resumes", "resumed-bytes-checked"])
def test_interrupted_download_resumes_with_range(tmp_path, keys, http_server, corrupt):
    handler = type("Cut", (CutOnce,), {"seen": [], "cut_done": False, "CORRUPT": corrupt})
    w = World(tmp_path, keys, http_server, handler)
    img = w.release("os/stable/fw-1.img", "1.0.0", 0, size=400 * 1024)
    dev = w.device(slot_size=512 * 1024)
    p = dev.agent("update", check=1 if corrupt else 0)
    assert handler.seen[0] is None
    assert handler.seen[1] == f"bytes={CutOnce.CUT}-", handler.seen
    assert "resuming at byte 100000" in p.stderr
    if corrupt:
        assert "mismatch" in p.stdout
        assert "vouch_trial" not in dev.bootenv()
    else:
        assert dev.slot_bytes("b", len(img)) == img
        assert dev.bootenv()["vouch_trial"] == "b"


# ------------------------------------------------------------- archives

def app_release(world, version, secver=0, files=None, members=None):
    members = members or [("bin", "dir", None), ("bin/app", "file", f"app {version}\n"),
                          ("VERSION", "file", version + "\n"), ("run", "symlink", "bin/app")]
    return world.release(f"app/prod/app-{version}.tar.gz", version, secver,
                         data=tarball(members), custom={"format": "archive"})


def current(dev):
    return (dev.dir / "app" / "current" / "VERSION").read_text().strip()


def test_archive_swap_health_rollback(world):
    dev = world.device()
    app_release(world, "1.0.0")
    p = dev.agent("update", check=0)
    assert "committed 1.0.0" in p.stdout
    link = dev.dir / "app" / "current"
    assert link.is_symlink() and current(dev) == "1.0.0"
    assert (link / "run").read_text() == "app 1.0.0\n"
    v1_dir = os.path.realpath(link)

    app_release(world, "2.0.0", 1)
    dev.agent("update", check=0)
    assert current(dev) == "2.0.0"
    assert os.path.isdir(v1_dir)  # previous kept for rollback
    t = dev.tier("app")
    assert t["running"]["version"] == "2.0.0" and t["floor"] == 1

    app_release(world, "3.0.0", 1)
    dev.unhealthy("app", "3.0.0")
    p = dev.agent("update", check=0)
    assert "rolled back from 3.0.0: health check failed" in p.stdout
    assert current(dev) == "2.0.0"
    t = dev.tier("app")
    assert t["bad"][0]["version"] == "3.0.0"
    assert not any(os.path.basename(d["dir"]) in os.listdir(dev.dir / "app")
                   for d in t["bad"] if "dir" in d)

    # Operator rollback to 1.0.0: allowed only while the floor permits it.
    p = dev.agent("rollback", "app", check=1)
    assert "below the floor 1" in p.stderr
    assert current(dev) == "2.0.0"


def test_archive_operator_rollback(world):
    dev = world.device()
    app_release(world, "1.0.0")
    dev.agent("update", check=0)
    app_release(world, "2.0.0")
    dev.agent("update", check=0)
    assert current(dev) == "2.0.0"
    p = dev.agent("rollback", "app", check=0)
    assert "committed 1.0.0" in p.stdout
    assert current(dev) == "1.0.0"
    t = dev.tier("app")
    assert t["running"]["version"] == "1.0.0"
    assert t["bad"][0]["version"] == "2.0.0"
    assert "rolled back by the operator" in t["bad"][0]["reason"]
    # update does not go back to 2.0.0 by itself
    p = dev.agent("update", check=0)
    assert "up to date at 1.0.0" in p.stdout


def test_health_check_timeout_falls_back(world):
    dev = world.device()
    app_release(world, "1.0.0")
    dev.agent("update", check=0)
    text = dev.config.read_text().replace(
        "timeout = 10", "timeout = 1").replace(
        "command = test ! -e", "command = test \"$VOUCH_VERSION\" != 2.0.0 || sleep 30; test ! -e")
    dev.config.write_text(text)
    app_release(world, "2.0.0")
    t0 = time.time()
    p = dev.agent("update", check=0)
    assert time.time() - t0 < 15
    assert "health check failed: timed out after 1 s" in p.stdout
    assert current(dev) == "1.0.0"
    assert "timed out" in dev.tier("app")["bad"][0]["reason"]


@pytest.mark.parametrize("members,why", [
    ([("../evil", "file", "x")], "'..' in path"),
    ([("ok/../../evil", "file", "x")], "'..' in path"),
    ([("/tmp/vouch-evil-abs", "file", "x")], "absolute path"),
    ([("link", "symlink", "../../outside")], "link escapes the directory"),
    ([("d", "dir", None), ("d/link", "symlink", "../..")], "link escapes the directory"),
    ([("link", "symlink", "/etc")], "link escapes the directory"),
    ([("hl", "hardlink", "../../etc/passwd")], "hard link escapes"),
    ([("dev", "chardev", None)], "device node, fifo or socket refused"),
    ([("fifo", "fifo", None)], "device node, fifo or socket refused"),
    # A symlink to the root itself, then a write through it.
    ([("s", "symlink", "."), ("s/x", "file", "x")], "symlink"),
    # Review: ".." after a component that is itself a link to ".".
    ([("a", "symlink", "."), ("x", "symlink", "a/a/../..")], "link escapes the directory"),
    # Review: a hard link to a symlink copies the link to another depth.
    ([("d", "dir", None), ("d/e", "dir", None), ("d/e/l", "symlink", "../.."),
      ("hl", "hardlink", "d/e/l")], "is not a regular file of the archive"),
], ids=["dotdot", "inner-dotdot", "absolute", "symlink-escape", "nested-symlink-escape",
        "absolute-symlink", "hardlink-escape", "device", "fifo", "write-through-symlink",
        "dotdot-through-link", "hardlink-to-symlink"])
def test_hostile_tarballs_refused(world, members, why):
    dev = world.device()
    app_release(world, "1.0.0")
    dev.agent("update", check=0)
    before = sorted(os.listdir(dev.dir / "app"))
    world.release("app/prod/app-2.0.0.tar.gz", "2.0.0", 0,
                  data=tarball([("VERSION", "file", "2.0.0\n")] + members),
                  custom={"format": "archive"})
    p = dev.agent("update", check=1)
    assert why in p.stdout, p.stdout
    assert current(dev) == "1.0.0"
    assert sorted(os.listdir(dev.dir / "app")) == before  # fresh dir removed
    assert not os.path.exists(dev.dir / "evil") and not os.path.exists(dev.dir / "outside")
    assert not os.path.exists("/tmp/vouch-evil-abs")
    assert dev.tier("app")["running"]["version"] == "1.0.0"


# --------------------------------------------------------- other backends

def test_grub_backend(world):
    world.release("os/stable/fw-1.img", "1.0.0", 2)
    dev = world.device()
    grubenv = dev.dir / "grubenv"
    text = dev.config.read_text().replace(
        "backend = file\nenv-file = " + str(dev.dir / "bootenv"),
        f"backend = grub\nenv-file = {grubenv}")
    dev.config.write_text(text)
    run(["grub-editenv", grubenv, "create"], check=0)
    run(["grub-editenv", grubenv, "set", "unrelated=kept"], check=0)
    dev.agent("update", check=0)
    env = run(["grub-editenv", grubenv, "list"], check=0).stdout
    assert "vouch_trial=b" in env and "vouch_tries=2" in env and "unrelated=kept" in env
    assert grubenv.stat().st_size == 1024
    # What grub.cfg does on the trial boot (docs/agent.md).
    run(["grub-editenv", grubenv, "set", "vouch_tries=1", "vouch_booted=b"], check=0)
    p = dev.agent("startup", check=0)
    assert "committed 1.0.0" in p.stdout
    env = run(["grub-editenv", grubenv, "list"], check=0).stdout
    assert "vouch_active=b" in env and "vouch_trial" not in env
    assert dev.tier("os")["floor"] == 2


def test_uboot_backend(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    envfile = dev.dir / "uboot.env"
    envfile.write_bytes(b"\xff" * 0x4000)
    fwcfg = dev.dir / "fw_env.config"
    fwcfg.write_text(f"{envfile} 0x0000 0x4000\n")
    text = dev.config.read_text().replace(
        "backend = file\nenv-file = " + str(dev.dir / "bootenv"),
        f"backend = uboot\nuboot-config = {fwcfg}")
    dev.config.write_text(text)
    dev.agent("update", check=0)
    p = run(["fw_printenv", "-c", fwcfg], check=0).stdout
    assert "vouch_trial=b" in p and "vouch_tries=2" in p
    # What the U-Boot script does on the trial boot.
    run(["fw_setenv", "-c", fwcfg, "vouch_booted", "b"], check=0)
    run(["fw_setenv", "-c", fwcfg, "vouch_tries", "1"], check=0)
    dev.agent("startup", check=0)
    p = run(["fw_printenv", "-c", fwcfg], check=0).stdout
    assert "vouch_active=b" in p and "vouch_trial" not in p


def test_script_boot_backend(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    store = dev.dir / "platform-env"
    tool = dev.dir / "bootctl.sh"
    tool.write_text(f"""#!/bin/sh
case "$1" in
get) cat {store} 2>/dev/null || true ;;
set) cat > {store}.new && mv {store}.new {store} ;;
*) exit 2 ;;
esac
""")
    text = dev.config.read_text().replace(
        "backend = file\nenv-file = " + str(dev.dir / "bootenv"),
        f"backend = script\ncommand = sh {tool}")
    dev.config.write_text(text)
    dev.agent("update", check=0)
    env = dict(l.split("=", 1) for l in store.read_text().splitlines())
    assert env["vouch_trial"] == "b" and env["vouch_tries"] == "2"
    env["vouch_booted"] = "b"
    env["vouch_tries"] = "1"
    store.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    p = dev.agent("startup", check=0)
    assert "committed 1.0.0" in p.stdout
    env = dict(l.split("=", 1) for l in store.read_text().splitlines())
    assert env["vouch_active"] == "b" and "vouch_trial" not in env


# ---------------------------------------------------------------- daemon

def test_daemon_polls_and_stops_on_sigterm(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    proc = subprocess.Popen([binary("vouch-agent"), "--config", str(dev.config), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and "vouch_trial" not in dev.bootenv():
            time.sleep(0.1)
        assert dev.bootenv().get("vouch_trial") == "b"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "trial boot armed" in out
    # The lock is free again.
    dev.agent("update", check=0)


# ------------------------------------------------------------ script tier

def test_script_installer_gets_only_verified_bytes(world):
    dev = world.device()
    out = dev.dir / "installed"
    text = dev.config.read_text().replace(
        f"installer = archive\ndir = {dev.dir}/app/current",
        f"installer = script\ncommand = cat > {out}; echo \"$VOUCH_TIER $VOUCH_VERSION\" > {out}.env")
    dev.config.write_text(text)
    data = world.release("app/prod/blob-1", "1.0.0", 1, size=70000)
    p = dev.agent("update", check=0)
    assert "committed 1.0.0" in p.stdout
    assert out.read_bytes() == data
    assert (dev.dir / "installed.env").read_text() == "app 1.0.0\n"
    assert dev.tier("app")["floor"] == 1
    out.unlink()
    world.release("app/prod/blob-2", "2.0.0", 1, size=70000)
    world.repo.tamper("app/prod/blob-2")
    p = dev.agent("update", check=1)
    assert "mismatch" in p.stdout
    assert not out.exists()  # the command never saw a byte
    assert dev.tier("app")["running"]["version"] == "1.0.0"


def _gone(pid):
    """True once pid has exited (a zombie re-parented to init counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("reads", [False, True], ids=["stdin-never-read", "reads-then-hangs"])
def test_script_installer_timeout_kills_the_process_group(world, reads):
    """A script installer that hangs (with or without draining its stdin) is
    killed with its whole process group after the tier's timeout; the
    install fails with the reason and nothing else changes."""
    dev = world.device()
    os_data = world.release("os/stable/fw-1.img", "1.0.0", 1)
    install_and_commit(dev)
    assert dev.tier("os")["running"]["version"] == "1.0.0"
    pids = dev.dir / "pids"
    drain = "cat > /dev/null; " if reads else ""
    text = dev.config.read_text().replace(
        f"installer = archive\ndir = {dev.dir}/app/current",
        f"installer = script\ntimeout = 2\n"
        f"command = echo $$ > {pids}; {drain}sleep 300 & echo $! >> {pids}; wait")
    dev.config.write_text(text)
    # Larger than a pipe buffer: a command that never reads blocks the feed.
    world.release("app/prod/blob-1", "1.0.0", 1, size=300000)
    env_before = dev.bootenv()
    slots_before = (dev.slot_bytes("a", dev.slot_size), dev.slot_bytes("b", dev.slot_size))
    started = time.monotonic()
    p = dev.agent("update", timeout=60)
    took = time.monotonic() - started
    assert p.returncode == 3, p.stdout + p.stderr
    assert "install of 1.0.0 failed: install command timed out after 2 s" in p.stdout
    assert took < 20
    assert dev.bootenv() == env_before
    assert (dev.slot_bytes("a", dev.slot_size), dev.slot_bytes("b", dev.slot_size)) == slots_before
    app = dev.tier("app")
    assert app.get("running") is None and app.get("pending") is None
    assert not app.get("bad")
    assert dev.tier("os")["running"]["version"] == "1.0.0"
    assert not (dev.dir / "data" / "spool").exists()
    ids = [int(x) for x in pids.read_text().split()]
    assert len(ids) == 2  # the shell and its background child
    deadline = time.time() + 5
    while not all(_gone(i) for i in ids):
        if time.time() > deadline:
            for i in ids:
                try:
                    os.kill(i, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise AssertionError("the install command's process group survived the timeout")
        time.sleep(0.1)
    assert os_data == dev.slot_bytes("a", len(os_data)) or \
        os_data == dev.slot_bytes("b", len(os_data))


@pytest.mark.parametrize("installer,value,why", [
    ("archive", "5", "timeout applies to installer script only"),
    ("script", "0", "'timeout' must be an integer in [1, 86400]"),
    ("script", "86401", "'timeout' must be an integer in [1, 86400]"),
])
def test_script_installer_timeout_config(world, installer, value, why):
    dev = world.device()
    line = ("installer = script\ncommand = cat > /dev/null" if installer == "script"
            else f"installer = archive\ndir = {dev.dir}/app/current")
    text = dev.config.read_text().replace(
        f"installer = archive\ndir = {dev.dir}/app/current", f"{line}\ntimeout = {value}")
    dev.config.write_text(text)
    p = dev.agent("status")
    assert p.returncode != 0
    assert why in p.stdout + p.stderr


# ------------------------------------------------------------ encryption

def test_encrypted_release_only_for_recipients(world):
    vouch = binary("vouch")
    env = {"VOUCH_KEY_LOG": str(world.tmp / "kl")}
    for k in ("group", "other"):
        run([vouch, "keygen", "--type", "x25519", "--no-passphrase", "--out",
             world.tmp / k], check=0, env=env)
    plain = image(90000, "secret firmware")
    (world.tmp / "plain").write_bytes(plain)
    run([vouch, "encrypt", "--to", world.tmp / "group.pub", "-o", world.tmp / "ct",
         world.tmp / "plain"], check=0)
    import hashlib
    enc = {"encryption": {"suite": "vouch-enc-v1/aes-256-gcm", "plaintext_length": len(plain),
                          "plaintext_sha256": hashlib.sha256(plain).hexdigest()}}
    world.release("os/stable/fw-enc.img", "1.0.0", 0,
                  data=(world.tmp / "ct").read_bytes(), custom=enc)

    holder = world.device("holder", extra="")
    holder.config.write_text(holder.config.read_text().replace(
        "data-dir =", f"decryption-key = {world.tmp / 'group'}\ndata-dir ="))
    holder.agent("update", check=0)
    assert holder.slot_bytes("b", len(plain)) == plain
    assert holder.reboot() == "b"
    assert holder.tier("os")["running"]["version"] == "1.0.0"

    stranger = world.device("stranger")
    stranger.config.write_text(stranger.config.read_text().replace(
        "data-dir =", f"decryption-key = {world.tmp / 'other'}\ndata-dir ="))
    p = stranger.agent("update", check=1)
    assert "not a recipient" in p.stdout
    assert stranger.slot_bytes("b", 64) == b"\0" * 64
    assert not (stranger.dir / "bootenv").exists() or "vouch_trial" not in stranger.bootenv()
    assert "not a recipient" in stranger.tier("os")["last_check"]["error"]
    assert "not a recipient" in stranger.agent("status", check=0).stdout

    keyless = world.device("keyless")
    p = keyless.agent("update", check=1)
    assert "this device has no [device] decryption-key" in p.stdout


def test_archive_refuses_a_real_directory_at_the_live_path(world):
    dev = world.device()
    (dev.dir / "app" / "current").mkdir()
    (dev.dir / "app" / "current" / "keep").write_text("mine")
    app_release(world, "1.0.0")
    p = dev.agent("update", check=3)
    assert "exists and is not a symlink" in p.stdout + p.stderr
    assert (dev.dir / "app" / "current" / "keep").read_text() == "mine"
    assert sorted(os.listdir(dev.dir / "app")) == ["current"]


# ------------------------------------------------- review: exit codes

def test_update_exit_code_ignores_superseded_refusals(world):
    """Exit 1 only when a release newer than the one the tier ends the cycle
    with was refused (or the chosen one failed a check); refusals of
    releases the cycle supersedes are reported but exit 0."""
    import json as _json
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    world.release("os/stable/fw-2.img", "2.0.0", 0, hardware=("board-z",))
    p = dev.agent("update", check=1)
    assert "1 release(s) newer than 1.0.0 refused" in p.stdout
    world.release("os/stable/fw-3.img", "3.0.0", 0)
    p = dev.agent("update", check=0)
    assert "refuse os/stable/fw-2.img (2.0.0): hardware 'board-a'" in p.stdout
    assert dev.bootenv()["vouch_trial"] == "a"
    assert dev.reboot() == "a"
    assert dev.tier("os")["running"]["version"] == "3.0.0"
    j = _json.loads(dev.agent("check", "--json", check=0).stdout)
    assert j["rejected"] is False and j["tiers"]["os"]["newer_refused"] == 0
    assert j["tiers"]["os"]["refusals"][0]["version"] == "2.0.0"
    # A newer release refused while an older one installs: still exit 1,
    # and the same on the next cycle (a cron job sees a steady answer).
    world.release("os/stable/fw-4.img", "4.0.0", 0)
    world.release("os/stable/fw-5.img", "5.0.0", 0, hardware=("board-z",))
    p = dev.agent("update", check=1)
    assert "1 release(s) newer than 4.0.0 refused" in p.stdout
    assert dev.bootenv()["vouch_trial"] == "b"
    dev.reboot()
    j = _json.loads(dev.agent("update", "--json", check=1).stdout)
    assert j["rejected"] is True and j["tiers"]["os"]["newer_refused"] == 1
    assert dev.tier("os")["running"]["version"] == "4.0.0"


# ------------------------------------------- review: decision inputs

def test_empty_hardware_list_names_no_device(world):
    """Fail closed: a release signed without any hardware is not for every
    board; it is refused with a reason and the exit code says so."""
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    path = world.tmp / "nohw.img"
    path.write_bytes(image(50000, "nohw"))
    world.repo.vouch("repo", "add", world.repo.dir, path, "--name", "os/stable/fw-2.img",
                     "--key", world.repo.keys["os"], "--version", "2.0.0",
                     "--security-version", "0")
    world.repo.publish()
    env_before = (dev.dir / "bootenv").read_bytes()
    p = dev.agent("update", check=1)
    assert ("refuse os/stable/fw-2.img (2.0.0): missing or empty hardware list "
            "(it names no device)") in p.stdout
    assert (dev.dir / "bootenv").read_bytes() == env_before
    assert "missing or empty hardware list" in dev.agent("status", check=0).stdout


# --------------------------------------------- review: damaged state

@pytest.mark.parametrize("damage", [b"{not json", b'{"format": 1, "tiers": {"os": {"floor": -1}}}',
                                    b"[" * 100000])
def test_damaged_state_keeps_the_device_booting(world, damage):
    """A state file that does not parse never makes the device unbootable:
    boot-sim works, startup disarms an unknown trial (back to the committed
    slot) and says why, status shows the damage; update/commit/rollback
    refuse (exit 3) and never overwrite the file (its floors)."""
    world.release("os/stable/fw-1.img", "1.0.0", 2)
    dev = world.device()
    install_and_commit(dev)
    world.release("os/stable/fw-2.img", "2.0.0", 3)
    dev.agent("update", check=0)
    assert dev.bootenv()["vouch_trial"] == "a"
    state = dev.dir / "data" / "state.json"
    state.write_bytes(damage)
    assert dev.boot() == "a"  # the bootloader tries the trial slot
    p = dev.agent("startup", check=3)
    assert "state damaged" in p.stdout and "trial disarmed" in p.stdout
    assert "committed slot b" in p.stdout
    assert dev.boot() == "b"  # the committed slot, never the unknown trial
    s = dev.agent("status", check=3)
    assert "state: DAMAGED" in s.stdout
    assert "state_error" in dev.agent("status", "--json", check=3).stdout
    for cmd in (["update"], ["check"], ["commit"], ["rollback", "os"]):
        p = dev.agent(*cmd, check=3)
        assert "refusing to act without it" in p.stderr
    assert state.read_bytes() == damage
    # The operator removes it: the device starts over (floors 0) and works.
    state.unlink()
    dev.agent("update", check=0)


def test_rollback_of_an_unknown_tier_is_a_usage_error(world):
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    p = dev.agent("rollback", "oss", check=2)
    assert "no [tier.oss]" in p.stderr
    assert dev.tier("os")["running"]["version"] == "1.0.0"


def test_health_check_timeout_kills_the_whole_process_group(world):
    """A timed-out health check is killed with everything it started."""
    dev = world.device()
    app_release(world, "1.0.0")
    dev.agent("update", check=0)
    pidfile = dev.dir / "grandchild.pid"
    text = dev.config.read_text().replace("timeout = 10", "timeout = 1").replace(
        "command = test ! -e",
        f"command = test \"$VOUCH_VERSION\" != 2.0.0 || {{ sleep 300 & echo $! > {pidfile}; "
        "wait; }; test ! -e")
    dev.config.write_text(text)
    app_release(world, "2.0.0")
    p = dev.agent("update", check=0)
    assert "timed out after 1 s" in p.stdout
    pid = int(pidfile.read_text())
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # A zombie re-parented to init is gone for our purpose.
        try:
            if open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z"):
                break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("the health check's background child survived the timeout")


def test_many_refusals_do_not_grow_the_state_without_bound(world):
    """Every refusal is printed, but a tier's stored decision keeps at most
    32 of them (state.json must stay readable whatever the channel holds)."""
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    lines = []
    for i in range(40):
        f = world.tmp / f"other-{i}.img"
        f.write_bytes(image(1000, f"other-{i}"))
        lines.append(f"{f} os/stable/other-{i:02d}.img")
    (world.tmp / "batch").write_text("\n".join(lines) + "\n")
    world.repo.vouch("repo", "add", world.repo.dir, "--batch", world.tmp / "batch", "--key",
                     world.repo.keys["os"], "--version", "0.5.0", "--security-version", "0",
                     "--hardware", "board-z")
    world.repo.publish()
    p = dev.agent("update", check=0)  # older than 1.0.0: reported, not a failure
    assert p.stdout.count("refuse os/stable/other-") == 40
    lc = dev.tier("os")["last_check"]
    assert len(lc["refusals"]) == 32 and lc["refusals_omitted"] == 8
    assert "8 more (see check)" in dev.agent("status", check=0).stdout


def test_encrypted_release_with_a_short_plaintext_hash_is_refused(world):
    """The plaintext hash must be a whole sha256: a short one would leave
    part of the expected digest unset."""
    vouch = binary("vouch")
    env = {"VOUCH_KEY_LOG": str(world.tmp / "kl")}
    run([vouch, "keygen", "--type", "x25519", "--no-passphrase", "--out", world.tmp / "group"],
        check=0, env=env)
    plain = image(20000, "short hash")
    (world.tmp / "plain").write_bytes(plain)
    run([vouch, "encrypt", "--to", world.tmp / "group.pub", "-o", world.tmp / "ct",
         world.tmp / "plain"], check=0)
    import hashlib
    enc = {"encryption": {"suite": "vouch-enc-v1/aes-256-gcm", "plaintext_length": len(plain),
                          "plaintext_sha256": hashlib.sha256(plain).hexdigest()[:2]}}
    world.release("os/stable/fw-enc.img", "1.0.0", 0,
                  data=(world.tmp / "ct").read_bytes(), custom=enc)
    dev = world.device()
    dev.config.write_text(dev.config.read_text().replace(
        "data-dir =", f"decryption-key = {world.tmp / 'group'}\ndata-dir ="))
    p = dev.agent("update", check=1)
    assert "malformed encryption fields" in p.stdout
    assert dev.slot_bytes("b", 64) == b"\0" * 64
    assert not (dev.dir / "bootenv").exists() or "vouch_trial" not in dev.bootenv()


def _encrypted(world, plain, tag):
    """plain encrypted for world.tmp/group (made once); the ciphertext."""
    vouch = binary("vouch")
    if not (world.tmp / "group").exists():
        run([vouch, "keygen", "--type", "x25519", "--no-passphrase", "--out",
             world.tmp / "group"], check=0, env={"VOUCH_KEY_LOG": str(world.tmp / "kl")})
    (world.tmp / f"plain-{tag}").write_bytes(plain)
    run([vouch, "encrypt", "--to", world.tmp / "group.pub", "-o", world.tmp / f"ct-{tag}",
         world.tmp / f"plain-{tag}"], check=0)
    return (world.tmp / f"ct-{tag}").read_bytes()


def test_encrypted_release_with_wrong_signed_plaintext_is_refused(world):
    """The ciphertext is authentic (signed hashes and AEAD both pass), but the
    signed plaintext_sha256 / plaintext_length do not describe what it
    decrypts to. Raw: the slot is written, then its re-read is checked
    against the signed plaintext sha256 and refused before the boot
    environment is touched. Archive: refused on the stream, nothing made
    live."""
    import hashlib
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    dev.config.write_text(dev.config.read_text().replace(
        "data-dir =", f"decryption-key = {world.tmp / 'group'}\ndata-dir ="))
    plain = image(70000, "wrong plaintext")
    ct = _encrypted(world, plain, "raw")
    install_and_commit(dev)
    env_before = (dev.dir / "bootenv").read_bytes()
    assert dev.bootenv()["vouch_active"] == "b"

    wrong = bytearray(hashlib.sha256(plain).digest())
    wrong[31] ^= 1
    enc = {"encryption": {"suite": "vouch-enc-v1/aes-256-gcm", "plaintext_length": len(plain),
                          "plaintext_sha256": wrong.hex()}}
    world.release("os/stable/fw-2.img", "2.0.0", 0, data=ct, custom=enc)
    p = dev.agent("update", check=1)
    assert "decrypted content does not match its signed sha256" in p.stdout + p.stderr
    assert "re-read sha256 mismatch" in p.stdout + p.stderr
    assert (dev.dir / "bootenv").read_bytes() == env_before
    t = dev.tier("os")
    assert t["running"]["version"] == "1.0.0" and not t.get("pending")

    # A plaintext length one byte short or long, with the right hash.
    for n, (delta, why) in enumerate(((-1, "more output than the expected"),
                                      (1, "decrypted content is"))):
        enc = {"encryption": {"suite": "vouch-enc-v1/aes-256-gcm",
                              "plaintext_length": len(plain) + delta,
                              "plaintext_sha256": hashlib.sha256(plain).hexdigest()}}
        world.release(f"os/stable/fw-{3 + n}.img", f"{3 + n}.0.0", 0, data=ct, custom=enc)
        p = dev.agent("update", check=1)
        assert why in p.stdout + p.stderr, p.stdout
        assert (dev.dir / "bootenv").read_bytes() == env_before
        t = dev.tier("os")
        assert t["running"]["version"] == "1.0.0" and not t.get("pending")
    assert dev.reboot() == "b"
    assert dev.tier("os")["running"]["version"] == "1.0.0"

    # Archive: the same lie about the plaintext, caught on the stream.
    tgz = tarball([("VERSION", "file", "6.0.0\n")])
    enc = {"format": "archive",
           "encryption": {"suite": "vouch-enc-v1/aes-256-gcm", "plaintext_length": len(tgz),
                          "plaintext_sha256": hashlib.sha256(tgz + b"x").hexdigest()}}
    world.release("app/prod/app-6.0.0.tar.gz", "6.0.0", 0, data=_encrypted(world, tgz, "app"),
                  custom=enc)
    p = dev.agent("update", check=1)
    assert "decrypted content does not match its signed length and sha256" in p.stdout + p.stderr
    assert not os.path.lexists(dev.dir / "app" / "current")


# ----------------------------------- review: the tier must be the signer

def _canonical(obj):
    import json as _json
    return _json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _resign(path_in, path_out, key_file, mutate):
    """Loads signed metadata, applies mutate(signed), bumps the version and
    re-signs it with key_file (ed25519 PKCS#8 PEM) under the same key id."""
    import json as _json
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    doc = _json.loads(path_in.read_text())
    mutate(doc["signed"])
    doc["signed"]["version"] += 1
    key = load_pem_private_key(key_file.read_bytes(), password=None)
    keyid = doc["signatures"][0]["keyid"]
    doc["signatures"] = [{"keyid": keyid, "sig": key.sign(_canonical(doc["signed"])).hex()}]
    data = _json.dumps(doc, indent=1).encode()
    path_out.write_bytes(data)
    return doc["signed"]["version"], data


def test_target_listed_by_another_role_is_refused(world):
    """The top-level targets role (or any role but the tier) listing a path
    under the tier's channel: a valid TUF target, but not signed by the tier
    that owns the path, so never installed."""
    import hashlib
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    dev = world.device()
    install_and_commit(dev)
    md = world.repo.dir / "metadata"
    data = image(30000, "evil")
    digest = hashlib.sha256(data).hexdigest()
    (world.repo.dir / "targets" / "os" / "stable" / f"{digest}.evil.img").write_bytes(data)

    def latest(role):
        return max(md.glob(f"*.{role}.json"), key=lambda p: int(p.name.split(".")[0]))

    def add_evil(signed):
        signed["targets"]["os/stable/evil.img"] = {
            "length": len(data), "hashes": {"sha256": digest},
            "custom": {"vouch": {"version": "9.9.9", "security_version": 9,
                                 "hardware": ["board-a"], "tier": "os", "format": "raw"}}}

    tv = int(latest("targets").name.split(".")[0]) + 1
    tv, tdata = _resign(latest("targets"), md / f"{tv}.targets.json", world.repo.keys["targets"],
                        add_evil)

    def bump_targets(signed):
        signed["meta"]["targets.json"] = {"version": tv, "length": len(tdata),
                                          "hashes": {"sha256": hashlib.sha256(tdata).hexdigest()}}

    sv = int(latest("snapshot").name.split(".")[0]) + 1
    sv, sdata = _resign(latest("snapshot"), md / f"{sv}.snapshot.json",
                        world.repo.keys["snapshot"], bump_targets)

    def bump_snapshot(signed):
        signed["meta"]["snapshot.json"] = {"version": sv, "length": len(sdata),
                                           "hashes": {"sha256": hashlib.sha256(sdata).hexdigest()}}

    _resign(md / "timestamp.json", md / "timestamp.json", world.repo.keys["timestamp"],
            bump_snapshot)
    env_before = (dev.dir / "bootenv").read_bytes()
    p = dev.agent("update", check=1)
    assert ("refuse os/stable/evil.img (9.9.9): signed by role 'targets', not by tier 'os'"
            in p.stdout), p.stdout
    assert (dev.dir / "bootenv").read_bytes() == env_before
    assert dev.slot_bytes("a", 16) != data[:16]
    assert dev.tier("os")["last_check"]["refusals"][0]["code"] == "denied"


def test_archive_tier_recovers_after_the_state_file_is_removed(world):
    """The documented way out of a damaged state (remove it) must not leave
    an archive tier stuck on "is the live directory": the release is
    extracted and verified again into a fresh directory."""
    dev = world.device()
    app_release(world, "1.0.0")
    dev.agent("update", check=0)
    assert current(dev) == "1.0.0"
    (dev.dir / "data" / "state.json").unlink()
    p = dev.agent("update", check=0)
    assert "committed 1.0.0" in p.stdout
    assert current(dev) == "1.0.0"
    assert dev.tier("app")["running"]["version"] == "1.0.0"
    assert dev.agent("check", check=0).stdout.count("up to date at 1.0.0") == 1
    app_release(world, "2.0.0")
    dev.agent("update", check=0)
    assert current(dev) == "2.0.0"
    # Only the running and the previous release directories remain.
    assert len([n for n in os.listdir(dev.dir / "app") if n.startswith("current.")]) == 2


def _publish_mutated(world, role, key, mutate):
    """Re-signs the latest ROLE metadata after mutate(signed), then a new
    snapshot and timestamp (what a key holder could publish by hand)."""
    import hashlib
    md = world.repo.dir / "metadata"

    def latest(r):
        return max(md.glob(f"*.{r}.json"), key=lambda p: int(p.name.split(".")[0]))

    rv = int(latest(role).name.split(".")[0]) + 1
    rv, rdata = _resign(latest(role), md / f"{rv}.{role}.json", key, mutate)

    def bump_role(signed):
        signed["meta"][f"{role}.json"] = {
            "version": rv, "length": len(rdata),
            "hashes": {"sha256": hashlib.sha256(rdata).hexdigest()}}

    sv = int(latest("snapshot").name.split(".")[0]) + 1
    sv, sdata = _resign(latest("snapshot"), md / f"{sv}.snapshot.json",
                        world.repo.keys["snapshot"], bump_role)

    def bump_snapshot(signed):
        signed["meta"]["snapshot.json"] = {
            "version": sv, "length": len(sdata),
            "hashes": {"sha256": hashlib.sha256(sdata).hexdigest()}}

    _resign(md / "timestamp.json", md / "timestamp.json", world.repo.keys["timestamp"],
            bump_snapshot)


def test_missing_security_version_counts_as_zero(world):
    """`vouch repo add` always writes security_version; a release signed
    without one (another tool) counts as 0: installable at floor 0, below
    any raised floor."""
    world.release("os/stable/fw-1.img", "1.0.0", 0)
    world.release("os/stable/fw-2.img", "2.0.0", 0)
    world.release("os/stable/fw-0.img", "0.5.0", 3)

    def drop_secver(signed):
        del signed["targets"]["os/stable/fw-2.img"]["custom"]["vouch"]["security_version"]

    _publish_mutated(world, "os", world.repo.keys["os"], drop_secver)
    dev = world.device()
    p = dev.agent("check", check=0)
    assert "candidate 2.0.0 (os/stable/fw-2.img, security_version 0)" in p.stdout
    install_and_commit(dev)
    assert dev.tier("os")["running"]["version"] == "2.0.0"
    # A device whose floor rose refuses it as below the floor.
    high = world.device("dev-high")
    state = high.dir / "data" / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"format": 1, "tiers": {"os": {"floor": 3, "bad": []}}}')
    p = high.agent("check", check=1)
    assert ("refuse os/stable/fw-2.img (2.0.0): security_version 0 is below this device's "
            "floor 3") in p.stdout
    assert "candidate 0.5.0" in p.stdout
