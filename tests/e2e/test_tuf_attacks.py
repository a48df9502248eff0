"""The attacks of the TUF specification (1.0.x, "Goals to protect against
specific attacks"), each against `vouch client` end to end: a repository
written by tests/e2e/tufrepo.py, served on 127.0.0.1 by a server that can
misbehave on request (endless data, trickling, substitutions). Each test is
named after what it attacks; every one asserts the exit code (1 = rejected
by a security check), the reason, and that nothing untrusted was kept."""
import hashlib
import json
import time

import pytest
from conftest import binary, run
from tufrepo import (Client, Key, Misbehaviour, Repo, copy_tree, dump, expires_in, faketime_env,
                     make_handler, sign)

# Keep slow-retrieval tests short: < 1000 B/s for 2 s aborts.
SLOW = {"VOUCH_FETCH_LOW_SPEED_LIMIT": "1000", "VOUCH_FETCH_LOW_SPEED_TIME": "2"}


@pytest.fixture
def make_client(tmp_path, http_server):
    def _make(sub="repo", **kw):
        repo = Repo(tmp_path / sub, **kw)
        state = Misbehaviour()
        url = http_server(repo.path, handler=make_handler(state))
        return Client(binary("vouch"), run, repo, url, state, tmp_path)

    return _make


def tiers(c, consistent_files=True):
    r = c.repo
    r.add_target("targets", "top.txt", b"top-level")
    r.delegate("targets", "bootloader", paths=["bootloader/*", "bootloader/*/*"],
               terminating=True)
    r.delegate("targets", "os", paths=["os/*", "os/*/*"], terminating=True)
    r.delegate("targets", "app", paths=["app/*", "app/*/*"], terminating=True)
    r.add_target("bootloader", "bootloader/stable/u-boot.bin", b"genuine bootloader")
    r.add_target("os", "os/stable/os-1.img", b"genuine os image 1")
    r.add_target("app", "app/stable/app-1.tar", b"genuine app 1")
    r.publish()
    c.init()
    c.refresh()
    return r


def snapshot_of(c):
    return {name: c.trusted(name) for name in ("root.json", "timestamp.json", "snapshot.json",
                                               "targets.json")}


# -- arbitrary installation -------------------------------------------------------


def test_arbitrary_installation_tampered_target(make_client):
    c = make_client()
    r = tiers(c)
    path = r.targets_dir / "os/stable/os-1.img"
    path.write_bytes(b"EVIL os image !!!!")  # same length, other bytes
    p = c.download("os/stable/os-1.img", check=1)
    assert "sha256 mismatch" in p.stderr
    assert not (c.tdir / "os/stable/os-1.img").exists()
    assert not list(c.tdir.rglob("*.part-*"))


def test_arbitrary_installation_metadata_signed_by_unknown_key(make_client):
    c = make_client()
    r = tiers(c)
    r.roles["targets"].keys = [Key()]  # attacker's key, not in root
    r.add_target("targets", "evil.bin", b"evil")
    r.publish(["targets"])
    before = c.trusted("targets.json")
    p = c.download("evil.bin", check=1)
    assert "targets.json: signature threshold 1 not met (0 valid)" in p.stderr
    assert c.trusted("targets.json") == before
    assert not (c.tdir / "evil.bin").exists()


def test_arbitrary_installation_modified_signed_metadata(make_client):
    c = make_client()
    r = tiers(c)
    # Change a signed field after signing: the signature no longer covers it.
    env = json.loads(r.written("os"))
    env["signed"]["targets"]["os/stable/os-1.img"]["hashes"]["sha256"] = "00" * 32
    r.roles["os"].version += 1
    env["signed"]["version"] = r.roles["os"].version
    r._written["os"] = r.write_role("os", r.roles["os"].version, env)
    r.publish([])
    p = c.download("os/stable/os-1.img", check=1)
    assert "os.json: signature threshold 1 not met (0 valid)" in p.stderr


# -- endless data -------------------------------------------------------------------

ENDLESS = ["2.root.json", "timestamp.json", "snapshot.json", "targets.json", "os.json"]


@pytest.mark.parametrize("meta_hashes", [True, False], ids=["signed-length", "default-limit"])
@pytest.mark.parametrize("victim", ENDLESS)
def test_endless_data_metadata(make_client, victim, meta_hashes):
    c = make_client(meta_hashes=meta_hashes)
    tiers(c)
    c.repo.rotate_root()  # so that 2.root.json is requested
    c.repo.add_target("os", "os/stable/os-2.img", b"os 2")
    c.repo.publish(["os", "targets"])
    c.state.rules[f"/metadata/{victim}"] = "endless"
    before = snapshot_of(c)
    t0 = time.monotonic()
    p = c.download("os/stable/os-2.img", check=1)
    assert time.monotonic() - t0 < 30
    assert "endless data" in p.stderr and victim in p.stderr
    after = snapshot_of(c)
    if victim in ("timestamp.json", "2.root.json"):
        assert after["timestamp.json"] == before["timestamp.json"]
    if victim == "2.root.json":
        assert after["root.json"] == before["root.json"]


def test_endless_data_metadata_limits_are_configurable(make_client):
    c = make_client(meta_hashes=False)
    tiers(c)
    c.repo.publish(["targets"])
    p = c.refresh("--snapshot-max", "100", check=1)
    assert "snapshot.json: more than 100 bytes (endless data attack?)" in p.stderr


def test_endless_data_signed_length_cannot_raise_the_limit(make_client):
    """A compromised timestamp key announcing a huge snapshot length does
    not make the client read more than its own ceiling."""
    c = make_client()
    r = tiers(c)
    r.publish(["os"])
    ts = r.timestamp_signed()
    ts["meta"]["snapshot.json"]["length"] = 10 * 2**30
    r.write("timestamp.json", sign(ts, r.keys["timestamp"]))
    c.state.rules["/metadata/snapshot.json"] = "endless"
    p = c.refresh("--snapshot-max", "65536", check=1)
    assert "snapshot.json: more than 65536 bytes (endless data attack?)" in p.stderr


def test_endless_data_target(make_client):
    c = make_client()
    tiers(c)
    c.state.rules["/targets/os/stable/os-1.img"] = "endless"
    p = c.download("os/stable/os-1.img", check=1)
    assert "more than the signed length 18 (endless data attack?)" in p.stderr
    assert not (c.tdir / "os/stable/os-1.img").exists()
    assert not list(c.tdir.rglob("*.part-*"))


# -- slow retrieval -------------------------------------------------------------------


@pytest.mark.parametrize("victim", ["/metadata/timestamp.json", "/targets/os/stable/os-1.img"])
def test_slow_retrieval(make_client, victim):
    c = make_client()
    tiers(c)
    c.state.rules[victim] = "trickle"
    t0 = time.monotonic()
    p = c.download("os/stable/os-1.img", check=1, env=SLOW)
    assert time.monotonic() - t0 < 20
    assert "too slow" in p.stderr and "slow retrieval" in p.stderr
    assert not (c.tdir / "os/stable/os-1.img").exists()


def test_slow_retrieval_cli_options(make_client):
    c = make_client()
    tiers(c)
    c.state.rules["/metadata/timestamp.json"] = "trickle"
    t0 = time.monotonic()
    p = c.refresh("--low-speed-limit", "1000", "--low-speed-time", "1", check=1)
    assert time.monotonic() - t0 < 15
    assert "too slow" in p.stderr


# -- extraneous dependencies / key compromise of a tier -------------------------------


def test_extraneous_dependencies_tier_key_signs_outside_its_tier(make_client):
    """The app tier's key (stolen) lists a bootloader image: never trusted."""
    c = make_client()
    r = tiers(c)
    r.add_target("app", "bootloader/stable/u-boot.bin", b"evil bootloader!!!")
    r.add_target("app", "bootloader/evil.bin", b"evil")
    r.add_target("app", "app/stable/app-2.tar", b"genuine app 2")
    r.publish(["app"])
    # bootloader/stable/u-boot.bin still resolves to the bootloader tier's file
    # (whose bytes the attacker overwrote on the server): hash mismatch.
    p = c.download("bootloader/stable/u-boot.bin", check=1)
    assert "mismatch" in p.stderr
    p = c.download("bootloader/evil.bin", check=1)
    assert "bootloader/evil.bin: no trusted role lists this target" in p.stderr
    listed = c.list("bootloader/")["targets"]
    assert [(t["name"], t["role"]) for t in listed] == [("bootloader/stable/u-boot.bin",
                                                          "bootloader")]
    c.download("app/stable/app-2.tar")


def test_extraneous_dependencies_nested_delegation_beyond_parent_paths(make_client):
    """A role delegated by `os` with wider patterns than os's own delegation
    is still only trusted for names that every delegation on its chain
    matches."""
    c = make_client()
    r = c.repo
    r.delegate("targets", "os", paths=["os/*"], terminating=True)
    r.delegate("os", "os-vendor", paths=["*", "*/*"])
    r.add_target("os-vendor", "os-evil", b"outside os/")
    r.add_target("os-vendor", "os/ok", b"inside os/")
    r.publish()
    c.init()
    c.download("os/ok")
    p = c.download("os-evil", check=1)
    assert "no trusted role lists this target" in p.stderr


# -- fast-forward, and recovery ------------------------------------------------------


def test_fast_forward_timestamp_recovery_after_key_rotation(make_client):
    c = make_client()
    r = tiers(c)
    # The attacker holds the timestamp key and fast-forwards the version.
    r.timestamp_version = 10**9
    r.write("timestamp.json", sign(r.timestamp_signed(), r.keys["timestamp"]))
    c.refresh()
    assert json.loads(c.trusted("timestamp.json"))["signed"]["version"] == 10**9
    # The repository recovers with honest numbers: refused while the old
    # key is trusted (a rollback from the client's point of view) ...
    r.timestamp_version = 2
    r.write("timestamp.json", sign(r.timestamp_signed(), r.keys["timestamp"]))
    p = c.refresh(check=1)
    assert "lower than the trusted version 1000000000 (rollback attack?)" in p.stderr
    # ... until root rotates the timestamp key: the trusted timestamp, which
    # the new key does not verify, no longer counts (spec 5.3.11, fast-
    # forward recovery; the file is replaced, not deleted) and the client
    # follows again.
    r.rotate_root("timestamp", new_keys=[Key()])
    r.republish_timestamp()
    p = c.refresh("--json")
    assert json.loads(p.stdout)["versions"] == {"root": 2, "timestamp": 3, "snapshot": 1,
                                                "targets": 1}


def test_fast_forward_snapshot_recovery_after_key_rotation(make_client):
    c = make_client()
    r = tiers(c)
    # The attacker holds the snapshot and timestamp keys: snapshot lists
    # targets at a huge version.
    r.snapshot_version = 10**6
    snap = r.write_role("snapshot", r.snapshot_version, sign(
        dict(r.snapshot_signed(), meta={"targets.json": {"version": 10**6},
                                        "os.json": {"version": 1}, "app.json": {"version": 1},
                                        "bootloader.json": {"version": 1}}),
        r.keys["snapshot"]))
    r._snapshot_bytes = snap
    r.republish_timestamp()
    p = c.refresh(check=1)  # targets.json v1 is not the v1000000 listed
    assert "is not the version 1000000 the snapshot lists" in p.stderr
    # Recovery: honest snapshot v2 is refused while the keys are trusted ...
    r.snapshot_version = 2
    r.publish(["targets"], snapshot=True)
    p = c.refresh(check=1)
    assert "rollback attack?" in p.stderr
    # ... and accepted after root rotates the snapshot and timestamp keys.
    r.rotate_root("snapshot", new_keys=[Key()])
    r.rotate_root("timestamp", new_keys=[Key()])
    r.publish(["targets"])
    c.refresh()
    c.download("os/stable/os-1.img")


# -- indefinite freeze ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets", "os", "root"])
def test_indefinite_freeze_expired_metadata(make_client, role):
    c = make_client()
    r = tiers(c)
    past = "2020-01-01T00:00:00Z"
    if role == "timestamp":
        r.timestamp_expires = past
        r.republish_timestamp()
    elif role == "snapshot":
        r.snapshot_expires = past
        r.publish([])
    elif role == "root":
        r.root_expires = past
        r.rotate_root()
    else:
        r.roles[role].expires = past
        r.publish([role])
    p = c.download("os/stable/os-1.img", check=1)
    assert f"expired at {past} (freeze attack?)" in p.stderr
    assert f"{role}.json" in p.stderr


@pytest.mark.parametrize("days,what", [(2, "timestamp.json"), (10, "timestamp.json"),
                                       (400, "root.json")])
def test_indefinite_freeze_clock_moves_on(make_client, days, what):
    """The same repository, frozen, seen by a client days later (the
    clock faked with libfaketime: time comes from the C library)."""
    c = make_client()
    tiers(c)
    env = faketime_env(f"+{days}d")
    if env is None:
        pytest.skip("libfaketime not installed (scripts/install-deps)")
    p = c.refresh(check=1, env=env)
    assert f"{what}: expired" in p.stderr and "freeze attack?" in p.stderr
    c.refresh()  # today it is fine


# -- malicious mirrors preventing updates --------------------------------------------


def test_malicious_mirror_preventing_updates(make_client, http_server, tmp_path):
    """A mirror that fails, or serves junk, cannot wedge the client: it
    reports the problem and a good mirror still updates it."""
    c = make_client()
    r = tiers(c)
    r.add_target("os", "os/stable/os-2.img", b"os 2")
    r.publish(["os"])
    bad = Misbehaviour()
    bad_url = http_server(r.path, handler=make_handler(bad))
    bad.rules["/metadata/timestamp.json"] = "404"
    before = snapshot_of(c)
    p = c.refresh(url=bad_url + "/metadata", check=1)
    assert "not found" in p.stderr
    bad.rules["/metadata/timestamp.json"] = b'{"signatures":[],"signed":{}}'
    c.refresh(url=bad_url + "/metadata", check=1)
    bad.rules["/metadata/timestamp.json"] = b"\x00garbage"
    c.refresh(url=bad_url + "/metadata", check=1)
    assert snapshot_of(c) == before
    c.download("os/stable/os-2.img")  # from the good mirror


# -- mix-and-match ---------------------------------------------------------------------


def test_mix_and_match_targets_older_than_snapshot_lists(make_client):
    c = make_client(meta_hashes=False)
    r = tiers(c)
    old_targets = r.written("targets")
    r.add_target("targets", "new.txt", b"new")
    r.publish(["targets"])
    r.write("targets.json", old_targets)  # an older, validly signed targets
    p = c.download("new.txt", check=1)
    assert "targets.json: version 1 is not the version 2 the snapshot lists" in p.stderr


def test_mix_and_match_snapshot_other_than_timestamp_hash(make_client):
    c = make_client()
    r = tiers(c)
    r.publish(["os"])
    snap = json.loads(r.snapshot_bytes())
    # Same version, validly signed, but not the bytes the timestamp names.
    snap["signed"]["expires"] = expires_in(6)
    r.write("snapshot.json", sign(snap["signed"], r.keys["snapshot"]))
    p = c.refresh(check=1)
    assert "snapshot.json" in p.stderr and "mix-and-match" in p.stderr


def test_mix_and_match_timestamp_names_other_snapshot_version(make_client):
    c = make_client(meta_hashes=False)
    r = tiers(c)
    r.publish(["os"])
    r.snapshot_version += 1
    r.republish_timestamp()  # names snapshot v3, snapshot.json is v2
    p = c.refresh(check=1)
    assert "snapshot.json: version 2 is not the version 3 the timestamp lists" in p.stderr


# -- rollback -------------------------------------------------------------------------------


def test_rollback_timestamp(make_client):
    c = make_client()
    r = tiers(c)
    old = (r.metadata_dir / "timestamp.json").read_bytes()
    r.publish(["os"])
    c.refresh()
    r.write("timestamp.json", old)
    p = c.refresh(check=1)
    assert "timestamp.json: version 1 is lower than the trusted version 2 (rollback attack?)" \
        in p.stderr


def test_rollback_snapshot_via_timestamp(make_client):
    c = make_client()
    r = tiers(c)
    r.publish(["os"])
    c.refresh()
    # A new timestamp (compromised online key) naming the old snapshot.
    r.snapshot_version = 1
    r._snapshot_bytes = (r.metadata_dir / "snapshot.json").read_bytes()
    r.republish_timestamp()
    p = c.refresh(check=1)
    assert "lists snapshot version 1, lower than the trusted 2 (rollback attack?)" in p.stderr


@pytest.mark.parametrize("role", ["targets", "os"])
def test_rollback_targets_version_in_snapshot(make_client, role):
    c = make_client()
    r = tiers(c)
    r.publish([role])
    c.download("os/stable/os-1.img")
    # Snapshot and timestamp keys compromised: a snapshot listing the
    # older targets role version.
    r.roles[role].version = 1
    r.publish([])
    p = c.refresh(check=1)
    assert f"lists {role}.json version 1, lower than the trusted 2 (rollback attack?)" \
        in p.stderr


def test_rollback_snapshot_drops_a_role(make_client):
    c = make_client()
    r = tiers(c)
    del r.roles["app"]
    r.roles["targets"].delegations = [d for d in r.roles["targets"].delegations
                                      if d["name"] != "app"]
    r.publish(["targets"])
    p = c.refresh(check=1)
    assert "no longer lists app.json (rollback attack?)" in p.stderr


def test_rollback_root(make_client):
    c = make_client()
    r = tiers(c)
    r.rotate_root()
    r.rotate_root()
    c.refresh()
    # 4.root.json holding the (validly signed) version 2.
    r.write("4.root.json", r.root_file(2).read_bytes())
    p = c.refresh(check=1)
    assert "4.root.json: version 2 is lower than the trusted version 3 (rollback attack?)" \
        in p.stderr
    # Holding version 3 itself: also refused (spec 5.3.5: exactly N+1).
    r.write("4.root.json", r.root_file(3).read_bytes())
    p = c.refresh(check=1)
    assert "4.root.json: version 3 is the trusted version, not 4 (rollback attack?)" in p.stderr
    assert json.loads(c.trusted("root.json"))["signed"]["version"] == 3


def test_older_mirror_with_valid_signatures(make_client, http_server, tmp_path):
    """A mirror serving a whole older (validly signed) copy of the repository."""
    c = make_client()
    r = tiers(c)
    copy_tree(r.path, tmp_path / "frozen")
    r.add_target("os", "os/stable/os-2.img", b"os 2")
    r.publish(["os"])
    r.publish(["os"])
    c.refresh()
    old_url = http_server(tmp_path / "frozen")
    p = c.refresh(url=old_url + "/metadata", check=1)
    assert "lower than the trusted version 3 (rollback attack?)" in p.stderr
    assert json.loads(c.trusted("timestamp.json"))["signed"]["version"] == 3


# -- key compromise and thresholds -----------------------------------------------------------


def test_key_compromise_one_key_signing_twice_does_not_meet_threshold(make_client):
    c = make_client()
    r = c.repo
    k1, k2 = Key(), Key()
    r.keys["targets"] = [k1, k2]
    r.roles["targets"].keys = [k1, k2]
    r.thresholds["targets"] = 2
    r.add_target("targets", "t", b"t")
    r.publish()
    c.init()
    c.download("t")
    r.add_target("targets", "evil", b"evil")
    r.roles["targets"].version += 1
    r._written["targets"] = r.write_role("targets", r.roles["targets"].version,
                                         sign(r.targets_signed("targets"), [k1, k1]))
    r.publish([])
    p = c.download("evil", check=1)
    assert "targets.json: signature threshold 2 not met (1 valid)" in p.stderr


def test_key_compromise_same_key_under_two_key_ids(make_client):
    """Root lists one public key under two key ids: it still counts once."""
    c = make_client()
    r = c.repo
    k = Key()
    fake_id = hashlib.sha256(b"another id").hexdigest()
    r.keys["targets"] = [k]
    r.roles["targets"].keys = [k]
    r.add_target("targets", "t", b"t")
    signed = r.root_signed
    r.root_signed = lambda: _alias_root(signed(), k, fake_id)
    r.publish()
    c.init()
    c.download("t")  # threshold 1: fine
    r.thresholds["targets"] = 2
    r.rotate_root()
    r.roles["targets"].version += 1
    msg_env = sign(r.targets_signed("targets"), [k])
    msg_env["signatures"].append({"keyid": fake_id, "sig": msg_env["signatures"][0]["sig"]})
    r._written["targets"] = r.write_role("targets", r.roles["targets"].version, msg_env)
    r.publish([])
    p = c.download("t", check=1)
    assert "signature threshold 2 not met (1 valid)" in p.stderr


def _alias_root(s, key, alias):
    s["keys"][alias] = key.public
    s["roles"]["targets"]["keyids"].append(alias)
    return s


def test_key_compromise_revoked_tier_key(make_client):
    c = make_client()
    r = tiers(c)
    old_key = r.roles["os"].keys[0]
    # Revocation: targets re-delegates os to a new key.
    new_key = Key()
    r.roles["os"].keys = [new_key]
    r.publish(["targets", "os"])
    c.download("os/stable/os-1.img")
    # The thief of the revoked key publishes an os role (snapshot/timestamp
    # online keys compromised too).
    r.roles["os"].keys = [old_key]
    r.add_target("os", "os/stable/os-evil.img", b"evil")
    r.publish(["os"])
    p = c.download("os/stable/os-evil.img", check=1)
    assert "os.json: signature threshold 1 not met (0 valid)" in p.stderr


def test_key_compromise_threshold_of_root(make_client):
    c = make_client(root_keys=3, root_threshold=2)
    r = tiers(c)
    # One stolen root key cannot make a new root.
    r.root_version += 1
    r.keys["targets"] = [Key()]
    r.write_root(signers=r.keys["root"][:1])
    p = c.refresh(check=1)
    assert "2.root.json (keys of trusted root version 1): signature threshold 2 not met " \
        "(1 valid)" in p.stderr
    assert json.loads(c.trusted("root.json"))["signed"]["version"] == 1


# -- wrong software installation ---------------------------------------------------------------


def test_wrong_software_installation(make_client):
    c = make_client()
    r = tiers(c)
    r.add_target("os", "os/stable/os-2.img", b"genuine os image 2")  # same length as 1
    r.publish(["os"])
    # The server answers os-2's URL with os-1's (validly listed) bytes.
    c.state.rules["/targets/os/stable/os-2.img"] = b"genuine os image 1"
    p = c.download("os/stable/os-2.img", check=1)
    assert "os/stable/os-2.img: sha256 mismatch" in p.stderr
    assert not (c.tdir / "os/stable/os-2.img").exists()


# -- root rotation ---------------------------------------------------------------------------


def _new_root_signed_by(c, which):
    r = c.repo
    old = list(r.keys["root"])
    new = [Key(), Key()]
    r.keys["root"] = new
    r.thresholds["root"] = 2
    r.root_version += 1
    r.write_root(signers=old if which == "old" else new)


@pytest.mark.parametrize("which", ["old", "new"])
def test_new_root_signed_by_only_one_generation_of_keys(make_client, which):
    c = make_client()
    tiers(c)
    _new_root_signed_by(c, which)
    p = c.refresh(check=1)
    want = "its own root keys" if which == "old" else "keys of trusted root version 1"
    assert f"2.root.json ({want}): signature threshold" in p.stderr
    assert json.loads(c.trusted("root.json"))["signed"]["version"] == 1


def test_root_version_skip(make_client):
    c = make_client()
    r = tiers(c)
    r.root_version = 3  # served as 2.root.json
    data = dump(sign(r.root_signed(), r.keys["root"]))
    r.write("2.root.json", data)
    p = c.refresh(check=1)
    assert "2.root.json: version 3, expected 2" in p.stderr


def test_spec_version_major_must_be_1(make_client):
    c = make_client()
    r = tiers(c)
    r.roles["targets"].extra = {"spec_version": "2.0.0"}
    r.publish(["targets"])
    p = c.refresh(check=1)
    assert "spec_version 2.0.0 is not supported" in p.stderr


def test_fast_forward_recovery_survives_an_expired_rotating_root(make_client):
    """5.3.11 must not be lost when the root that rotates the snapshot key
    is itself expired (5.3.10 then fails the refresh): the next refresh
    starts from that root, sees no rotation any more, and would keep the
    fast-forwarded timestamp for ever. The stale timestamp and snapshot
    are deleted as soon as the walk has trusted the rotating root."""
    c = make_client()
    r = tiers(c)
    # The attacker holds the timestamp key and fast-forwards it.
    r.timestamp_version = 10**9
    r.write("timestamp.json", sign(r.timestamp_signed(), r.keys["timestamp"]))
    c.refresh()
    # Root v2 rotates the snapshot key but was published already expired.
    r.root_expires = expires_in(-1)
    r.rotate_root("snapshot", new_keys=[Key()])
    p = c.refresh(check=1)
    assert "root.json: expired" in p.stderr
    assert not (c.mdir / "timestamp.json").exists()
    assert not (c.mdir / "snapshot.json").exists()
    # Root v3 (same keys, valid) and an honest timestamp.
    r.root_expires = expires_in(365)
    r.rotate_root()
    r.timestamp_version = 1
    r.publish(roles=[])
    p = c.refresh("--json")
    assert json.loads(p.stdout)["versions"]["root"] == 3
    assert json.loads(p.stdout)["versions"]["timestamp"] == 2
