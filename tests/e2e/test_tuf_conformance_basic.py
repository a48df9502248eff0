"""The scenarios of the TUF conformance suite (theupdateframework/
tuf-conformance: test_basic, test_expiration, test_delegated_expiration,
test_rollback, test_file_download), written again for `vouch client` with
tests/e2e/tufrepo.py. Like the suite, each test looks at what a client
shows from the outside: the exit status of init / refresh / download,
which metadata (and which versions) end up trusted in the metadata
directory, which files were requested from the server, and which artifact
files exist in the target directory.

Where vouch deliberately differs from the suite, the test says so: init
refuses a root not signed by its own threshold, a timestamp listing more
than snapshot.json is refused (see docs/repository.md).

The suite signs every role with rsa-pkcs1v15-sha256 keys by default: the
scenarios of KEY_CLASSES run with each key type as the key of every role."""
import hashlib
import json

import pytest
from conftest import binary, run
from tufrepo import (Client, EcdsaKey, EcdsaP384Key, Key, Misbehaviour, Repo, RsaPkcs1Key,
                     RsaPssKey, alias_key, canonical, dump, expires_in, faketime_env,
                     make_handler, sign)

# An ECDSA signature of something else (the suite's "some other signature").
OTHER_SIG = ("3045022100ee448afe2d25dd1f05afedac83a24e7df90f203615221434979153dc7cea6d470220"
             "7710015851e571885a77db8a6e42c4b2983a59b9e1ebec91178dfa2fb0d42ab8")


@pytest.fixture
def make_client(tmp_path, http_server):
    def _make(sub="repo", **kw):
        repo = Repo(tmp_path / sub, **kw)
        state = Misbehaviour()
        url = http_server(repo.path, handler=make_handler(state))
        return Client(binary("vouch"), run, repo, url, state, tmp_path)

    return _make


def trusted_roles(c):
    """(role, version) of every *.json file in the metadata directory,
    sorted by file name, as the suite's ClientRunner.trusted_roles."""
    out = []
    for p in sorted(c.mdir.iterdir()):
        if p.name.endswith(".json"):
            out.append((p.name[:-len(".json")], json.loads(p.read_bytes())["signed"]["version"]))
    return out


def version(c, role):
    p = c.mdir / f"{role}.json"
    return json.loads(p.read_bytes())["signed"]["version"] if p.exists() else None


def meta_requests(c):
    return [r[len("/metadata/"):] for r in c.state.requests if r.startswith("/metadata/")]


def target_requests(c):
    return [r[len("/targets/"):] for r in c.state.requests if r.startswith("/targets/")]


def downloaded(c):
    """Contents of every file under the target directory, oldest first
    (the suite's get_downloaded_target_bytes)."""
    if not c.tdir.exists():
        return []
    files = [p for p in c.tdir.rglob("*") if p.is_file()]
    return [p.read_bytes() for p in sorted(files, key=lambda p: p.stat().st_mtime_ns)]


def days_from_now(days):
    return expires_in(days=days)


def faketime_or_skip(offset):
    env = faketime_env(offset)
    if env is None:
        pytest.skip("libfaketime is not installed")
    return env


def write_snapshot(r, body):
    """Signs and serves `body` as the next snapshot (the timestamp is not
    touched)."""
    r._snapshot_bytes = r.write_role("snapshot", body["version"], sign(body, r.keys["snapshot"]))
    return r._snapshot_bytes


# -- test_basic ---------------------------------------------------------------------


@pytest.mark.parametrize("consistent", [True, False], ids=["consistent", "plain"])
@pytest.mark.parametrize("meta_hashes", [False, True], ids=["versions-only", "with-hashes"])
def test_basic_init_and_refresh(make_client, consistent, meta_hashes):
    """Lengths and hashes in timestamp and snapshot META are optional (the
    suite leaves them out by default)."""
    c = make_client(consistent=consistent, meta_hashes=meta_hashes)
    c.repo.publish()
    c.init()
    assert meta_requests(c) == []  # init touches no network
    c.refresh()
    if consistent:
        assert meta_requests(c) == ["2.root.json", "timestamp.json", "1.snapshot.json",
                                    "1.targets.json"]
    else:
        assert meta_requests(c) == ["2.root.json", "timestamp.json", "snapshot.json",
                                    "targets.json"]
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]


def test_download_refreshes_metadata_first(make_client):
    """test_implicit_refresh: a download straight after init refreshes the
    metadata, then fails (1) for a target nobody lists."""
    c = make_client(consistent=True)
    c.repo.publish()
    c.init()
    p = c.download("nonexistent artifact", check=1)
    assert "no trusted role lists this target" in p.stderr
    assert meta_requests(c) == ["2.root.json", "timestamp.json", "1.snapshot.json",
                                "1.targets.json"]
    assert target_requests(c) == []
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]
    assert downloaded(c) == []


@pytest.mark.parametrize("damage", ["no version", "other signature", "no signatures"])
def test_invalid_initial_root_is_refused_before_any_request(make_client, damage):
    """test_invalid_initial_root / test_unsigned_initial_root: init refuses
    the root (1), so the directory holds no trusted root and refresh fails
    (1, as the suite expects) without a single request."""
    c = make_client()
    r = c.repo
    r.publish()
    env = json.loads(r.root_file(1).read_bytes())
    if damage == "no version":
        del env["signed"]["version"]
    elif damage == "other signature":
        env["signatures"][0]["sig"] = OTHER_SIG
    else:
        env["signatures"] = []
    bad = c.mdir.parent / "bad-root.json"
    bad.write_bytes(dump(env))
    c.init(root=bad, check=1)
    assert not (c.mdir / "root.json").exists()
    p = c.refresh(check=1)
    assert "root.json" in p.stderr
    assert c.state.requests == []


@pytest.mark.parametrize("role, trusted", [
    ("root", [("root", 1)]),
    ("timestamp", [("root", 1)]),
    ("snapshot", [("root", 1), ("timestamp", 1)]),
    ("targets", [("root", 1), ("snapshot", 1), ("timestamp", 1)]),
])
def test_unsigned_metadata_stops_the_refresh_there(make_client, role, trusted):
    """test_unsigned_metadata: a role served without a valid signature
    stops the update at that role; what came before is trusted, nothing
    after (and no leftover temporary file) is in the metadata directory."""
    c = make_client(meta_hashes=False)
    r = c.repo
    r.publish()
    c.init()
    if role == "root":
        r.root_version = 2
        r.write_root(signers=[])
    elif role == "timestamp":
        r.write("timestamp.json", sign(r.timestamp_signed(), []))
    elif role == "snapshot":
        r.write_role("snapshot", 1, sign(r.snapshot_signed(), []))
    else:
        r.write_role("targets", 1, sign(r.targets_signed("targets"), []))
    p = c.refresh(check=1)
    assert "threshold" in p.stderr
    assert trusted_roles(c) == trusted
    assert sorted(x.name for x in c.mdir.iterdir()) == [f"{n}.json" for n, _ in trusted]


def test_timestamp_same_version_other_content_is_not_persisted(make_client):
    """test_timestamp_content_changes: timestamp v1 signed again with other
    content (snapshot v100): refresh succeeds with the trusted copy, keeps
    its bytes, and asks for nothing after the timestamp."""
    c = make_client(consistent=True)
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    trusted = c.trusted("timestamp.json")
    body = r.timestamp_signed()
    body["meta"]["snapshot.json"] = {"version": 100}
    r.write("timestamp.json", sign(body, r.keys["timestamp"]))
    c.state.requests.clear()
    c.refresh()
    assert meta_requests(c) == ["2.root.json", "timestamp.json"]
    assert c.trusted("timestamp.json") == trusted
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]


def test_metadata_hashes_in_snapshot_are_checked(make_client):
    """test_basic_metadata_hash_support: with lengths and hashes in
    timestamp and snapshot, good ones are accepted; targets v2 that does not
    match the snapshot's hash is refused after snapshot v2 was trusted."""
    c = make_client(consistent=True, meta_hashes=True)
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.publish(["targets"], snapshot=False, timestamp=False)
    r.snapshot_version += 1
    body = r.snapshot_signed()
    assert body["meta"]["targets.json"]["hashes"]["sha256"]
    body["meta"]["targets.json"]["hashes"]["sha256"] = "46419349341cfb2d95f6ae3d4cd5c3d3dd7f" \
                                                       "4673985dad42a45130be5e0531a0"
    write_snapshot(r, body)
    r.republish_timestamp()
    p = c.refresh(check=1)
    assert "2.targets.json" in p.stderr and "mix-and-match" in p.stderr
    assert version(c, "snapshot") == 2
    assert version(c, "targets") == 1


@pytest.mark.parametrize("consistent", [True, False], ids=["consistent", "plain"])
def test_targets_not_in_snapshot_are_not_fetched(make_client, consistent):
    """test_new_targets_version_mismatch: targets v2 published without a
    new snapshot: the trusted targets v1 (the version the snapshot lists)
    stays, and nothing is fetched after the timestamp."""
    c = make_client(consistent=consistent)
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.publish(["targets"], snapshot=False, timestamp=False)
    c.state.requests.clear()
    c.refresh()
    assert meta_requests(c)[-1] == "timestamp.json"
    assert version(c, "targets") == 1


def test_unknown_fields_in_root_keys_and_roles(make_client):
    """test_custom_fields: unknown fields in root's signed body, in a key
    and in a role are signed like the rest and accepted."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.root_version = 2
    body = r.root_signed()
    body["custom-field"] = "value"
    keyid = body["roles"]["root"]["keyids"][0]
    body["keys"][keyid]["extra-field"] = {"a": 1, "b": 2}
    body["roles"]["root"]["another-field"] = "value"
    data = r.write("2.root.json", sign(body, r.keys["root"]))
    c.refresh()
    assert version(c, "root") == 2
    assert c.trusted("root.json") == data


@pytest.mark.parametrize("keytype, scheme", [("unknown-type", "unknown-scheme"),
                                             ("ed25519", "unknown-scheme"),
                                             ("unknown-type", "ed25519")])
def test_unknown_keytype_and_scheme_are_tolerated_when_not_needed(make_client, keytype, scheme):
    """A root listing a key of a type or scheme vouch does not know, beside
    enough known keys, is still valid (the unknown key just never counts
    toward a threshold); a threshold that needs it is not met."""
    c = make_client()
    r = c.repo
    r.add_target("targets", "t", b"payload")
    r.publish()
    c.init()
    c.refresh()
    odd = {"keytype": keytype, "scheme": scheme, "keyval": {"public": "00" * 32}}
    odd_id = hashlib.sha256(canonical(odd)).hexdigest()
    r.root_version = 2
    body = r.root_signed()
    body["keys"][odd_id] = odd
    body["roles"]["targets"]["keyids"].append(odd_id)
    r.write("2.root.json", sign(body, r.keys["root"],
                                extra_sigs=[{"keyid": odd_id, "sig": "00" * 64}]))
    r.publish(["targets"])
    c.download("t")
    assert version(c, "root") == 2
    assert (c.tdir / "t").read_bytes() == b"payload"
    # The same key made necessary: threshold 2 of (known, unknown).
    r.root_version = 3
    body = r.root_signed()
    body["keys"][odd_id] = odd
    body["roles"]["targets"]["keyids"].append(odd_id)
    body["roles"]["targets"]["threshold"] = 2
    r.write("3.root.json", sign(body, r.keys["root"]))
    r.publish(["targets"])
    p = c.refresh(check=1)
    assert "targets.json" in p.stderr and "threshold 2" in p.stderr
    assert version(c, "root") == 3
    assert version(c, "targets") == 2


# The key types a TUF repository (and the suite) signs with; the suite's
# default is rsa-pkcs1v15-sha256 for every role.
KEY_CLASSES = [Key, EcdsaKey, RsaPssKey, RsaPkcs1Key, EcdsaP384Key]
KEY_IDS = ["ed25519", "ecdsa", "rsassa-pss", "rsa-pkcs1v15", "ecdsa-p384"]
key_classes = pytest.mark.parametrize("key_class", KEY_CLASSES, ids=KEY_IDS)


@key_classes
def test_key_types_of_the_suite(make_client, key_class):
    """The suite signs with rsa-pkcs1v15-sha256 by default, and also with
    ecdsa (keytype "ecdsa", PEM, DER signatures), ed25519 and
    rsassa-pss-sha256 keys: every top-level role and a delegated role with
    that key type."""
    c = make_client(consistent=True, key_class=key_class, meta_hashes=False)
    r = c.repo
    r.add_target("targets", "top.txt", b"top")
    r.delegate("targets", "delegated", keys=[key_class()], paths=["d/*"])
    r.add_target("delegated", "d/file.txt", b"delegated")
    r.publish()
    c.init()
    c.download("top.txt", "d/file.txt")
    assert downloaded(c) == [b"top", b"delegated"]
    assert version(c, "delegated") == 1
    # A signature by that key over other bytes does not count.
    env = json.loads(r.written("targets"))
    env["signed"]["x-changed"] = True
    r.write_role("targets", 1, env)
    (c.mdir / "targets.json").unlink()
    p = c.refresh(check=1)
    assert "threshold 1 not met" in p.stderr


@key_classes
@pytest.mark.parametrize("consistent", [True, False], ids=["consistent", "plain"])
def test_init_refresh_download_with_key_type(make_client, key_class, consistent):
    """test_basic_init_and_refresh and an update of every role, all signed
    by keys of one type."""
    c = make_client(consistent=consistent, key_class=key_class)
    r = c.repo
    r.add_target("targets", "a.txt", b"version 1")
    r.publish()
    c.init()
    c.refresh()
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]
    r.add_target("targets", "a.txt", b"version 2")
    r.publish(["targets"])
    c.download("a.txt")
    assert (c.tdir / "a.txt").read_bytes() == b"version 2"
    assert trusted_roles(c) == [("root", 1), ("snapshot", 2), ("targets", 2), ("timestamp", 2)]


@key_classes
def test_root_rotation_with_key_type(make_client, key_class):
    """Root and timestamp keys rotated to new keys of the same type (root v2
    signed by old and new root keys); a root v3 signed by the new key only
    while the old one is still required is refused."""
    c = make_client(key_class=key_class)
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.rotate_root("root", new_keys=[key_class()])
    r.rotate_root("timestamp", new_keys=[key_class()])
    r.republish_timestamp()
    c.refresh()
    assert version(c, "root") == 3
    assert version(c, "timestamp") == 2
    # v4 adds a second root key with threshold 2, signed by one key only.
    old = r.keys["root"][0]
    r.keys["root"] = [old, key_class()]
    r.thresholds["root"] = 2
    r.root_version += 1
    r.write_root([old])
    p = c.refresh(check=1)
    assert "4.root.json (its own root keys): signature threshold 2 not met (1 valid)" in p.stderr
    assert version(c, "root") == 3


@key_classes
def test_delegation_traversal_with_key_type(make_client, key_class):
    """targets -> A -> B (all keys of one type): the target of B is found by
    walking the delegations, each role checked with its delegator's keys."""
    c = make_client(consistent=True, key_class=key_class)
    r = c.repo
    r.delegate("targets", "A", keys=[key_class()], paths=["a/*"])
    r.delegate("A", "B", keys=[key_class()], paths=["a/*"])
    r.add_target("B", "a/file.bin", b"from B")
    r.publish()
    c.init()
    c.download("a/file.bin")
    assert (c.tdir / "a/file.bin").read_bytes() == b"from B"
    assert version(c, "A") == 1 and version(c, "B") == 1
    # B signed by A's key instead of its own: refused.
    body = json.loads(r.written("B"))["signed"]
    body["version"] = 2
    r.roles["B"].version = 2
    r._written["B"] = r.write_role("B", 2, sign(body, r.roles["A"].keys))
    r.publish([])
    p = c.download("a/file.bin", check=1)
    assert "threshold 1 not met (0 valid)" in p.stderr


@key_classes
def test_rollback_with_key_type(make_client, key_class):
    """test_new_timestamp_version_rollback and test_snapshot_rollback with
    keys of one type."""
    c = make_client(key_class=key_class)
    r = c.repo
    r.publish()
    v1 = r.snapshot_bytes()
    r.publish([])  # snapshot v2, timestamp v2
    c.init()
    c.refresh()
    r.timestamp_version = 1
    r.write("timestamp.json", sign(r.timestamp_signed(), r.keys["timestamp"]))
    p = c.refresh(check=1)
    assert "version 1 is lower than the trusted version 2 (rollback attack?)" in p.stderr
    r.timestamp_version = 3
    r.snapshot_version = 1
    r.write("timestamp.json", sign(r.timestamp_signed(v1), r.keys["timestamp"]))
    p = c.refresh(check=1)
    assert "lists snapshot version 1, lower than the trusted 2 (rollback attack?)" in p.stderr
    assert (version(c, "timestamp"), version(c, "snapshot")) == (2, 2)


def rsa_pkcs1_sig(priv, data):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    return priv.sign(data, padding.PKCS1v15(), hashes.SHA256()).hex()


@pytest.mark.parametrize("forgery", ["other-key", "other-bytes", "pss-by-same-key",
                                     "pkcs1-under-pss-key"])
def test_rsa_signature_under_the_wrong_key_or_scheme_does_not_count(make_client, forgery):
    """An rsa-pkcs1v15-sha256 key takes only PKCS#1 v1.5 signatures by its
    own private key over these bytes: neither another key's, nor one over
    other bytes, nor a PSS signature by the same key; and an
    rsassa-pss-sha256 key takes no PKCS#1 v1.5 signature."""
    c = make_client(key_class=RsaPkcs1Key)
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    key = r.keys["targets"][0]
    if forgery == "pkcs1-under-pss-key":
        key = RsaPssKey()
        r.rotate_root("targets", new_keys=[key])
    body = r.targets_signed("targets")
    body["version"] = 2
    msg = canonical(body)
    if forgery == "other-key":
        sig = RsaPkcs1Key().sign(msg)
    elif forgery == "other-bytes":
        sig = key.sign(canonical(dict(body, version=3)))
    elif forgery == "pss-by-same-key":
        sig = RsaPssKey.sign(key, msg)
    else:
        sig = rsa_pkcs1_sig(key.priv, msg)
    r.roles["targets"].version = 2
    r._written["targets"] = r.write_role(
        "targets", 2, {"signatures": [{"keyid": key.keyid, "sig": sig}], "signed": body})
    r.publish([])
    p = c.refresh(check=1)
    assert "targets.json: signature threshold 1 not met (0 valid)" in p.stderr
    assert version(c, "targets") == 1
    # The genuine signature is accepted (so the test can fail).
    r._written["targets"] = r.write_role("targets", 2, sign(body, [key]))
    r.publish([])
    c.refresh()
    assert version(c, "targets") == 2


def test_key_compromise_same_rsa_key_under_two_schemes_counts_once(make_client):
    """One RSA key listed twice, as rsa-pkcs1v15-sha256 and as
    rsassa-pss-sha256 (two key ids), and signing under both: still one key,
    so a threshold of 2 is not met."""
    a = RsaPkcs1Key()
    b = alias_key(a, RsaPssKey, scheme="rsassa-pss-sha256")
    # Two different keys do meet it.
    one_key_twice_is_one_key(make_client, a, b, then_keys=[a, RsaPssKey()])


def one_key_twice_is_one_key(make_client, a, b, then_keys=None):
    """Snapshot keys [a, b], threshold 2, where b is a under another key id:
    both signatures count as one, the refresh fails. Then then_keys (or a
    and b at threshold 1) do verify, so the setup itself can succeed."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.keys["snapshot"] = [a, b]
    r.thresholds["snapshot"] = 2
    r.rotate_root()
    r.publish([])
    p = c.refresh(check=1)
    assert "snapshot.json: signature threshold 2 not met (1 valid)" in p.stderr
    if then_keys is not None:
        r.keys["snapshot"] = then_keys
    else:
        r.thresholds["snapshot"] = 1
    r.rotate_root()
    r.publish([])
    c.refresh()
    assert version(c, "snapshot") == r.snapshot_version


def test_key_compromise_same_p384_key_under_both_keytype_spellings(make_client):
    """A P-384 key as keytype "ecdsa" and as "ecdsa-sha2-nistp384" is one
    key: its two signatures do not meet a threshold of 2."""
    a = EcdsaP384Key()
    one_key_twice_is_one_key(make_client, a, alias_key(a, keytype="ecdsa-sha2-nistp384"))


def compressed_p256_pem(priv):
    """The SubjectPublicKeyInfo PEM of a P-256 key with its point compressed
    (X9.62 0x02/0x03 || X), in the canonical form vouch accepts."""
    import base64
    from cryptography.hazmat.primitives import serialization
    point = priv.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.CompressedPoint)
    der = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200") + point
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def test_key_compromise_same_ecdsa_key_compressed_and_uncompressed_counts_once(make_client):
    """One P-256 key listed twice, once with its point uncompressed and once
    compressed (two PEMs, two key ids), signing under both: still one key,
    so a threshold of 2 is not met."""
    a = EcdsaKey()
    b = alias_key(a, keyval={"public": compressed_p256_pem(a.priv)})
    # The compressed spelling alone is a working key (so the test can fail).
    one_key_twice_is_one_key(make_client, a, b, then_keys=[b, EcdsaKey()])


@pytest.mark.parametrize("spec", ["1.0", "1.0.0", "1.0.19", "1.9.99"])
def test_spec_version_1_any_minor_is_accepted(make_client, spec):
    """spec_version: any 1.x version is read (clients SHOULD accept minor
    and patch versions they do not know; major 2 is refused, see
    test_tuf_attacks.test_spec_version_major_must_be_1)."""
    c = make_client()
    r = c.repo
    r.add_target("targets", "t", b"payload")
    r.roles["targets"].extra = {"spec_version": spec}
    r.publish()
    c.init()
    c.download("t")
    assert (c.tdir / "t").read_bytes() == b"payload"


def test_timestamp_meta_lists_only_snapshot(make_client):
    """Deliberately stricter than python-tuf (which ignores extra entries):
    TUF 1.0.34 section 4.6 says timestamp META "MUST only include a
    description of the snapshot.json file", so a timestamp listing more is
    malformed and refused, and the trusted one stays."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.timestamp_version += 1
    body = r.timestamp_signed()
    body["meta"]["targets.json"] = {"version": 1}
    r.write("timestamp.json", sign(body, r.keys["timestamp"]))
    p = c.refresh(check=1)
    assert "timestamp meta must list exactly snapshot.json" in p.stderr
    assert version(c, "timestamp") == 1


# -- test_expiration ------------------------------------------------------------------


def test_expired_new_root_is_persisted_but_stops_the_refresh(make_client):
    """test_root_expired (5.3.10): root v3, already expired, is trusted and
    persisted (the next rotation starts from it), then the update stops:
    timestamp, snapshot and targets stay at v1."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.rotate_root()  # v2
    c.refresh()
    r.root_expires = days_from_now(-1)
    r.rotate_root()  # v3
    r.publish(["targets"])  # targets, snapshot, timestamp v2
    p = c.refresh(check=1)
    assert "root.json" in p.stderr and "expired" in p.stderr
    assert trusted_roles(c) == [("root", 3), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]


def test_expired_intermediate_root_is_fine(make_client):
    """5.3.6: only the final root's expiry matters: v2 expired, v3 valid."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    r.root_expires = days_from_now(-1)
    r.rotate_root()  # v2, expired
    r.root_expires = days_from_now(365)
    r.rotate_root("timestamp", new_keys=[Key()])  # v3
    r.republish_timestamp()
    c.refresh()
    assert trusted_roles(c) == [("root", 3), ("snapshot", 1), ("targets", 1), ("timestamp", 2)]


def test_expired_new_snapshot_is_not_trusted(make_client):
    """test_snapshot_expired: timestamp v2 is trusted, the expired snapshot
    v2 it names is not."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.snapshot_expires = days_from_now(-5)
    r.publish([])
    p = c.refresh(check=1)
    assert "snapshot.json" in p.stderr and "expired" in p.stderr
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 2)]


def test_expired_new_targets_is_not_trusted(make_client):
    """test_targets_expired."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.roles["targets"].expires = days_from_now(-5)
    r.publish(["targets"])
    p = c.refresh(check=1)
    assert "targets.json" in p.stderr and "expired" in p.stderr
    assert trusted_roles(c) == [("root", 1), ("snapshot", 2), ("targets", 1), ("timestamp", 2)]


def test_expired_new_timestamp_is_not_trusted(make_client):
    """test_timestamp_expired."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.timestamp_expires = days_from_now(-5)
    r.republish_timestamp()
    p = c.refresh(check=1)
    assert "timestamp.json" in p.stderr and "expired" in p.stderr
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]


@pytest.mark.parametrize("consistent", [True, False], ids=["consistent", "plain"])
def test_expired_local_timestamp_and_snapshot_still_anchor_the_update(make_client, consistent):
    """test_expired_metadata: timestamp v1 expires on day 7; on day 18 the
    repository serves timestamp v2 (valid until day 21) with snapshot and
    targets v2: the expired trusted copies are still used for the rollback
    checks, and the update succeeds."""
    c = make_client(consistent=consistent)
    r = c.repo
    r.root_expires = days_from_now(365)
    r.snapshot_expires = days_from_now(30)
    r.roles["targets"].expires = days_from_now(30)
    r.timestamp_expires = days_from_now(7)
    r.publish()
    c.init()
    c.refresh()
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]
    r.timestamp_expires = days_from_now(21)
    r.publish(["targets"])
    c.refresh(env=faketime_or_skip("+18d"))
    assert trusted_roles(c) == [("root", 1), ("snapshot", 2), ("targets", 2), ("timestamp", 2)]
    # A second refresh the same day uses the (valid) trusted copies and
    # fetches nothing after the timestamp.
    c.state.requests.clear()
    c.refresh(env=faketime_or_skip("+18d"))
    assert meta_requests(c)[-1] == "timestamp.json"


def test_expired_local_snapshot_without_newer_version_fails(make_client):
    """The trusted snapshot has expired and the repository still serves the
    same version: it is fetched again, still expired, and the refresh fails
    (freeze) without losing any trusted metadata."""
    c = make_client()
    r = c.repo
    r.snapshot_expires = days_from_now(7)
    r.timestamp_expires = days_from_now(30)
    r.roles["targets"].expires = days_from_now(30)
    r.publish()
    c.init()
    c.refresh()
    p = c.refresh(check=1, env=faketime_or_skip("+18d"))
    assert "snapshot.json" in p.stderr and "expired" in p.stderr
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]


# -- test_delegated_expiration -------------------------------------------------------------


def delegated_repo(c, expires):
    r = c.repo
    r.root_expires = days_from_now(365)
    r.timestamp_expires = days_from_now(30)
    r.snapshot_expires = days_from_now(30)
    r.roles["targets"].expires = days_from_now(30)
    role = r.delegate("targets", "delegated", paths=["delegatedpath/*"])
    role.expires = expires
    return r


def test_delegated_role_expired_when_first_seen(make_client):
    """test_delegated_targets_expired: refresh (top-level only) succeeds;
    the download that needs the expired delegated role fails, nothing is
    downloaded, and the role is not kept as trusted."""
    c = make_client(consistent=True)
    r = delegated_repo(c, days_from_now(-1))
    r.add_target("delegated", "delegatedpath/target", b"delegated content")
    r.publish()
    c.init()
    c.refresh()
    p = c.download("delegatedpath/target", check=1)
    assert "delegated" in p.stderr and "expired" in p.stderr
    assert downloaded(c) == []
    assert not [t for t in target_requests(c)]
    assert trusted_roles(c) == [("root", 1), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]
    assert sorted(x.name for x in c.mdir.iterdir()) == ["root.json", "snapshot.json",
                                                        "targets.json", "timestamp.json"]


def test_expired_local_delegated_role_is_not_used(make_client):
    """test_expired_local_delegated_targets: day 0 the role is trusted; day
    18 it has expired and the repository has nothing newer: refused."""
    c = make_client(consistent=True)
    r = delegated_repo(c, days_from_now(7))
    r.add_target("delegated", "delegatedpath/first", b"first")
    r.add_target("delegated", "delegatedpath/second", b"second")
    r.publish()
    c.init()
    c.download("delegatedpath/first")
    assert downloaded(c) == [b"first"]
    assert version(c, "delegated") == 1
    p = c.download("delegatedpath/second", check=1, env=faketime_or_skip("+18d"))
    assert "expired" in p.stderr
    assert downloaded(c) == [b"first"]


def test_expired_local_delegated_role_is_updated(make_client):
    """test_expired_local_delegated_targets_updates: delegated v2 (valid
    until day 21) replaces the expired v1 on day 18."""
    c = make_client(consistent=True)
    r = delegated_repo(c, days_from_now(7))
    r.add_target("delegated", "delegatedpath/first", b"first")
    r.add_target("delegated", "delegatedpath/second", b"second")
    r.publish()
    c.init()
    c.download("delegatedpath/first")
    r.roles["delegated"].expires = days_from_now(21)
    r.publish(["delegated"])
    c.download("delegatedpath/second", env=faketime_or_skip("+18d"))
    assert downloaded(c) == [b"first", b"second"]
    assert version(c, "delegated") == 2


# -- test_rollback --------------------------------------------------------------------


@pytest.mark.parametrize("consistent", [True, False], ids=["consistent", "plain"])
def test_snapshot_rollback_without_new_timestamp(make_client, consistent):
    """test_simple_snapshot_rollback: the server swaps snapshot v2 for the
    older v1 without touching the timestamp: the trusted v2 (the version
    the timestamp names) is used, nothing is fetched after the timestamp."""
    c = make_client(consistent=consistent)
    r = c.repo
    r.publish()
    old = r.snapshot_bytes()
    r.publish([])  # snapshot v2, timestamp v2
    c.init()
    c.refresh()
    r.write("snapshot.json", old)
    r.write("2.snapshot.json", old)
    c.state.requests.clear()
    c.refresh()
    assert version(c, "snapshot") == 2
    assert meta_requests(c)[-1] == "timestamp.json"


def test_timestamp_rollback_is_refused(make_client):
    """test_new_timestamp_version_rollback."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    r.republish_timestamp()  # v2
    c.refresh()
    assert version(c, "timestamp") == 2
    r.timestamp_version = 1
    r.write("timestamp.json", sign(r.timestamp_signed(), r.keys["timestamp"]))
    c.state.requests.clear()
    p = c.refresh(check=1)
    assert "rollback attack?" in p.stderr
    assert version(c, "timestamp") == 2
    assert meta_requests(c)[-1] == "timestamp.json"


@pytest.mark.parametrize("hashes", [False, True], ids=["basic", "with-hashes"])
def test_snapshot_rollback_through_new_timestamp(make_client, hashes):
    """test_snapshot_rollback: timestamp v3 names snapshot v1 while v2 is
    trusted: refused before the snapshot is fetched."""
    c = make_client(meta_hashes=hashes)
    r = c.repo
    r.publish()
    v1 = r.snapshot_bytes()
    r.publish([])  # v2, v2
    c.init()
    c.refresh()
    r.snapshot_version = 1
    r.timestamp_version += 1
    r.write("timestamp.json", sign(r.timestamp_signed(v1), r.keys["timestamp"]))
    c.state.requests.clear()
    p = c.refresh(check=1)
    assert "rollback attack?" in p.stderr
    assert version(c, "timestamp") == 2
    assert version(c, "snapshot") == 2
    assert meta_requests(c)[-1] == "timestamp.json"


def test_targets_fast_forward_recovery(make_client):
    """test_new_targets_fast_forward_recovery: targets was pushed to v99999;
    root v2 rotates the snapshot key, the repository starts targets again
    at v1: accepted (the trusted snapshot, signed by the rotated-out key,
    no longer counts: 5.3.11). After that the rollback checks work from the
    new versions."""
    c = make_client(consistent=True)
    r = c.repo
    r.add_target("targets", "t", b"payload")
    r.publish()
    c.init()
    r.roles["targets"].version = 99998
    r.publish(["targets"])
    c.refresh()
    assert version(c, "targets") == 99999
    r.rotate_root("snapshot", new_keys=[Key()])
    r.roles["targets"].version = 0
    r.publish(["targets"])
    c.refresh()
    assert trusted_roles(c) == [("root", 2), ("snapshot", 3), ("targets", 1), ("timestamp", 3)]
    c.download("t")
    # Rollback after the recovery: a snapshot naming targets v1 again
    # after v2 is refused.
    r.publish(["targets"])  # targets v2, snapshot v4
    c.refresh()
    r.snapshot_version += 1
    body = r.snapshot_signed()
    body["meta"]["targets.json"] = {"version": 1}
    write_snapshot(r, body)
    r.republish_timestamp()
    p = c.refresh(check=1)
    assert "targets.json version 1, lower than the trusted 2" in p.stderr
    assert trusted_roles(c) == [("root", 2), ("snapshot", 4), ("targets", 2), ("timestamp", 5)]


def test_snapshot_fast_forward_recovery(make_client):
    """test_new_snapshot_fast_forward_recovery: snapshot was pushed to
    v99999; root rotates snapshot and timestamp keys; snapshot restarts at
    v1 with a higher timestamp."""
    c = make_client(consistent=True)
    r = c.repo
    r.publish()
    c.init()
    r.snapshot_version = 99998
    r.publish([])
    c.refresh()
    assert version(c, "snapshot") == 99999
    r.rotate_root("snapshot", new_keys=[Key()])
    r.rotate_root("timestamp", new_keys=[Key()])
    r.snapshot_version = 0
    r.publish([])
    c.refresh()
    assert trusted_roles(c) == [("root", 3), ("snapshot", 1), ("targets", 1), ("timestamp", 3)]
    # And a replay of the fast-forwarded snapshot (old key) is refused.
    r.snapshot_version = 99999
    r.republish_timestamp()
    p = c.refresh(check=1)
    assert "99999.snapshot.json" in p.stderr
    assert version(c, "snapshot") == 1


def test_snapshot_other_version_than_timestamp_names(make_client):
    """test_new_snapshot_version_mismatch: timestamp names snapshot v1, the
    server has v2 under that name: refused, the timestamp (already
    checked) is trusted, the snapshot is not; the snapshot request was
    the last one."""
    c = make_client(consistent=True, meta_hashes=False)
    r = c.repo
    r.publish()
    c.init()
    r.snapshot_version = 2
    body = r.snapshot_signed()
    r.write_role("snapshot", 1, sign(body, r.keys["snapshot"]))
    p = c.refresh(check=1)
    assert "is not the version 1 the timestamp lists" in p.stderr
    assert trusted_roles(c) == [("root", 1), ("timestamp", 1)]
    assert meta_requests(c)[-1] == "1.snapshot.json"


def test_timestamp_fast_forward_recovery(make_client):
    """test_new_timestamp_fast_forward_recovery: timestamp was pushed to
    v99999; root rotates the timestamp key; timestamp restarts at v1. The
    trusted timestamp and snapshot are deleted when the new root is trusted
    (5.3.11: a key was rotated out), so while the server still serves the
    old timestamp the refresh fails with nothing stale left behind, and the
    new key's v1 is then accepted."""
    c = make_client(consistent=True)
    r = c.repo
    r.publish()
    c.init()
    r.timestamp_version = 99998
    r.republish_timestamp()
    c.refresh()
    assert version(c, "timestamp") == 99999
    r.rotate_root("timestamp", new_keys=[Key()])
    p = c.refresh(check=1)
    assert "timestamp.json: signature threshold 1 not met (0 valid)" in p.stderr
    assert trusted_roles(c) == [("root", 2), ("targets", 1)]
    r.timestamp_version = 0
    r.republish_timestamp()
    c.refresh()
    assert trusted_roles(c) == [("root", 2), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]
    # From there on the rollback check works from v1 again.
    r.republish_timestamp()
    c.refresh()
    r.timestamp_version = 0
    r.republish_timestamp()
    p = c.refresh(check=1)
    assert "version 1 is lower than the trusted version 2 (rollback attack?)" in p.stderr


def test_timestamp_restart_without_timestamp_key_rotation_is_a_rollback(make_client):
    """A new root that rotates another role's key (targets) or only adds a
    timestamp key does not make the trusted timestamp void: it is still
    signed by a key root trusts and no timestamp/snapshot key was rotated
    out (5.3.11), so a timestamp restarted at v1 is a rollback."""
    c = make_client(consistent=True)
    r = c.repo
    r.publish()
    c.init()
    r.timestamp_version = 99998
    r.republish_timestamp()
    c.refresh()
    r.rotate_root("timestamp", new_keys=r.keys["timestamp"] + [Key()])
    r.rotate_root("targets", new_keys=[Key()])
    r.timestamp_version = 0
    r.publish(["targets"])
    p = c.refresh(check=1)
    assert "version 1 is lower than the trusted version 99999 (rollback attack?)" in p.stderr
    assert trusted_roles(c) == [("root", 3), ("snapshot", 1), ("targets", 1),
                                ("timestamp", 99999)]


@pytest.mark.parametrize("hashes", [False, True], ids=["basic", "with-hashes"])
def test_targets_rollback_in_new_snapshot(make_client, hashes):
    """test_targets_rollback: the trusted snapshot's targets version is
    used for the rollback check of a new snapshot, also when the timestamp
    lists the new snapshot's hash."""
    c = make_client(meta_hashes=hashes)
    r = c.repo
    r.publish()
    c.init()
    r.publish(["targets"])  # targets v2, snapshot v2
    c.refresh()
    r.roles["targets"].version = 0
    r.publish(["targets"])  # targets v1, snapshot v3
    p = c.refresh(check=1)
    assert "lists targets.json version 1, lower than the trusted 2" in p.stderr
    assert trusted_roles(c) == [("root", 1), ("snapshot", 2), ("targets", 2), ("timestamp", 3)]


# -- test_file_download ----------------------------------------------------------------


@pytest.mark.parametrize("consistent", [True, False], ids=["consistent", "plain"])
@pytest.mark.parametrize("path", ["target_file.txt", "path/to/a/target_file.txt"])
def test_client_downloads_expected_file(make_client, consistent, path):
    c = make_client(consistent=consistent)
    r = c.repo
    content = b"target file contents"
    r.add_target("targets", path, content)
    r.publish()
    c.init()
    c.refresh()
    assert downloaded(c) == []
    c.download(path)
    assert downloaded(c) == [content]
    assert (c.tdir / path).read_bytes() == content
    h = hashlib.sha256(content).hexdigest()
    if consistent:
        d, _, base = path.rpartition("/")
        assert target_requests(c) == [f"{d}/{h}.{base}" if d else f"{h}.{base}"]
    else:
        assert target_requests(c) == [path]


def test_repository_substitutes_target_file(make_client):
    c = make_client(consistent=True)
    r = c.repo
    r.add_target("targets", "target_file.txt", b"target file contents")
    r.add_target("targets", "another_target_file.txt", b"content")
    r.publish()
    c.init()
    c.download("target_file.txt")
    assert downloaded(c) == [b"target file contents"]
    evil = b"malicious data - should not download"
    for name, data in (("target_file.txt", b"target file contents"),
                       ("another_target_file.txt", b"content")):
        r.target_bytes_path(name, data).write_bytes(evil)
    # The cached copy still matches the metadata: not fetched again.
    c.state.requests.clear()
    c.download("target_file.txt")
    assert target_requests(c) == []
    p = c.download("another_target_file.txt", check=1)
    assert "another_target_file.txt" in p.stderr
    assert downloaded(c) == [b"target file contents"]
    assert sorted(x.name for x in c.tdir.iterdir()) == ["target_file.txt"]


def test_multiple_changes_to_target(make_client):
    """Eleven legitimate changes of one artifact (plus a new one each
    time); the client looks at every fifth, downloads the new contents in
    place, and never takes bytes the metadata does not describe."""
    c = make_client(consistent=True)
    r = c.repo
    path = "target_file.txt"
    r.add_target("targets", path, b"target file contents")
    r.publish()
    c.init()
    c.download(path)
    expected = [b"target file contents"]
    previous = b"target file contents"
    for i in range(11):
        modified = f"modified file contents {i}".encode()
        r.add_target("targets", path, modified)
        new_path = f"new-target-{i}"
        r.add_target("targets", new_path, f"new file contents {i}".encode())
        r.publish(["targets"])
        if i % 5 != 0:
            continue
        c.download(path)
        expected.remove(previous)
        expected.append(modified)
        previous = modified
        assert downloaded(c) == expected
        c.download(new_path)
        expected.append(f"new file contents {i}".encode())
        assert downloaded(c) == expected
        # The artifact's bytes change on the server, the metadata only
        # gets a new version: the cached copy stays, the bad bytes are
        # never taken.
        # (same length as the real bytes: only the hash can tell)
        r.target_bytes_path(path, modified).write_bytes(b"M" * len(modified))
        r.publish(["targets"])
        c.download(path)
        assert downloaded(c) == expected
        # A local copy that no longer matches is fetched again, and the
        # bad bytes on the server are refused.
        (c.tdir / path).write_bytes(b"local damage")
        p = c.download(path, check=1)
        assert "arbitrary installation attack? target_file.txt" in p.stderr
        assert (c.tdir / path).read_bytes() == b"local damage"
        r.target_bytes_path(path, modified).write_bytes(modified)
        c.download(path)
        assert (c.tdir / path).read_bytes() == modified
    assert [p.name for p in c.tdir.iterdir() if ".part-" in p.name] == []


def test_consistent_snapshot_turned_off_with_dot_named_delegations(make_client):
    """test_TestDelegateConsistentSnapshotDisabled (an older version of the
    suite's test_expiration, from go-tuf): root v2 turns consistent
    snapshots off and targets delegates to roles named "role1", ".." and
    ".": the refresh succeeds, then the roles are fetched under their
    unversioned names and stored as files inside the metadata directory."""
    c = make_client(consistent=True)
    r = c.repo
    r.publish()
    c.init()
    c.refresh()
    r.consistent = False
    r.rotate_root()
    for name in ("role1", "..", "."):
        r.delegate("targets", name, paths=["*"])
    r.add_target(".", "dot.txt", b"from the role named dot")
    r.publish(["targets", "role1", "..", "."])
    c.state.requests.clear()
    c.refresh()
    assert meta_requests(c) == ["2.root.json", "3.root.json", "timestamp.json", "snapshot.json",
                                "targets.json"]
    c.state.requests.clear()
    c.download("dot.txt")
    assert (c.tdir / "dot.txt").read_bytes() == b"from the role named dot"
    assert target_requests(c) == ["dot.txt"]
    assert [m for m in meta_requests(c) if m not in ("3.root.json", "timestamp.json")] == [
        "role1.json", "...json", "..json"]
    assert sorted(p.name for p in c.mdir.iterdir()) == [
        "...json", "..json", "role1.json", "root.json", "snapshot.json", "targets.json",
        "timestamp.json"]


@pytest.mark.parametrize("where", ["envelope", "signature", "root-role", "root-key",
                                   "timestamp-meta", "snapshot-meta", "target", "delegations",
                                   "delegated-role", "delegated-key"])
def test_unknown_fields_everywhere(make_client, where):
    """Spec section 4 / python-tuf: unrecognized attribute-value pairs are
    kept (and signed where they are inside `signed`) in every object, not
    only at the top of `signed`."""
    c = make_client(meta_hashes=True)
    r = c.repo
    r.add_target("targets", "t", b"payload")
    r.delegate("targets", "d", paths=["d/*"])
    r.add_target("d", "d/file", b"delegated payload")
    extra = {"x-unknown": {"nested": [1, "two", None]}}
    if where in ("root-role", "root-key"):
        r.root_version = 1
        body = r.root_signed()
        if where == "root-role":
            body["roles"]["targets"].update(extra)
        else:
            body["keys"][r.keys["targets"][0].keyid].update(extra)
        data = r.write("1.root.json", sign(body, r.keys["root"]))
        r.write("root.json", data)
    r.publish()
    if where in ("envelope", "signature"):
        r.roles["targets"].version += 1
        env = sign(r.targets_signed("targets"), r.keys["targets"])
        if where == "envelope":
            env.update(extra)
        else:
            env["signatures"][0].update(extra)
        r._written["targets"] = r.write_role("targets", r.roles["targets"].version, env)
        r.publish([])
    elif where == "timestamp-meta":
        r.timestamp_version += 1
        body = r.timestamp_signed()
        body["meta"]["snapshot.json"].update(extra)
        r.write("timestamp.json", sign(body, r.keys["timestamp"]))
    elif where == "snapshot-meta":
        r.snapshot_version += 1
        body = r.snapshot_signed()
        body["meta"]["targets.json"].update(extra)
        write_snapshot(r, body)
        r.republish_timestamp()
    elif where in ("target", "delegations", "delegated-role", "delegated-key"):
        r.roles["targets"].version += 1
        body = r.targets_signed("targets")
        if where == "target":
            body["targets"]["t"].update(extra)
        elif where == "delegations":
            body["delegations"].update(extra)
        elif where == "delegated-role":
            body["delegations"]["roles"][0].update(extra)
        else:
            body["delegations"]["keys"][r.roles["d"].keys[0].keyid].update(extra)
        r._written["targets"] = r.write_role("targets", r.roles["targets"].version,
                                             sign(body, r.keys["targets"]))
        r.publish([])
    c.init(root=r.root_file(1))
    c.download("t", "d/file")
    assert downloaded(c) == [b"payload", b"delegated payload"]


def test_root_file_holding_the_trusted_version_aborts_the_update(make_client):
    """5.3.5 (TUF 1.0.31 and later, python-tuf): N+1.root.json must hold
    exactly version N+1; anything else, the trusted version N included,
    is discarded and the update aborted as a rollback (an older draft
    let the update go on with root N). Nothing after root is fetched or
    changed."""
    c = make_client()
    r = c.repo
    r.publish()
    c.init()
    r.rotate_root()  # v2
    c.refresh()
    r.publish(["targets"])
    r.write("3.root.json", r.root_file(2).read_bytes())
    c.state.requests.clear()
    p = c.refresh(check=1)
    assert "3.root.json: version 2 is the trusted version, not 3 (rollback attack?)" in p.stderr
    assert meta_requests(c) == ["3.root.json"]
    assert trusted_roles(c) == [("root", 2), ("snapshot", 1), ("targets", 1), ("timestamp", 1)]


def test_empty_artifact_and_endless_data_for_it(make_client):
    """A zero-length artifact downloads as an empty file; a server sending
    bytes for it is cut off at once (a signed length of 0 is a ceiling of
    0, not "no limit")."""
    c = make_client(consistent=True)
    r = c.repo
    r.add_target("targets", "empty", b"")
    r.add_target("targets", "empty2", b"", hashes={"sha512": hashlib.sha512(b"").hexdigest()})
    r.publish()
    c.init()
    c.download("empty")
    assert (c.tdir / "empty").read_bytes() == b""
    c.state.rules[f"/targets/{hashlib.sha512(b'').hexdigest()}.empty2"] = "endless"
    p = c.download("empty2", check=1)
    assert "endless data attack?" in p.stderr
    assert not (c.tdir / "empty2").exists()
    assert [x.name for x in c.tdir.iterdir()] == ["empty"]
