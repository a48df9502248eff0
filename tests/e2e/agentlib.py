"""Helpers for the vouch-agent end-to-end tests: a signed tiered repository
made with `vouch repo`, and simulated devices (slot files, a file-backend
boot environment, a data directory, a health check that fails on request).
"""
import io
import json
import os
import pathlib
import tarfile

from conftest import binary, run

TIER_KEYS = ("root", "targets", "snapshot", "timestamp", "os", "app")


def make_keys(directory):
    """Unencrypted ed25519 keys for every role (once per session)."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    env = {"VOUCH_KEY_LOG": str(directory / "key-usage.log")}
    keys = {}
    for name in TIER_KEYS:
        path = directory / name
        if not path.exists():
            run([binary("vouch"), "keygen", "--no-passphrase", "--out", path], check=0, env=env)
        keys[name] = path
    return keys


class Repo:
    """A static TUF repository with the tiers os and app."""

    def __init__(self, directory, keys):
        self.dir = pathlib.Path(directory)
        self.keys = keys
        self.env = {"VOUCH_KEY_LOG": str(self.dir.parent / "key-usage.log")}
        k = keys
        self.vouch("repo", "init", self.dir, "--root-key", k["root"], "--targets-key",
                   k["targets"], "--snapshot-key", k["snapshot"], "--timestamp-key",
                   k["timestamp"])
        for tier in ("os", "app"):
            self.vouch("repo", "tier", "add", self.dir, tier, "--tier-key", f"{k[tier]}.pub",
                       "--key", k["targets"])
        # A tier's metadata is published with its first target: give each
        # tier one outside the channels the devices follow.
        note = self.dir.parent / "placeholder.txt"
        note.write_text("not a release\n")
        for tier in ("os", "app"):
            self.add(note, f"{tier}/placeholder/readme.txt", "0.0.1", publish=False)
        self.publish()

    def vouch(self, *args, check=0):
        return run([binary("vouch"), *args], check=check, env=self.env)

    @property
    def root(self):
        return self.dir / "metadata" / "1.root.json"

    def add(self, path, name, version, security_version=0, hardware=("board-a",),
            custom=None, key=None, publish=True):
        tier = name.split("/")[0]
        args = ["repo", "add", self.dir, path, "--name", name, "--key",
                key or self.keys[tier], "--version", version, "--security-version",
                str(security_version)]
        for h in hardware:
            args += ["--hardware", h]
        if custom:
            args += ["--custom", json.dumps(custom)]
        self.vouch(*args)
        if publish:
            self.publish()

    def publish(self):
        self.vouch("repo", "publish", self.dir, "--snapshot-key", self.keys["snapshot"],
                   "--timestamp-key", self.keys["timestamp"])

    def target_files(self, name):
        """The stored file(s) of a target (hash-prefixed with consistent
        snapshots)."""
        base = pathlib.Path(name).name
        parent = self.dir / "targets" / pathlib.Path(name).parent
        return [p for p in parent.iterdir() if p.name == base or p.name.endswith("." + base)]

    def tamper(self, name, offset=None):
        """Flips one byte of a stored target on the server (same length).
        The hash-prefixed copies may be hard links of one file: each inode
        is changed once."""
        seen = set()
        for f in self.target_files(name):
            ino = f.stat().st_ino
            if ino in seen:
                continue
            seen.add(ino)
            data = bytearray(f.read_bytes())
            data[len(data) // 2 if offset is None else offset] ^= 0xFF
            f.write_bytes(bytes(data))


def image(size, seed):
    """Deterministic bytes of a raw image."""
    block = (f"vouch image {seed} ".encode() * 64)[:4096]
    return (block * (size // len(block) + 1))[:size]


def tarball(members):
    """members: list of (name, kind, data_or_target). kind: file, dir,
    symlink, hardlink, fifo, chardev."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, kind, val in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "file":
                data = val if isinstance(val, bytes) else val.encode()
                ti.size = len(data)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(data))
                continue
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = val
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = val
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            elif kind == "chardev":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = 1, 3
            tf.addfile(ti)
    return buf.getvalue()


class Device:
    """A simulated device: two slot files, a boot environment file, a data
    directory, and an archive tier directory."""

    def __init__(self, directory, base_url, root, hardware="board-a", slot_size=256 * 1024,
                 max_tries=2, extra=""):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.slot_size = slot_size
        for s in ("a", "b"):
            p = self.dir / f"slot-{s}"
            if not p.exists():
                p.write_bytes(b"\0" * slot_size)
        (self.dir / "app").mkdir(exist_ok=True)
        self.config = self.dir / "agent.conf"
        self.config.write_text(f"""# simulated device
[device]
id = {self.dir.name}
hardware = {hardware}
data-dir = {self.dir}/data

[trust]
image-root = {root}

[repository]
metadata-url = {base_url}/metadata
targets-url = {base_url}/targets
retries = 3
low-speed-time = 5

[boot]
backend = file
env-file = {self.dir}/bootenv
max-tries = {max_tries}

[health]
command = test ! -e {self.dir}/unhealthy-$VOUCH_TIER-$VOUCH_VERSION
timeout = 10

[agent]
poll-interval = 1
poll-jitter = 0

[tier.os]
channel = os/stable/
installer = raw
slot-a = {self.dir}/slot-a
slot-b = {self.dir}/slot-b

[tier.app]
channel = app/prod/
installer = archive
dir = {self.dir}/app/current
{extra}""")

    def agent(self, *args, check=None, env=None, timeout=120):
        return run([binary("vouch-agent"), "--config", self.config, *args], check=check,
                   env=env, timeout=timeout)

    def unhealthy(self, tier, version):
        (self.dir / f"unhealthy-{tier}-{version}").write_text("")

    def boot(self, env=None):
        p = self.agent("boot-sim", check=0, env=env)
        slot = p.stdout.strip().splitlines()[-1]
        assert slot in ("a", "b"), p.stdout
        return slot

    def reboot(self):
        """boot-sim then startup, as the device does at power-on."""
        slot = self.boot()
        self.agent("startup", check=0)
        return slot

    def status(self):
        return json.loads(self.agent("status", "--json", check=0).stdout)

    def tier(self, name):
        return self.status()["tiers"][name]

    def bootenv(self):
        env = {}
        p = self.dir / "bootenv"
        if p.exists():
            for line in p.read_text().splitlines():
                if line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    env[k] = v
        return env

    def slot_bytes(self, slot, n):
        return (self.dir / f"slot-{slot}").read_bytes()[:n]
