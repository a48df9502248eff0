"""A small, independent TUF 1.0 repository writer for tests.

It writes root, targets (with delegations), snapshot and timestamp metadata
signed with ed25519 (python3-cryptography), with or without consistent
snapshots, so that the attack tests can craft every malicious variant
without going through `vouch repo`.

    repo = Repo(tmp_path / "repo")              # 1 key per top-level role
    repo.add_target("targets", "a.txt", b"hello")
    repo.delegate("targets", "os", paths=["os/*", "os/*/*"], terminating=True)
    repo.add_target("os", "os/stable/img-1.bin", b"...")
    repo.publish()                              # every role, version 1
    ... client init with repo.root_file() ...
    repo.add_target("os", "os/stable/img-2.bin", b"...")
    repo.publish(["os"])                        # os v2, snapshot v2, timestamp v2

Metadata is served from repo.metadata_dir, targets from repo.targets_dir.
Low-level helpers (sign, signed bodies, write) let tests build anything.
"""
import copy
import datetime
import hashlib
import json
import os
import pathlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SPEC_VERSION = "1.0.34"


def faketime_env(offset):
    """Environment that shifts the C library's clock by offset (e.g. "+2d")
    with libfaketime (Debian package faketime), or None if it is missing."""
    import glob
    libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not libs:
        return None
    return {"LD_PRELOAD": libs[0], "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            # an ASan build of vouch would object to a preloaded library
            "ASAN_OPTIONS": "verify_asan_link_order=0"}
TOP = ("root", "timestamp", "snapshot", "targets")


def canonical(obj):
    """OLPC canonical JSON as TUF signs it (no floats). Strings escape only
    '\\' and '"': control characters (the newlines of a PEM public key)
    stay raw, unlike json.dumps."""
    def enc(o):
        if isinstance(o, bool) or o is None:
            return {True: "true", False: "false", None: "null"}[o]
        if isinstance(o, int):
            return str(o)
        if isinstance(o, str):
            return '"' + o.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(o, (list, tuple)):
            return "[" + ",".join(enc(v) for v in o) + "]"
        if isinstance(o, dict):
            return "{" + ",".join(enc(k) + ":" + enc(o[k]) for k in sorted(o)) + "}"
        raise TypeError(f"not canonical JSON: {type(o).__name__}")
    return enc(obj).encode("utf-8")


def expires_in(days=30, seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        days=days, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Key:
    """An ed25519 signing key with its TUF public form and key id."""

    def __init__(self, priv=None):
        self.priv = priv or ed25519.Ed25519PrivateKey.generate()
        raw = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)
        self.public = {"keytype": "ed25519", "scheme": "ed25519",
                       "keyval": {"public": raw.hex()}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        return self.priv.sign(data).hex()


class EcdsaKey(Key):
    """An ECDSA P-256 key as securesystemslib writes it (keytype "ecdsa",
    PEM public key, DER signatures over SHA-256)."""

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import ec
        self.priv = ec.generate_private_key(ec.SECP256R1())
        pem = self.priv.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public = {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                       "keyval": {"public": pem.decode()}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        return self.priv.sign(data, ec.ECDSA(hashes.SHA256())).hex()


class RsaPssKey(Key):
    """An RSA 3072 key with scheme rsassa-pss-sha256 (salt = digest length)."""

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.priv = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        pem = self.priv.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public = {"keytype": "rsa", "scheme": "rsassa-pss-sha256",
                       "keyval": {"public": pem.decode()}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        return self.priv.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                salt_length=32), hashes.SHA256()).hex()


class RsaPkcs1Key(RsaPssKey):
    """An RSA 3072 key with scheme rsa-pkcs1v15-sha256 (PKCS#1 v1.5 padding,
    SHA-256): the key the TUF conformance suite signs every role with by
    default. vouch verifies such keys but never makes them."""

    def __init__(self):
        super().__init__()
        self.public = dict(self.public, scheme="rsa-pkcs1v15-sha256")
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256()).hex()


class EcdsaP384Key(Key):
    """An ECDSA P-384 key, scheme ecdsa-sha2-nistp384 (SHA-384, DER
    signatures), under keytype "ecdsa" or the legacy "ecdsa-sha2-nistp384".
    Verified by vouch, never made by it."""

    def __init__(self, keytype="ecdsa"):
        from cryptography.hazmat.primitives.asymmetric import ec
        self.priv = ec.generate_private_key(ec.SECP384R1())
        pem = self.priv.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public = {"keytype": keytype, "scheme": "ecdsa-sha2-nistp384",
                       "keyval": {"public": pem.decode()}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        return self.priv.sign(data, ec.ECDSA(hashes.SHA384())).hex()


def alias_key(key, cls=None, **public):
    """The same private key under another public spelling (public fields
    replaced by `public`), hence another key id: a test of whether a client
    counts keys or key ids. cls: the signing class (default: key's)."""
    cls = cls or type(key)
    a = cls.__new__(cls)
    a.priv = key.priv
    a.public = dict(key.public, **public)
    a.keyid = hashlib.sha256(canonical(a.public)).hexdigest()
    assert a.keyid != key.keyid or not public
    return a


def sign(signed, keys, extra_sigs=()):
    """Envelope {signatures, signed} signed by each key (a key listed twice
    signs twice); extra_sigs are appended as given."""
    msg = canonical(signed)
    sigs = [{"keyid": k.keyid, "sig": k.sign(msg)} for k in keys]
    sigs.extend(extra_sigs)
    return {"signatures": sigs, "signed": signed}


def dump(env):
    """Bytes of a metadata file (pretty-printed: clients must not care)."""
    return (json.dumps(env, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def file_meta(data, version, with_hashes=True):
    m = {"version": version}
    if with_hashes:
        m["length"] = len(data)
        m["hashes"] = {"sha256": hashlib.sha256(data).hexdigest()}
    return m


class Role:
    """A targets role: top-level "targets" or a delegated one."""

    def __init__(self, name, keys, threshold=1):
        self.name = name
        self.keys = list(keys)
        self.threshold = threshold
        self.targets = {}
        self.delegations = []  # list of dicts: name, paths|path_hash_prefixes, terminating
        self.version = 0
        self.expires = expires_in(30)
        self.extra = {}  # unknown fields to add to `signed`


class Repo:
    def __init__(self, path, consistent=False, root_keys=1, root_threshold=1,
                 meta_hashes=True, hash_algs=("sha256",), key_class=Key):
        self.path = pathlib.Path(path)
        self.metadata_dir = self.path / "metadata"
        self.targets_dir = self.path / "targets"
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        self.consistent = consistent
        self.meta_hashes = meta_hashes
        self.hash_algs = hash_algs
        self.keys = {"root": [key_class() for _ in range(root_keys)],
                     "timestamp": [key_class()], "snapshot": [key_class()],
                     "targets": [key_class()]}
        self.thresholds = {"root": root_threshold, "timestamp": 1, "snapshot": 1,
                           "targets": 1}
        self.root_version = 0
        self.root_expires = expires_in(365)
        self.snapshot_version = 0
        self.snapshot_expires = expires_in(7)
        self.timestamp_version = 0
        self.timestamp_expires = expires_in(1)
        self.roles = {"targets": Role("targets", self.keys["targets"])}
        self.root_extra = {}
        self._written = {}
        self._snapshot_bytes = b""

    # -- signed bodies --------------------------------------------------------

    def root_signed(self):
        keys = {}
        roles = {}
        for r in TOP:
            for k in self.keys[r]:
                keys[k.keyid] = k.public
            roles[r] = {"keyids": [k.keyid for k in self.keys[r]],
                        "threshold": self.thresholds[r]}
        s = {"_type": "root", "spec_version": SPEC_VERSION, "version": self.root_version,
             "expires": self.root_expires, "consistent_snapshot": self.consistent,
             "keys": keys, "roles": roles}
        s.update(self.root_extra)
        return s

    def targets_signed(self, name):
        role = self.roles[name]
        s = {"_type": "targets", "spec_version": SPEC_VERSION, "version": role.version,
             "expires": role.expires, "targets": copy.deepcopy(role.targets)}
        if role.delegations:
            keys = {}
            roles = []
            for d in role.delegations:
                child = self.roles[d["name"]]
                for k in child.keys:
                    keys[k.keyid] = k.public
                entry = {"name": d["name"], "keyids": [k.keyid for k in child.keys],
                         "threshold": child.threshold, "terminating": d["terminating"]}
                if d.get("paths") is not None:
                    entry["paths"] = d["paths"]
                else:
                    entry["path_hash_prefixes"] = d["path_hash_prefixes"]
                roles.append(entry)
            s["delegations"] = {"keys": keys, "roles": roles}
        s.update(role.extra)
        return s

    def snapshot_signed(self):
        meta = {}
        for name, role in self.roles.items():
            data = self._written.get(name)
            meta[f"{name}.json"] = file_meta(data, role.version,
                                             self.meta_hashes and data is not None)
        return {"_type": "snapshot", "spec_version": SPEC_VERSION,
                "version": self.snapshot_version, "expires": self.snapshot_expires,
                "meta": meta}

    def timestamp_signed(self, snapshot_bytes=None):
        data = snapshot_bytes if snapshot_bytes is not None else self._snapshot_bytes
        return {"_type": "timestamp", "spec_version": SPEC_VERSION,
                "version": self.timestamp_version, "expires": self.timestamp_expires,
                "meta": {"snapshot.json": file_meta(data, self.snapshot_version,
                                                    self.meta_hashes)}}

    # -- files ------------------------------------------------------------------

    def write(self, filename, env_or_bytes):
        data = env_or_bytes if isinstance(env_or_bytes, bytes) else dump(env_or_bytes)
        # A role name with '/' is requested percent-encoded; a static
        # server decodes it into a subdirectory.
        (self.metadata_dir / filename).parent.mkdir(parents=True, exist_ok=True)
        (self.metadata_dir / filename).write_bytes(data)
        return data

    def write_role(self, name, version, env_or_bytes):
        """Writes a role's file under the names clients request."""
        fname = f"{name}.json"
        data = self.write(fname, env_or_bytes)
        if self.consistent:
            self.write(f"{version}.{fname}", data)
        return data

    def root_file(self, version=None):
        return self.metadata_dir / f"{version or self.root_version}.root.json"

    def write_root(self, signers=None):
        """Writes the current root as N.root.json and root.json, signed by
        signers (default: the current root keys)."""
        env = sign(self.root_signed(), signers if signers is not None else self.keys["root"])
        data = self.write(f"{self.root_version}.root.json", env)
        self.write("root.json", data)
        return data

    def rotate_root(self, role="root", new_keys=None, threshold=None, signers=None):
        """Next root version with new keys for role, signed by the old and
        new root keys (or by signers)."""
        old_root_keys = list(self.keys["root"])
        if new_keys is not None:
            self.keys[role] = list(new_keys)
            if role == "targets":
                self.roles["targets"].keys = list(new_keys)
        if threshold is not None:
            self.thresholds[role] = threshold
        self.root_version += 1
        if signers is None:
            signers = old_root_keys + [k for k in self.keys["root"] if k not in old_root_keys]
        return self.write_root(signers)

    def target_bytes_path(self, name, data):
        """Where a target's bytes are served (HASH.NAME when consistent)."""
        p = self.targets_dir / name
        if self.consistent:
            h = hashlib.sha256(data).hexdigest()
            p = p.parent / f"{h}.{p.name}"
        return p

    def add_target(self, role, name, data, custom=None, write_file=True, hashes=None):
        info = {"length": len(data), "hashes": hashes or {
            alg: hashlib.new(alg, data).hexdigest() for alg in self.hash_algs}}
        if custom is not None:
            info["custom"] = custom
        self.roles[role].targets[name] = info
        if write_file:
            p = self.target_bytes_path(name, data)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        return info

    def delegate(self, parent, name, keys=None, threshold=1, paths=None,
                 path_hash_prefixes=None, terminating=False):
        if paths is None and path_hash_prefixes is None:
            paths = ["*"]
        role = Role(name, keys or [Key()], threshold)
        self.roles[name] = role
        self.roles[parent].delegations.append(
            {"name": name, "paths": paths, "path_hash_prefixes": path_hash_prefixes,
             "terminating": terminating})
        return role

    def sign_role(self, name, signers=None):
        role = self.roles[name]
        return sign(self.targets_signed(name), signers if signers is not None else role.keys)

    def publish(self, roles=None, root=None, snapshot=True, timestamp=True):
        """Bumps and writes the given targets roles (all on the first
        publish), then a new snapshot and timestamp. Writes root version 1
        on the first publish."""
        if self.root_version == 0:
            self.root_version = 1
            self.write_root()
        if roles is None:
            roles = [n for n, r in self.roles.items() if r.version == 0] or []
        for n in roles:
            role = self.roles[n]
            role.version += 1
            self._written[n] = self.write_role(n, role.version, self.sign_role(n))
        if snapshot:
            self.snapshot_version += 1
            self._snapshot_bytes = self.write_role(
                "snapshot", self.snapshot_version,
                sign(self.snapshot_signed(), self.keys["snapshot"]))
        if timestamp:
            self.timestamp_version += 1
            self.write("timestamp.json", sign(self.timestamp_signed(), self.keys["timestamp"]))

    def republish_timestamp(self):
        self.timestamp_version += 1
        self.write("timestamp.json", sign(self.timestamp_signed(), self.keys["timestamp"]))

    def snapshot_bytes(self):
        return self._snapshot_bytes

    def written(self, role):
        return self._written.get(role)


def read_json(path):
    return json.loads(pathlib.Path(path).read_bytes())


def copy_tree(src, dst):
    """Copies a repository directory (a frozen older mirror)."""
    src, dst = pathlib.Path(src), pathlib.Path(dst)
    for root, _dirs, files in os.walk(src):
        rel = pathlib.Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            (dst / rel / f).write_bytes((pathlib.Path(root) / f).read_bytes())


# -- a server that misbehaves on request, and a client driver ---------------

import http.server  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402


class Misbehaviour:
    """What the server does, per request path (e.g. "/metadata/timestamp.json"):
    "endless" (200, no length, bytes forever), "trickle" (one byte every
    0.2 s), "404", or bytes to serve instead of the file. Every request
    path is recorded in .requests."""

    def __init__(self):
        self.rules = {}
        self.requests = []


def make_handler(state):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            state.requests.append(path)
            rule = state.rules.get(path)
            if rule is None:
                return super().do_GET()
            try:
                if rule == "404":
                    self.send_error(404)
                elif rule == "endless":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.end_headers()
                    chunk = b"{" * 65536
                    for _ in range(8192):  # at most 512 MiB
                        self.wfile.write(chunk)
                elif rule == "trickle":
                    self.send_response(200)
                    self.end_headers()
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        self.wfile.write(b"{")
                        self.wfile.flush()
                        time.sleep(0.2)
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(rule)))
                    self.end_headers()
                    self.wfile.write(rule)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


class Client:
    """Drives `vouch client` against a repository served over HTTP."""

    def __init__(self, exe, run, repo, base_url, state, tmp):
        self.exe = exe
        self._run = run
        self.repo = repo
        self.base = base_url
        self.state = state
        self.mdir = tmp / "client-metadata"
        self.tdir = tmp / "client-targets"
        self.metadata_url = base_url + "/metadata"
        self.target_url = base_url + "/targets"

    def run(self, *args, check=None, env=None, timeout=120):
        return self._run([self.exe, "client", *args], check=check, env=env, timeout=timeout)

    def init(self, root=None, check=0):
        return self.run("init", "--metadata-dir", self.mdir,
                        root or self.repo.root_file(1), check=check)

    def refresh(self, *extra, check=0, env=None, url=None):
        return self.run("refresh", "--metadata-dir", self.mdir, "--metadata-url",
                        url or self.metadata_url, *extra, check=check, env=env)

    def download(self, *names, extra=(), check=0, env=None, url=None):
        return self.run("download", "--metadata-dir", self.mdir, "--metadata-url",
                        url or self.metadata_url, "--target-base-url", self.target_url,
                        "--target-dir", self.tdir, *extra, *names, check=check, env=env)

    def list(self, prefix=None, check=0):
        args = ["list", "--metadata-dir", self.mdir, "--metadata-url", self.metadata_url,
                "--json"]
        if prefix is not None:
            args.append(prefix)
        p = self.run(*args, check=check)
        return json.loads(p.stdout) if p.returncode == 0 else p

    def trusted(self, name):
        return (self.mdir / name).read_bytes()
