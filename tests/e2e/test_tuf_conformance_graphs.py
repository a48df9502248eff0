"""The scenarios of the TUF conformance suite (theupdateframework/
tuf-conformance: test_updater_delegation_graphs, test_keys,
test_updater_key_rotations, test_quoting_issues, test_static_repositories),
written again for `vouch client` with tests/e2e/tufrepo.py.

Like the suite, the repository lives in memory and is served by a small
HTTP server that decodes each request path once and logs the raw path, so a
test sees exactly which (percent-encoded) names the client asked for and in
which order. Each test looks only at what a client shows from the outside:
exit status, trusted metadata in the metadata directory, requests made and
artifact files written."""
import hashlib
import http.server
import json
import socketserver
import threading
import urllib.parse

import pytest
from conftest import binary, run
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from tufrepo import (Client, EcdsaP384Key, Key, Repo, Role, RsaPkcs1Key, alias_key, canonical,
                     dump, sign)

TOP_FILES = ("root.json", "timestamp.json", "snapshot.json", "targets.json")


# -- keys of the other TUF key types ------------------------------------------

class EcdsaKey:
    """ecdsa / ecdsa-sha2-nistp256 with a PEM public key (python-tuf's form)."""

    def __init__(self):
        self.priv = ec.generate_private_key(ec.SECP256R1())
        pem = self.priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.public = {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                       "keyval": {"public": pem}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        return self.priv.sign(data, ec.ECDSA(hashes.SHA256())).hex()


class RsaPssKey:
    """rsa / rsassa-pss-sha256 (salt as long as the digest)."""

    def __init__(self):
        self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = self.priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.public = {"keytype": "rsa", "scheme": "rsassa-pss-sha256",
                       "keyval": {"public": pem}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        return self.priv.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                salt_length=32), hashes.SHA256()).hex()


class UnknownKey:
    """A key of a type no client knows (e.g. tuf-on-ci's sigstore-oidc)."""

    def __init__(self):
        self.public = {"keytype": "sigstore-oidc", "scheme": "Fulcio",
                       "keyval": {"identity": "someone@example.com",
                                  "issuer": "https://issuer.example"}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        return "00" * 64


class EcdsaP521Key(EcdsaKey):
    """ecdsa-sha2-nistp521: a scheme vouch does not verify (ignored)."""

    def __init__(self):
        self.priv = ec.generate_private_key(ec.SECP521R1())
        pem = self.priv.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.public = {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp521",
                       "keyval": {"public": pem}}
        self.keyid = hashlib.sha256(canonical(self.public)).hexdigest()

    def sign(self, data):
        return self.priv.sign(data, ec.ECDSA(hashes.SHA512())).hex()


# -- an in-memory repository and its server ------------------------------------

class MemRepo(Repo):
    """tufrepo.Repo whose files live in a dict {decoded URL path: bytes}, so
    that role names like "/x" or "../x" never touch the disk."""

    def __init__(self, path, **kw):
        self.files = {}
        super().__init__(path, **kw)

    def write(self, filename, env_or_bytes):
        data = env_or_bytes if isinstance(env_or_bytes, bytes) else dump(env_or_bytes)
        self.files["metadata/" + filename] = data
        return data

    def add_target(self, role, name, data, **kw):
        kw["write_file"] = False
        info = super().add_target(role, name, data, **kw)
        served = name
        if self.consistent:
            d, sep, base = name.rpartition("/")
            served = f"{d}{sep}{hashlib.sha256(data).hexdigest()}.{base}"
        self.files["targets/" + served] = data
        return info

    def root_file(self, version=None):
        v = version or self.root_version
        p = self.path / f"initial-{v}.root.json"
        p.write_bytes(self.files[f"metadata/{v}.root.json"])
        return p

    def served(self, name):
        return self.files["metadata/" + name]


class RequestLog:
    def __init__(self):
        self.requests = []  # raw request paths, in order

    def metadata(self):
        """Metadata file names requested, still percent-encoded."""
        p = "/metadata/"
        return [r[len(p):] for r in self.requests if r.startswith(p)]

    def delegated(self):
        """Delegated role names (encoded) requested as 1.NAME.json / NAME.json."""
        out = []
        for n in self.metadata():
            base = n[:-len(".json")]
            ver, _, rest = base.partition(".")
            if ver.isdigit():
                base = rest
            if base not in ("root", "timestamp", "snapshot", "targets"):
                out.append(base)
        return out


def mem_handler(repo, log):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            log.requests.append(self.path)
            # The path must not hold a raw '?' or '#': the client encodes them.
            key = urllib.parse.unquote(self.path.lstrip("/"), errors="strict")
            data = repo.files.get(key)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@pytest.fixture
def make_client(tmp_path):
    servers = []

    def _make(consistent=True, meta_hashes=False, **kw):
        # The suite's simulator: consistent snapshots, no hashes/length in
        # the timestamp's and snapshot's meta.
        repo = MemRepo(tmp_path / "repo", consistent=consistent, meta_hashes=meta_hashes, **kw)
        log = RequestLog()
        srv = _Server(("127.0.0.1", 0), mem_handler(repo, log))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        c = Client(binary("vouch"), run, repo, f"http://127.0.0.1:{srv.server_address[1]}",
                   log, tmp_path)
        c.log = log
        return c

    yield _make
    for s in servers:
        s.shutdown()
        s.server_close()


def version(c, role):
    """Version of the trusted copy of role; None if there is none."""
    p = c.mdir / f"{role}.json"
    return json.loads(p.read_bytes())["signed"]["version"] if p.exists() else None


def trusted_files(c):
    return sorted(p.name for p in c.mdir.iterdir() if p.name.endswith(".json"))


# -- test_updater_delegation_graphs: traversal order --------------------------

# (delegator, role, paths or None for ["*"], terminating)
GRAPHS = {
    "basic-delegation": ([("targets", "A", None, False)], ["A"]),
    "single-level-delegations": (
        [("targets", "A", None, False), ("targets", "B", None, False)], ["A", "B"]),
    "two-level-delegations": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("B", "C", None, False)], ["A", "B", "C"]),
    "two-level-test-DFS-order-of-traversal": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("A", "C", None, False), ("A", "D", None, False)], ["A", "C", "D", "B"]),
    "three-level-delegation-test-DFS-order-of-traversal": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("A", "C", None, False), ("C", "D", None, False)], ["A", "C", "D", "B"]),
    "two-level-terminating-ignores-all-but-roles-descendants": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("A", "C", None, True), ("A", "D", None, False)], ["A", "C"]),
    "three-level-terminating-ignores-all-but-roles-descendants": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("A", "C", None, True), ("C", "D", None, False)], ["A", "C", "D"]),
    "two-level-ignores-all-branches-not-matching-paths": (
        [("targets", "A", ["*.py"], False), ("targets", "B", None, False),
         ("A", "C", None, False)], ["B"]),
    "three-level-ignores-all-branches-not-matching-paths": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("A", "C", ["*.py"], False), ("C", "D", None, False)], ["A", "B"]),
    "cyclic-graph": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("B", "C", None, False), ("C", "D", None, False), ("D", "B", None, False)],
        ["A", "B", "C", "D"]),
    "two-roles-delegating-to-a-third": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("B", "C", None, False), ("A", "C", None, False)], ["A", "C", "B"]),
    "two-roles-delegating-to-a-third-different-paths": (
        [("targets", "A", None, False), ("targets", "B", None, False),
         ("B", "C", None, False), ("A", "C", ["*.py"], False)], ["A", "B", "C"]),
}


def build_graph(repo, delegations):
    """Each delegation brings a new key for its role, as in the suite (a
    role delegated twice is signed by both keys, and both delegations list
    both)."""
    for parent, name, paths, terminating in delegations:
        key = Key()
        if name in repo.roles:
            repo.roles[name].keys.append(key)
            repo.roles[parent].delegations.append(
                {"name": name, "paths": paths or ["*"], "path_hash_prefixes": None,
                 "terminating": terminating})
        else:
            repo.delegate(parent, name, keys=[key], paths=paths or ["*"],
                          terminating=terminating)


@pytest.mark.parametrize("case", GRAPHS.values(), ids=GRAPHS.keys())
def test_graph_traversal_order(make_client, case):
    delegations, visited = case
    c = make_client()
    build_graph(c.repo, delegations)
    c.repo.publish()
    c.init()
    # A name no role lists: the search visits the graph and fails (exit 1).
    c.download("missingpath", check=1)
    assert c.log.delegated() == visited
    files = trusted_files(c)
    assert all(f in files for f in TOP_FILES)
    assert all(f"{r}.json" in files for r in visited)
    # Not visited: not fetched, not stored.
    others = {d[1] for d in delegations} - set(visited)
    assert not any(f"{r}.json" in files for r in others)


def test_graph_traversal_after_refresh_fetches_only_delegated_roles(make_client):
    """With the top-level metadata already trusted and unchanged, a download
    requests root N+1 and the timestamp, then only the delegated roles."""
    c = make_client()
    build_graph(c.repo, GRAPHS["two-level-test-DFS-order-of-traversal"][0])
    c.repo.publish()
    c.init()
    c.refresh()
    c.log.requests.clear()
    c.download("missingpath", check=1)
    assert c.log.metadata() == ["2.root.json", "timestamp.json", "1.A.json", "1.C.json",
                                "1.D.json", "1.B.json"]


# -- test_updater_delegation_graphs: target search ----------------------------

TREE = [("targets", "A", ["*.doc", "*.md"], False), ("targets", "B", ["releases/*/*"], False),
        ("B", "C", ["releases/x/*"], False), ("B", "D", ["releases/y/*.zip"], False)]
TREE_TARGETS = [("targets", b"targetfile content", "targetfile"),
                ("A", b"README by A", "README.md"),
                ("C", b"x release by C", "releases/x/x_v1"),
                ("D", b"y release by D", "releases/y/y_v1.zip"),
                ("D", b"z release by D", "releases/z/z_v1.zip")]
SEARCHES = {
    "no delegations": ("targetfile", True, []),
    "targetpath matches wildcard": ("README.md", True, ["A"]),
    "targetpath with separators x": ("releases/x/x_v1", True, ["B", "C"]),
    "targetpath with separators y": ("releases/y/y_v1.zip", True, ["B", "D"]),
    # D lists it, but B only delegates releases/y/*.zip to D.
    "targetpath is not delegated by all roles in the chain": (
        "releases/z/z_v1.zip", False, ["B"]),
}


@pytest.mark.parametrize("case", SEARCHES.values(), ids=SEARCHES.keys())
def test_targetfile_search(make_client, case):
    path, found, visited = case
    c = make_client()
    build_graph(c.repo, TREE)
    for role, data, name in TREE_TARGETS:
        c.repo.add_target(role, name, data)
    c.repo.publish()
    c.init()
    if found:
        c.download(path)
        data = next(d for _, d, n in TREE_TARGETS if n == path)
        assert (c.tdir / path).read_bytes() == data
        assert [p for p in c.tdir.rglob("*") if p.is_file()] == [c.tdir / path]
    else:
        c.download(path, check=1)
        assert not c.tdir.exists() or not any(p.is_file() for p in c.tdir.rglob("*"))
        assert not any(r.startswith("/targets/") for r in c.log.requests)
    assert c.log.delegated() == visited


def test_path_hash_prefixes_select_the_roles_searched(make_client):
    c = make_client()
    path = "releases/app-1.bin"
    h = hashlib.sha256(path.encode()).hexdigest()
    hexd = "0123456789abcdef"
    # Prefixes that differ from the hash in the first or the second digit.
    miss = [hexd[(hexd.index(h[0]) + 1) % 16], h[0] + hexd[(hexd.index(h[1]) + 1) % 16]]
    c.repo.delegate("targets", "miss", path_hash_prefixes=miss)
    c.repo.delegate("targets", "hit", path_hash_prefixes=[h[:3]])
    c.repo.add_target("hit", path, b"by hash prefix")
    c.repo.publish()
    c.init()
    c.download(path)
    assert (c.tdir / path).read_bytes() == b"by hash prefix"
    assert c.log.delegated() == ["hit"]


# -- TAP 15 succinct hash bin delegations --------------------------------------

def add_succinct(repo, bit_length, prefix="bin"):
    key = Key()
    nbins = 1 << bit_length
    width = len(f"{nbins - 1:x}")
    names = [f"{prefix}-{i:0{width}x}" for i in range(nbins)]
    for n in names:
        repo.roles[n] = Role(n, [key])
    repo.roles["targets"].extra["delegations"] = {
        "keys": {key.keyid: key.public},
        "succinct_roles": {"keyids": [key.keyid], "threshold": 1, "bit_length": bit_length,
                           "name_prefix": prefix}}
    return names


def bin_of(path, bit_length):
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:4], "big") >> (32 - bit_length)


SUCCINCT = {
    "2 bins, bin 0": (1, "boo", "bin-0"),
    "2 bins, bin 1": (1, "too", "bin-1"),
    "4 bins, bin 0": (2, "foo", "bin-0"),
    "4 bins, bin 1": (2, "doo", "bin-1"),
    "4 bins, bin 2": (2, "too", "bin-2"),
    "4 bins, bin 3": (2, "bar", "bin-3"),
    "256 bins, bin fc": (8, "bar", "bin-fc"),
}


@pytest.mark.parametrize("case", SUCCINCT.values(), ids=SUCCINCT.keys())
def test_succinct_roles_graph_traversal(make_client, case):
    bits, path, expected_bin = case
    c = make_client()
    add_succinct(c.repo, bits)
    c.repo.publish()
    c.init()
    c.refresh()
    assert trusted_files(c) == sorted(TOP_FILES)
    c.log.requests.clear()
    c.download(path, check=1)  # no bin lists it
    # Exactly the one bin the path hashes to is fetched, then the search
    # ends (succinct delegations are terminating).
    assert c.log.delegated() == [expected_bin]
    assert f"{expected_bin}.json" in trusted_files(c)


def test_succinct_roles_target_found_in_its_bin_only(make_client):
    c = make_client()
    names = add_succinct(c.repo, 4, prefix="hb")
    path, stray = "images/fw-1.bin", "images/other.bin"
    mine = names[bin_of(path, 4)]
    # A bin that `stray` does not hash to lists it anyway.
    wrong = next(n for i, n in enumerate(names) if i not in (bin_of(path, 4), bin_of(stray, 4)))
    c.repo.add_target(mine, path, b"firmware in its bin")
    c.repo.add_target(wrong, stray, b"stray")
    c.repo.publish()
    c.init()
    c.download(path)
    assert (c.tdir / path).read_bytes() == b"firmware in its bin"
    assert c.log.delegated() == [mine]
    c.download(stray, check=1)
    assert c.log.delegated() == [mine, names[bin_of(stray, 4)]]
    assert not (c.tdir / stray).exists()


def test_succinct_roles_list(make_client):
    """`vouch client list` walks the bins; a name listed by a bin it does
    not hash to is not shown (the lookup of that name would not find it)."""
    c = make_client()
    names = add_succinct(c.repo, 2)
    good = [f"pkg/{i}.tar" for i in range(6)]
    for p in good:
        c.repo.add_target(names[bin_of(p, 2)], p, p.encode())
    stray = "pkg/stray.tar"
    c.repo.add_target(names[(bin_of(stray, 2) + 1) % 4], stray, b"stray")
    c.repo.publish()
    c.init()
    out = c.list("pkg/")
    assert sorted(t["name"] for t in out["targets"]) == sorted(good)
    for t in out["targets"]:
        assert t["chain"] == ["targets", names[bin_of(t["name"], 2)]]


def test_withheld_bin_refuses_list_like_download(make_client):
    """A mirror that withholds one bin's metadata (404) refuses `list` with
    exit 1, as it refuses `download` of a name in that bin: withholding
    cannot be told from a freeze attack."""
    c = make_client()
    names = add_succinct(c.repo, 1)
    path = "boo"
    c.repo.add_target(names[bin_of(path, 1)], path, b"in its bin")
    c.repo.publish()
    c.init()
    assert [t["name"] for t in c.list()["targets"]] == [path]  # so the test can fail
    for n in names:
        del c.repo.files[f"metadata/1.{n}.json"]
    (c.mdir / f"{names[bin_of(path, 1)]}.json").unlink()
    p = c.list(check=1)
    assert "404" in p.stderr
    c.download(path, check=1)


def test_succinct_roles_bin_signed_by_the_wrong_key_is_refused(make_client):
    c = make_client()
    names = add_succinct(c.repo, 1)
    path = "boo"
    b = names[bin_of(path, 1)]
    c.repo.add_target(b, path, b"evil")
    c.repo.roles[b].keys = [Key()]  # signs with a key the delegation does not list
    c.repo.publish()
    c.init()
    c.download(path, check=1)
    assert not (c.tdir / path).exists()


@pytest.mark.parametrize("bad", [
    {"bit_length": 0}, {"bit_length": 33}, {"bit_length": "8"}, {"name_prefix": 5},
    {"threshold": 0}, {"keyids": "x"}, {"roles": []}])
def test_malformed_succinct_roles_are_refused(make_client, bad):
    c = make_client()
    add_succinct(c.repo, 2)
    d = c.repo.roles["targets"].extra["delegations"]
    for k, v in bad.items():
        if k == "roles":
            d["roles"] = v  # both roles and succinct_roles
        else:
            d["succinct_roles"][k] = v
    c.repo.publish()
    c.init()
    c.refresh(check=1)
    assert "targets.json" not in trusted_files(c)


# -- test_keys -------------------------------------------------------------------
#
# When a new root changes the keys of the snapshot (or timestamp) role, vouch
# keeps its trusted timestamp.json and snapshot.json (as python-tuf; the
# suite reads the old snapshot version back from the file after a failed
# refresh: test_snapshot_threshold, test_duplicate_keys_root,
# test_root_has_keys_but_not_snapshot). A copy the new keys do not verify is
# ignored by the rollback checks and replaced by the next verified one.

def bump_root(repo, signers=None):
    repo.root_version += 1
    repo.write_root(signers)


def test_root_has_keys_but_not_snapshot(make_client):
    """Thresholds are counted from signatures on the snapshot, never from
    the keys root lists."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.thresholds["snapshot"] = 3
    bump_root(r)  # v2: threshold 3, one key
    r.keys["snapshot"].append(Key())
    r.publish([])  # snapshot v2 signed by 2 keys
    bump_root(r)  # v3
    c.refresh(check=1)
    assert version(c, "root") == 3
    assert version(c, "snapshot") == 1  # kept; v2 (2 of 3 signatures) refused
    r.keys["snapshot"] += [Key(), Key()]
    r.publish([])  # snapshot v3 signed by 4 keys
    bump_root(r)  # v4
    c.refresh()
    assert (version(c, "root"), version(c, "snapshot")) == (4, 3)
    r.thresholds["snapshot"] = 5
    bump_root(r)  # v5: 5 needed, 4 sign
    c.refresh(check=1)
    assert (version(c, "root"), version(c, "snapshot")) == (5, 3)
    # A fifth key id listed in root but absent from root's keys cannot help.
    extra = EcdsaKey()
    r.root_extra = {}
    signed = r.root_signed()
    signed["version"] = 6
    signed["roles"]["snapshot"]["keyids"].append(extra.keyid)
    r.root_version = 6
    data = r.write("6.root.json", sign(signed, r.keys["root"]))
    r.write("root.json", data)
    r.keys["snapshot"].append(extra)  # signs, but root does not hold its key
    r.publish([])
    c.refresh(check=1)
    assert (version(c, "root"), version(c, "snapshot")) == (6, 3)


def test_unknown_key_fields_and_mismatched_keyid_are_accepted(make_client):
    """keyid_hash_algorithms is not part of the spec: a wrong value is
    ignored. The key id then no longer is the hash of the key object; like
    python-tuf (and as the suite expects), vouch takes key ids as listed:
    the signature is still checked with the listed key, and one key under
    two ids counts once (test_duplicate_keys_root)."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.keys["snapshot"] += [Key() for _ in range(4)]
    r.thresholds["snapshot"] = 5
    r.keys["snapshot"][0].public = dict(r.keys["snapshot"][0].public,
                                        keyid_hash_algorithms=["md5"])
    bump_root(r)
    r.publish([])
    c.refresh()
    assert (version(c, "root"), version(c, "snapshot")) == (2, 2)
    assert c.trusted("snapshot.json") == r.served("snapshot.json")


def test_snapshot_threshold_higher_than_key_count(make_client):
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.keys["snapshot"] += [Key() for _ in range(4)]
    r.thresholds["snapshot"] = 6
    bump_root(r)
    r.publish([])
    p = c.refresh(check=1)
    assert "snapshot.json: signature threshold 6 not met (5 valid)" in p.stderr
    assert version(c, "snapshot") == 1  # the trusted v1 is still there (see above)
    assert version(c, "root") == 2


def test_duplicate_keys_root(make_client):
    """The same public key under ten key ids is one key: threshold 6 is not met."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    k = EcdsaKey()
    aliases = []
    for i in range(10):
        aliases.append(alias_key(k, **({"x-alias": i} if i else {})))
    # Added to the snapshot key, as the suite does (nothing rotated out,
    # so the trusted copies stay: 5.3.11).
    r.keys["snapshot"] = r.keys["snapshot"] + aliases
    r.thresholds["snapshot"] = 6
    bump_root(r)
    r.publish([])
    p = c.refresh(check=1)
    assert "snapshot.json: signature threshold 6 not met (2 valid)" in p.stderr
    assert version(c, "snapshot") == 1  # the trusted v1 is still there (see above)
    assert version(c, "root") == 2
    # With threshold 1, that one key is enough: snapshot v2 is trusted.
    r.thresholds["snapshot"] = 1
    bump_root(r)
    c.refresh()
    assert version(c, "snapshot") == 2


def test_key_compromise_same_ecdsa_key_under_both_keytype_spellings(make_client):
    """One EC key listed twice, as keytype "ecdsa" and as the legacy
    "ecdsa-sha2-nistp256" (so under two different key ids), is still one
    key: its two signatures do not meet a threshold of 2."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    k = EcdsaKey()
    legacy = alias_key(k, keytype="ecdsa-sha2-nistp256")
    r.keys["snapshot"] = [k, legacy]
    r.thresholds["snapshot"] = 2
    bump_root(r)
    r.publish([])
    c.refresh(check=1)
    # v2 refused; v1 was deleted when root v2 rotated the old key out (5.3.11)
    assert version(c, "snapshot") is None
    # Either spelling alone, with threshold 1, is a usable key.
    r.thresholds["snapshot"] = 1
    bump_root(r)
    c.refresh()
    assert version(c, "snapshot") == 2


@pytest.mark.parametrize("keytype", [EcdsaKey, RsaPssKey, Key, RsaPkcs1Key, EcdsaP384Key],
                         ids=["ecdsa-sha2-nistp256", "rsassa-pss-sha256", "ed25519",
                              "rsa-pkcs1v15-sha256", "ecdsa-sha2-nistp384"])
def test_key_types(make_client, keytype):
    c = make_client()
    r = c.repo
    for role in ("root", "timestamp", "snapshot", "targets"):
        r.keys[role] = [keytype()]
    r.roles["targets"].keys = r.keys["targets"]
    r.delegate("targets", "A", keys=[keytype()])
    r.add_target("A", "a.txt", b"from A")
    r.publish()
    c.init()
    c.download("a.txt")
    assert (c.tdir / "a.txt").read_bytes() == b"from A"


@pytest.mark.parametrize("kind", [UnknownKey, EcdsaP521Key],
                         ids=["sigstore-oidc", "ecdsa-sha2-nistp521"])
def test_unknown_key_types_are_ignored_not_fatal(make_client, kind):
    """A key of an unknown type or scheme in root (listed for a role beside a
    usable key, and signing) neither breaks parsing nor counts toward a
    threshold."""
    c = make_client()
    r = c.repo
    for role in ("timestamp", "snapshot", "targets"):
        r.keys[role].append(kind())
    r.roles["targets"].keys = r.keys["targets"]
    r.publish()
    c.init()
    c.refresh()
    assert version(c, "targets") == 1
    r.thresholds["snapshot"] = 2  # the unknown key cannot be the second
    bump_root(r)
    r.publish([])
    c.refresh(check=1)
    assert version(c, "snapshot") == 1


# -- test_updater_key_rotations ----------------------------------------------------

# Each root version: (key indexes, threshold, signing key indexes)
ROOT_ROTATIONS = {
    "1-of-1-key-rotation": ([([1], 1, [1]), ([2], 1, [2, 1]), ([2], 1, [2])], True),
    "1-of-1-key-rotation-unused-signatures": (
        [([1], 1, [3, 1, 4]), ([2], 1, [3, 2, 1, 4]), ([2], 1, [3, 2, 4])], True),
    "3-of-5-sign-with-different-keycombos": (
        [([0, 1, 2, 3, 4], 3, [0, 2, 4]), ([0, 1, 2, 3, 4], 3, [0, 4, 1]),
         ([0, 1, 2, 3, 4], 3, [0, 1, 3]), ([0, 1, 2, 3, 4], 3, [0, 1, 3])], True),
    "3-of-5-one-key-rotated": (
        [([0, 1, 2, 3, 4], 3, [0, 2, 4]), ([0, 1, 3, 4, 5], 3, [0, 4, 1])], True),
    "3-of-5-one-key-rotated-with-intermediate-step": (
        [([0, 1, 2, 3, 4], 3, [0, 2, 4]), ([0, 1, 3, 4, 5], 3, [0, 2, 4, 5]),
         ([0, 1, 3, 4, 5], 3, [0, 4, 5])], True),
    "3-of-5-all-keys-rotated-with-intermediate-step": (
        [([0, 1, 2, 3, 4], 3, [0, 2, 4]), ([5, 6, 7, 8, 9], 3, [0, 2, 4, 5, 6, 7]),
         ([5, 6, 7, 8, 9], 3, [5, 6, 7])], True),
    "1-of-3-threshold-increase-to-2-of-3": (
        [([1, 2, 3], 1, [1]), ([1, 2, 3], 2, [1, 2])], True),
    "2-of-3-threshold-decrease-to-1-of-3": (
        [([1, 2, 3], 2, [1, 2]), ([1, 2, 3], 1, [1, 2]), ([1, 2, 3], 1, [1])], True),
    "1-of-2-threshold-increase-to-2-of-2": ([([1], 1, [1]), ([1, 2], 2, [1, 2])], True),
    "1-of-1-key-rotation-fail-not-signed-with-old-key": (
        [([1], 1, [1]), ([2], 1, [2, 3, 4])], False),
    "1-of-1-key-rotation-fail-not-signed-with-new-key": (
        [([1], 1, [1]), ([2], 1, [1, 3, 4])], False),
    "3-of-5-one-key-rotate-fails-not-signed-with-3-new-keys": (
        [([0, 1, 2, 3, 4], 3, [0, 2, 4]), ([0, 1, 3, 4, 5], 3, [0, 2, 4])], False),
    "3-of-5-one-key-rotate-fails-not-signed-with-3-old-keys": (
        [([0, 1, 2, 3, 4], 3, [0, 2, 4]), ([0, 1, 3, 4, 5], 3, [0, 4, 5])], False),
    "1-of-3-threshold-bump-to-2-of-3-fails-new-threshold-not-reached": (
        [([1, 2, 3], 1, [1]), ([1, 2, 3], 2, [2])], False),
    "2-of-3-threshold-decr-to-1-of-3-fails-old-threshold-not-reached": (
        [([1, 2, 3], 2, [1, 2]), ([1, 2, 3], 1, [1])], False),
}


@pytest.mark.parametrize("case", ROOT_ROTATIONS.values(), ids=ROOT_ROTATIONS.keys())
def test_root_rotation(make_client, case):
    versions, ok = case
    keys = [Key() for _ in range(10)]
    c = make_client()
    r = c.repo
    r.publish()  # root v1 (replaced below), top-level roles
    r.root_version = 0
    served = []
    for key_idx, threshold, sig_idx in versions:
        r.keys["root"] = [keys[i] for i in key_idx]
        r.thresholds["root"] = threshold
        r.root_version += 1
        served.append(r.write_root([keys[i] for i in sig_idx]))
    c.init(r.root_file(1))
    c.refresh(check=0 if ok else 1)
    assert c.trusted("root.json") == served[-1 if ok else -2]


# (key indexes, threshold, signing key indexes, success)
NON_ROOT_ROTATIONS = {
    "1-of-1-key-rotation": ([2], 1, [2], True),
    "1-of-1-key-rotation-unused-signatures": ([1], 1, [3, 1, 4], True),
    "1-of-1-key-rotation-fail-not-signed-with-new-key": ([2], 1, [1, 3, 4], False),
    "3-of-5-one-key-signature-wrong-not-signed-with-3-expected-keys": (
        [0, 1, 3, 4, 5], 3, [0, 2, 4], False),
    "2-of-5-one-key-signature-missing-threshold-not-reached": (
        [0, 1, 3, 4, 5], 3, [0, 4], False),
    "3-of-5-sign-first-combo": ([0, 1, 2, 3, 4], 3, [0, 2, 4], True),
    "3-of-5-sign-second-combo": ([0, 1, 2, 3, 4], 3, [0, 4, 1], True),
    "3-of-5-sign-third-combo": ([0, 1, 2, 3, 4], 3, [0, 1, 3], True),
    "3-of-5-sign-fourth-combo": ([0, 1, 2, 3, 4], 3, [1, 2, 3], True),
    "3-of-5-sign-fifth-combo": ([0, 1, 2, 3, 4], 3, [2, 3, 4], True),
}


def resign_same_version(repo, role, signers):
    """Re-signs the served copy of a top-level role without a new version
    (the suite's simulator signs at fetch time with the current keys)."""
    if role == "timestamp":
        repo.write("timestamp.json", sign(repo.timestamp_signed(), signers))
    elif role == "snapshot":
        repo._snapshot_bytes = repo.write_role("snapshot", repo.snapshot_version,
                                               sign(repo.snapshot_signed(), signers))
    else:
        repo._written["targets"] = repo.write_role("targets", repo.roles["targets"].version,
                                                   repo.sign_role("targets", signers))


@pytest.mark.parametrize("case", NON_ROOT_ROTATIONS.values(), ids=NON_ROOT_ROTATIONS.keys())
def test_non_root_rotations(make_client, case):
    key_idx, threshold, sig_idx, ok = case
    keys = [Key() for _ in range(10)]
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    for role in ("timestamp", "snapshot", "targets"):
        r.keys[role] = [keys[i] for i in key_idx]
        r.thresholds[role] = threshold
        if role == "targets":
            r.roles["targets"].keys = r.keys["targets"]
        bump_root(r)
        resign_same_version(r, role, [keys[i] for i in sig_idx])
        if ok:
            c.refresh()
            # The trusted copy is the one signed by the new keys.
            assert c.trusted(f"{role}.json") == r.served(f"{role}.json")
            assert version(c, "root") == r.root_version
        else:
            c.refresh(check=1)


@pytest.mark.parametrize("role", ["timestamp", "snapshot"])
def test_fast_forward_recovery_after_rotation_to_lower_versions(make_client, role):
    """After a key compromise the repository rotates the key and restarts
    the role at version 1: the trusted copy the new keys do not verify is
    ignored by the rollback checks, so the lower versions are accepted. A
    restarted snapshot needs a new timestamp key too (the suite's
    test_new_snapshot_fast_forward_recovery; see the next test)."""
    c = make_client()
    r = c.repo
    r.publish()
    for _ in range(3):
        r.publish([])
    c.init()
    c.refresh()
    assert version(c, "snapshot") == 4
    r.keys[role] = [EcdsaKey()]
    r.keys["timestamp"] = [EcdsaKey()]
    bump_root(r)
    r.timestamp_version = 0
    if role == "snapshot":
        r.snapshot_version = 0
    r.publish([])
    c.refresh()
    assert version(c, "timestamp") == 1
    assert version(c, "snapshot") == (1 if role == "snapshot" else 5)


def test_snapshot_key_rotation_alone_resets_a_fast_forwarded_snapshot(make_client):
    """Only the snapshot key rotated out: 5.3.11 deletes the trusted
    timestamp and snapshot, so a snapshot restarted at v1 (listed by a
    new timestamp under the unchanged timestamp key) is accepted. python-tuf
    would keep the old timestamp, whose snapshot version would block it."""
    c = make_client()
    r = c.repo
    r.publish()
    for _ in range(3):
        r.publish([])
    c.init()
    c.refresh()
    r.keys["snapshot"] = [EcdsaKey()]
    bump_root(r)
    r.snapshot_version = 0
    r.publish([])
    c.refresh()
    assert (version(c, "root"), version(c, "timestamp"), version(c, "snapshot")) == (2, 5, 1)


# -- test_quoting_issues --------------------------------------------------------------

@pytest.mark.parametrize("role", ["?", "#", "/delegatedrole", "../delegatedrole", "a b+c%",
                                  "ü/..", ".."])
def test_unusual_role_name(make_client, role):
    c = make_client()
    c.repo.delegate("targets", role)
    c.repo.publish()
    c.init()
    c.download("nonexistent target", check=1)
    quoted = urllib.parse.quote(role, safe="")
    assert f"/metadata/1.{quoted}.json" in c.log.requests
    # Five trusted files, all inside the metadata directory.
    assert len(trusted_files(c)) == 5
    assert (c.mdir / f"{quoted}.json").read_bytes() == c.repo.served(f"1.{role}.json")
    assert not (c.mdir.parent / "delegatedrole.json").exists()


@pytest.mark.parametrize("consistent", [True, False])
@pytest.mark.parametrize("path", ["?", "#", "a?b#c", "dir/with space/x+y%z", "ü/ä.bin",
                                  "dir/?x"])
def test_unusual_target_path(make_client, path, consistent):
    c = make_client(consistent=consistent)
    c.repo.add_target("targets", path, b"content of " + path.encode())
    c.repo.publish()
    c.init()
    c.download(path)
    assert (c.tdir / path).read_bytes() == b"content of " + path.encode()
    d, sep, base = path.rpartition("/")
    if consistent:
        base = hashlib.sha256(b"content of " + path.encode()).hexdigest() + "." + base
    want = "/targets/" + urllib.parse.quote(f"{d}{sep}{base}", safe="/")
    assert [q for q in c.log.requests if q.startswith("/targets/")] == [want]


# -- test_static_repositories -----------------------------------------------------------

def test_static_repository_like_tuf_on_ci(make_client):
    """A repository shaped like one tuf-on-ci publishes: ecdsa keys in PEM,
    custom x- fields on keys, roles and metadata, a root key of an unknown
    type, empty signatures of keyholders who did not sign, a delegated role
    holding a target under a directory, consistent snapshots."""
    c = make_client(consistent=True, meta_hashes=True)
    r = c.repo
    online, offline = EcdsaKey(), EcdsaKey()
    offline.public = dict(offline.public, **{"x-tuf-on-ci-keyowner": "@someone"})
    online.public = dict(online.public, **{"x-tuf-on-ci-online-uri": "gcpkms:projects/x"})
    oidc = UnknownKey()
    r.keys = {"root": [offline, oidc], "targets": [offline], "snapshot": [online],
              "timestamp": [online]}
    r.roles["targets"].keys = [offline]
    r.root_extra = {"x-tuf-on-ci-expiry-period": 7300}
    r.roles["targets"].extra = {"x-tuf-on-ci-signing-period": 60}
    dr = r.delegate("targets", "delegatedrole", keys=[offline], paths=["delegatedrole/*"],
                    terminating=True)
    dr.extra = {"x-custom": {"nested": [1, 2]}}
    r.add_target("delegatedrole", "delegatedrole/artifact", b"artifact bytes\n")
    r.publish()
    # The oidc keyholder did not sign: an empty signature for its key id.
    env = json.loads(r.served("1.root.json"))
    env["signatures"].append({"keyid": oidc.keyid, "sig": ""})
    r.files["metadata/1.root.json"] = json.dumps(env, indent=1).encode()
    c.init(r.root_file(1))
    c.refresh()
    c.download("delegatedrole/artifact")
    assert (c.tdir / "delegatedrole/artifact").read_bytes() == b"artifact bytes\n"
    h = hashlib.sha256(b"artifact bytes\n").hexdigest()
    assert f"/targets/delegatedrole/{h}.artifact" in c.log.requests
    assert c.trusted("delegatedrole.json") == r.served("1.delegatedrole.json")


def test_static_repository_like_sigstore_root_chain(make_client):
    """Like the sigstore root-signing repository: several root versions whose
    keyholders change, signatures that are empty strings or made with keys
    the next root no longer lists, key ids that are not the hash of the key,
    and an artifact at the top level."""
    c = make_client(consistent=True, meta_hashes=True)
    r = c.repo
    holders = [EcdsaKey() for _ in range(5)]
    for h in holders[3:]:
        h.keyid = hashlib.sha256(h.keyid.encode()).hexdigest()  # legacy-style key id
    r.keys["root"] = holders[:3]
    r.thresholds["root"] = 2
    r.keys["targets"] = holders[:3]
    r.roles["targets"].keys = holders[:3]
    r.thresholds["targets"] = 2
    r.roles["targets"].threshold = 2
    r.add_target("targets", "trusted_root.json", b'{"mediaType": "x"}')
    r.publish()
    empty = {"keyid": holders[2].keyid, "sig": ""}
    # v2: holder 2 leaves, 3 and 4 join; signed by 0, 1 (old and new
    # thresholds), 3 and 4; holder 2 left an empty signature.
    r.keys["root"] = [holders[0], holders[1], holders[3], holders[4]]
    r.thresholds["root"] = 3
    r.root_version = 2
    env = sign(r.root_signed(), [holders[0], holders[1], holders[3], holders[4]], [empty])
    data = r.write("2.root.json", env)
    r.write("root.json", data)
    # v3: signed by 1, 3, 4 only (0 did not sign: empty string)
    r.root_version = 3
    env = sign(r.root_signed(), [holders[1], holders[3], holders[4]],
               [{"keyid": holders[0].keyid, "sig": ""}])
    data = r.write("3.root.json", env)
    r.write("root.json", data)
    c.init(r.root_file(1))
    c.download("trusted_root.json")
    assert version(c, "root") == 3
    assert (c.tdir / "trusted_root.json").read_bytes() == b'{"mediaType": "x"}'
