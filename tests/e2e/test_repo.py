"""vouch repo: repository management on the release side.

Each command's happy path and its refusals: keys not authorised for a role,
target names outside a tier, thresholds, staged root rotation completed by
`repo sign`, revocation, expiry warnings and the JSON outputs.
"""
import json
import os
import pathlib
import shutil

import pytest

from conftest import binary, run

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Key pairs made once per session: NAME -> (private PEM, public PEM)."""
    d = tmp_path_factory.mktemp("keys")
    exe = binary("vouch")
    types = {
        "root1": "ed25519", "root2": "ed25519", "root3": "ecdsa", "root4": "ed25519",
        "targets": "ed25519", "targets2": "ed25519", "snapshot": "ed25519",
        "timestamp": "ed25519", "timestamp2": "ecdsa",
        "os": "ed25519", "os2": "ecdsa", "os3": "ed25519", "app": "ed25519",
    }
    out = {}
    for name, t in types.items():
        run([exe, "keygen", "--type", t, "--out", d / f"{name}.pem", "--no-passphrase",
             "--log", d / "keygen.log"], check=0)
        out[name] = (str(d / f"{name}.pem"), str(d / f"{name}.pem.pub"))
    return out


def keyid(pub):
    p = run([binary("vouch"), "key", "id", pub], check=0)
    return p.stdout.strip()


def priv(keys, name):
    return keys[name][0]


def pub(keys, name):
    return keys[name][1]


def load(path):
    return json.loads(pathlib.Path(path).read_text())


def init(vouch, keys, repo, *extra, check=0):
    return vouch("repo", "init", repo,
                 "--root-key", priv(keys, "root1"), "--root-key", priv(keys, "root2"),
                 "--root-key", priv(keys, "root3"), "--root-threshold", "2",
                 "--targets-key", priv(keys, "targets"),
                 "--snapshot-key", priv(keys, "snapshot"),
                 "--timestamp-key", priv(keys, "timestamp"), *extra, check=check)


def publish(vouch, keys, repo, check=0, ts="timestamp"):
    return vouch("repo", "publish", repo, "--snapshot-key", priv(keys, "snapshot"),
                 "--timestamp-key", priv(keys, ts), check=check)


def status(vouch, repo):
    return json.loads(vouch("repo", "status", repo, "--json", check=0).stdout)


def role(st, name):
    return next(r for r in st["roles"] if r["name"] == name)


@pytest.fixture
def repo(vouch, keys, tmp_path):
    """A published repository with tiers os (os key) and app (app key)."""
    r = tmp_path / "repo"
    init(vouch, keys, r)
    vouch("repo", "tier", "add", r, "os", "--tier-key", pub(keys, "os"),
          "--key", priv(keys, "targets"), check=0)
    vouch("repo", "tier", "add", r, "app", "--tier-key", pub(keys, "app"),
          "--key", priv(keys, "targets"), check=0)
    publish(vouch, keys, r)
    return r


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "image.bin"
    p.write_bytes(os.urandom(3000))
    return p


def test_init_publishes_v1_with_threshold(vouch, keys, tmp_path):
    r = tmp_path / "r"
    p = init(vouch, keys, r)
    assert "published" in p.stdout
    md = r / "metadata"
    for f in ("1.root.json", "root.json", "timestamp.json", "1.snapshot.json",
              "1.targets.json"):
        assert (md / f).is_file(), f
    root = load(md / "1.root.json")
    s = root["signed"]
    assert s["_type"] == "root" and s["version"] == 1 and s["consistent_snapshot"] is True
    assert s["spec_version"].startswith("1.")
    assert s["roles"]["root"]["threshold"] == 2
    assert len(s["roles"]["root"]["keyids"]) == 3
    assert {sg["keyid"] for sg in root["signatures"]} == set(s["roles"]["root"]["keyids"])
    ts = load(md / "timestamp.json")["signed"]
    assert ts["meta"]["snapshot.json"]["version"] == 1
    assert set(ts["meta"]["snapshot.json"]["hashes"]) == {"sha256"}
    snap = load(md / "1.snapshot.json")["signed"]
    assert snap["meta"]["targets.json"]["version"] == 1
    # settings carry no secrets
    cfg = (r / "vouch-repo.json").read_text()
    assert "PRIVATE" not in cfg and "BEGIN" not in cfg
    st = status(vouch, r)
    assert st["ok"] is True and st["warnings"] == []
    assert role(st, "root")["threshold"] == 2 and role(st, "root")["signatures"] == 3


def test_init_refuses_nonempty_dir_and_bad_threshold(vouch, keys, tmp_path):
    r = tmp_path / "r"
    r.mkdir()
    (r / "x").write_text("x")
    p = init(vouch, keys, r, check=3)
    assert "not empty" in p.stderr
    p = init(vouch, keys, tmp_path / "r2", "--root-threshold", "4", check=2)
    assert "threshold" in p.stderr
    init(vouch, keys, tmp_path / "r2", "--root-threshold", "0", check=2)
    init(vouch, keys, tmp_path / "r2", "--root-threshold", "-1", check=2)
    assert not (tmp_path / "r2" / "metadata").exists()


def test_init_usage_errors(vouch, keys, tmp_path):
    p = vouch("repo", "init", tmp_path / "r", "--root-key", priv(keys, "root1"), check=2)
    assert "--targets-key" in p.stderr
    p = init(vouch, keys, tmp_path / "r", "--expires", "root=soon", check=2)
    assert "--expires" in p.stderr
    p = init(vouch, keys, tmp_path / "r", "--bogus", check=2)
    assert "unknown option" in p.stderr
    vouch("repo", "frobnicate", tmp_path, check=2)


def test_help_is_complete(vouch):
    p = vouch("repo", "--help", check=0)
    for cmd in ("init", "tier add", "add", "remove", "publish", "timestamp", "rotate",
                "sign", "status"):
        assert f"  {cmd} DIR" in p.stdout, cmd
    for opt in ("--root-key", "--root-threshold", "--targets-key", "--snapshot-key",
                "--timestamp-key", "--expires", "--no-consistent-snapshot", "--tier-key",
                "--threshold", "--paths", "--name", "--version", "--security-version",
                "--hardware", "--custom", "--role", "--add-key", "--remove-key", "--renew",
                "--json", "--passphrase-file", "--pkcs11-module", "--log", "--batch"):
        assert opt in p.stdout, opt
    assert vouch("repo", "add", "--help", check=0).stdout == p.stdout
    assert "Usage" in vouch("--help", check=0).stdout


def test_init_with_public_root_keys_waits_for_repo_sign(vouch, keys, tmp_path):
    """A 2-of-3 root ceremony where the other two holders sign later."""
    r = tmp_path / "r"
    p = vouch("repo", "init", r, "--root-key", priv(keys, "root1"),
              "--root-key", pub(keys, "root2"), "--root-key", pub(keys, "root3"),
              "--root-threshold", "2", "--targets-key", priv(keys, "targets"),
              "--snapshot-key", priv(keys, "snapshot"), "--timestamp-key",
              priv(keys, "timestamp"), check=0)
    assert "1 of 2 signatures" in p.stdout
    assert not (r / "metadata" / "1.root.json").exists()
    st = status(vouch, r)
    assert not st["ok"]
    assert any("threshold not met" in w for w in st["warnings"])
    p = publish(vouch, keys, r, check=1)
    assert "root v1" in p.stderr and "repo sign" in p.stderr
    # a key that is not a root key cannot sign root
    p = vouch("repo", "sign", r, "root", "--key", priv(keys, "targets"), check=1)
    assert "not authorised" in p.stderr and keyid(pub(keys, "root2")) in p.stderr
    vouch("repo", "sign", r, "root", "--key", priv(keys, "root3"), check=0)
    publish(vouch, keys, r)
    root = load(r / "metadata" / "1.root.json")
    assert len(root["signatures"]) == 2
    assert status(vouch, r)["ok"]


def test_tier_add_default_paths_and_targets(vouch, keys, repo, image):
    st = status(vouch, repo)
    os_role = role(st, "os")
    assert os_role["paths"] == ["os/*", "os/*/*", "os/*/*/*", "os/*/*/*/*"]
    assert os_role["terminating"] is True
    targets = load(repo / "staged" / "targets.json")["signed"]
    names = [d["name"] for d in targets["delegations"]["roles"]]
    assert names == ["os", "app"]
    p = vouch("repo", "add", repo, image, "--name", "os/stable/rootfs-1.2.img",
              "--key", priv(keys, "os"), "--version", "1.2", "--security-version", "4",
              "--hardware", "board-a", "--hardware", "board-b", check=0)
    assert "not yet published" in p.stdout
    staged = load(repo / "staged" / "os.json")
    t = staged["signed"]["targets"]["os/stable/rootfs-1.2.img"]
    data = image.read_bytes()
    import hashlib
    h256 = hashlib.sha256(data).hexdigest()
    h512 = hashlib.sha512(data).hexdigest()
    assert t["length"] == len(data)
    assert t["hashes"] == {"sha256": h256, "sha512": h512}
    assert t["custom"]["vouch"] == {"version": "1.2", "security_version": 4,
                                    "hardware": ["board-a", "board-b"], "tier": "os",
                                    "format": "raw"}
    d = repo / "targets" / "os" / "stable"
    assert (d / f"{h256}.rootfs-1.2.img").read_bytes() == data
    assert (d / f"{h512}.rootfs-1.2.img").read_bytes() == data
    # not published until `repo publish`
    st = status(vouch, repo)
    assert any("os v2 is not published" in w for w in st["warnings"])
    publish(vouch, keys, repo)
    snap_v = load(repo / "metadata" / "timestamp.json")["signed"]["meta"]["snapshot.json"]["version"]
    snap = load(repo / "metadata" / f"{snap_v}.snapshot.json")["signed"]
    assert snap["meta"]["os.json"]["version"] == 2
    os_bytes = (repo / "metadata" / "2.os.json").read_bytes()
    assert snap["meta"]["os.json"]["length"] == len(os_bytes)
    assert snap["meta"]["os.json"]["hashes"]["sha256"] == hashlib.sha256(os_bytes).hexdigest()
    assert status(vouch, repo)["ok"]
    # the deepest default level is accepted
    vouch("repo", "add", repo, image, "--name", "os/a/b/c/d.img", "--key", priv(keys, "os"),
          check=0)


def test_custom_fields(vouch, keys, repo, image):
    vouch("repo", "add", repo, image, "--name", "app/web/bundle.tar", "--key",
          priv(keys, "app"), "--custom", '{"format": "archive", "tier": "os", "x": 1}', check=0)
    c = load(repo / "staged" / "app.json")["signed"]["targets"]["app/web/bundle.tar"]["custom"]
    assert c["vouch"]["format"] == "archive"
    assert c["vouch"]["tier"] == "app"  # never taken from --custom
    assert c["vouch"]["x"] == 1
    p = vouch("repo", "add", repo, image, "--name", "app/b.tar", "--key", priv(keys, "app"),
              "--custom", '{"format": "exe"}', check=2)
    assert "format" in p.stderr
    vouch("repo", "add", repo, image, "--name", "app/b.tar", "--key", priv(keys, "app"),
          "--custom", "[1,", check=2)
    # Canonical JSON has no real numbers: refused before anything is added.
    before = (repo / "staged" / "app.json").read_bytes()
    p = vouch("repo", "add", repo, image, "--name", "app/c.tar", "--key", priv(keys, "app"),
              "--custom", '{"ratio": 1.5}', check=2)
    assert "--custom" in p.stderr and "added" not in p.stdout
    assert (repo / "staged" / "app.json").read_bytes() == before
    assert not list((repo / "targets").rglob("*c.tar"))


def test_add_refuses_name_not_covered_by_patterns(vouch, keys, repo, image):
    before = (repo / "staged" / "os.json").read_bytes()
    p = vouch("repo", "add", repo, image, "--name", "os/a/b/c/d/e.img", "--key",
              priv(keys, "os"), check=1)
    assert "not covered by the path patterns of tier os" in p.stderr
    assert (repo / "staged" / "os.json").read_bytes() == before
    assert not list((repo / "targets").rglob("*e.img"))
    # custom patterns: only what they cover
    vouch("repo", "tier", "add", repo, "config", "--tier-key", pub(keys, "os3"),
          "--paths", "config/*.json", "--key", priv(keys, "targets"), check=0)
    vouch("repo", "add", repo, image, "--name", "config/net.json", "--key", priv(keys, "os3"),
          check=0)
    vouch("repo", "add", repo, image, "--name", "config/net.yaml", "--key", priv(keys, "os3"),
          check=1)
    # unsafe names are usage errors
    for bad in ("os/../app/x", "/os/x", "os//x", "os/a b", "os/x\\y", "os"):
        vouch("repo", "add", repo, image, "--name", bad, "--key", priv(keys, "os"), check=2)
    p = vouch("repo", "add", repo, image, "--name", "driver/x.ko", "--key", priv(keys, "os"),
              check=3)
    assert "no tier named 'driver'" in p.stderr


def test_tier_key_cannot_sign_another_tier(vouch, keys, repo, image):
    """The key that signs app/* cannot sign os/* (DESIGN.md §2)."""
    before = (repo / "staged" / "os.json").read_bytes()
    p = vouch("repo", "add", repo, image, "--name", "os/evil.img", "--key", priv(keys, "app"),
              check=1)
    assert "not authorised for tier os" in p.stderr
    assert keyid(pub(keys, "os")) in p.stderr
    assert (repo / "staged" / "os.json").read_bytes() == before
    vouch("repo", "remove", repo, "os/evil.img", "--key", priv(keys, "app"), check=1)
    # a tier cannot claim paths of another tier
    p = vouch("repo", "tier", "add", repo, "driver", "--tier-key", pub(keys, "os3"),
              "--paths", "os/*", "--key", priv(keys, "targets"), check=1)
    assert "outside tier driver" in p.stderr
    vouch("repo", "tier", "add", repo, "driver", "--tier-key", pub(keys, "os3"),
          "--paths", "*", "--key", priv(keys, "targets"), check=1)
    for bad in ("root", "Targets", "-x", "a/b"):
        vouch("repo", "tier", "add", repo, bad, "--tier-key", pub(keys, "os3"),
              "--key", priv(keys, "targets"), check=2)
    vouch("repo", "tier", "add", repo, "os", "--tier-key", pub(keys, "os3"),
          "--key", priv(keys, "targets"), check=3)


def test_publish_refuses_hand_edited_target_outside_tier(vouch, keys, repo, image):
    """Even a hand-crafted staged file with a target outside its tier is not
    published (the client refuses it too; see test_tuf_interop)."""
    vouch("repo", "add", repo, image, "--name", "app/a.bin", "--key", priv(keys, "app"),
          check=0)
    p = repo / "staged" / "app.json"
    doc = load(p)
    doc["signed"]["targets"]["os/evil.bin"] = doc["signed"]["targets"]["app/a.bin"]
    p.write_text(json.dumps(doc))
    # The tier key does not even sign it (review: signing used to succeed
    # and only publish refused).
    s = vouch("repo", "sign", repo, "app", "--key", priv(keys, "app"), check=1)
    assert "os/evil.bin" in s.stderr and "refusing to sign" in s.stderr
    s = vouch("repo", "sign", repo, "app", "--renew", "--key", priv(keys, "app"), check=1)
    assert "os/evil.bin" in s.stderr
    out = publish(vouch, keys, repo, check=1)
    assert "os/evil.bin" in out.stderr


def test_wrong_keys_for_roles_refused(vouch, keys, repo, image):
    p = vouch("repo", "tier", "add", repo, "driver", "--tier-key", pub(keys, "os3"),
              "--key", priv(keys, "snapshot"), check=1)
    assert "not authorised for role targets" in p.stderr
    assert keyid(pub(keys, "targets")) in p.stderr
    assert "driver" not in (repo / "staged" / "targets.json").read_text()
    p = vouch("repo", "publish", repo, "--snapshot-key", priv(keys, "timestamp"),
              "--timestamp-key", priv(keys, "timestamp"), check=1)
    assert "role snapshot" in p.stderr
    p = vouch("repo", "timestamp", repo, "--timestamp-key", priv(keys, "snapshot"), check=1)
    assert "role timestamp" in p.stderr
    vouch("repo", "sign", repo, "targets", "--key", priv(keys, "os"), check=1)
    # a public key cannot sign
    p = vouch("repo", "add", repo, image, "--name", "os/x", "--key", pub(keys, "os"), check=1)
    assert "private key" in p.stderr


def test_remove(vouch, keys, repo, image):
    vouch("repo", "add", repo, image, "--name", "os/x.img", "--key", priv(keys, "os"),
          check=0)
    v = load(repo / "staged" / "os.json")["signed"]["version"]
    vouch("repo", "remove", repo, "os/x.img", "--key", priv(keys, "os"), check=0)
    doc = load(repo / "staged" / "os.json")["signed"]
    assert doc["version"] == v + 1 and "os/x.img" not in doc["targets"]
    vouch("repo", "remove", repo, "os/x.img", "--key", priv(keys, "os"), check=3)
    publish(vouch, keys, repo)


def test_timestamp_refresh(vouch, keys, repo):
    ts1 = load(repo / "metadata" / "timestamp.json")["signed"]
    p = vouch("repo", "timestamp", repo, "--timestamp-key", priv(keys, "timestamp"), check=0)
    assert "timestamp v" in p.stdout
    ts2 = load(repo / "metadata" / "timestamp.json")["signed"]
    assert ts2["version"] == ts1["version"] + 1
    assert ts2["meta"] == ts1["meta"]


def test_sign_renew_extends_expiry(vouch, keys, repo):
    p = vouch("repo", "sign", repo, "targets", "--key", priv(keys, "targets"), check=2)
    assert "--renew" in p.stderr
    v = load(repo / "staged" / "targets.json")["signed"]["version"]
    vouch("repo", "sign", repo, "targets", "--renew", "--key", priv(keys, "targets"), check=0)
    assert load(repo / "staged" / "targets.json")["signed"]["version"] == v + 1
    publish(vouch, keys, repo)
    vouch("repo", "sign", repo, "root", "--renew", "--key", priv(keys, "root1"), check=0)
    st = status(vouch, repo)
    assert any("root v2: 1 of 2" in w for w in st["warnings"])
    vouch("repo", "sign", repo, "root", "--key", priv(keys, "root2"), check=0)
    publish(vouch, keys, repo)
    assert (repo / "metadata" / "2.root.json").exists()
    vouch("repo", "sign", repo, "snapshot", "--key", priv(keys, "snapshot"), check=2)


def test_root_rotation_2of3_completed_by_repo_sign(vouch, keys, repo):
    r1 = keyid(pub(keys, "root1"))
    p = vouch("repo", "rotate", repo, "--role", "root", "--add-key", pub(keys, "root4"),
              "--remove-key", r1, "--key", priv(keys, "root1"), check=0)
    assert "waits for signatures" in p.stdout
    assert (repo / "staged" / "2.root.json").exists()
    assert not (repo / "metadata" / "2.root.json").exists()
    st = status(vouch, repo)
    assert role(st, "root")["version"] == 2 and role(st, "root")["published_version"] == 1
    assert any("not published" in w for w in st["warnings"])
    p = publish(vouch, keys, repo, check=1)
    assert "root v2" in p.stderr
    # a second root change must wait for the first
    vouch("repo", "rotate", repo, "--role", "targets", "--threshold", "1", "--key",
          priv(keys, "root2"), check=1)
    vouch("repo", "sign", repo, "root", "--key", priv(keys, "root2"), check=0)
    # old threshold met (root1 + root2); the new one needs two of root2, root3, root4
    p = vouch("repo", "sign", repo, "root", "--key", priv(keys, "root4"), check=0)
    assert "signed by the old and the new root keys" in p.stdout
    publish(vouch, keys, repo)
    new = load(repo / "metadata" / "2.root.json")
    assert new["signed"]["version"] == 2
    assert r1 not in new["signed"]["roles"]["root"]["keyids"]
    assert r1 not in new["signed"]["keys"]  # revoked key gone entirely
    assert {s["keyid"] for s in new["signatures"]} == {
        r1, keyid(pub(keys, "root2")), keyid(pub(keys, "root4"))}
    assert load(repo / "metadata" / "root.json") == new
    assert not (repo / "staged" / "2.root.json").exists()
    # the revoked root key can no longer sign root
    p = vouch("repo", "sign", repo, "root", "--renew", "--key", priv(keys, "root1"), check=1)
    assert "not authorised" in p.stderr


def test_rotate_online_key_needs_publish_with_new_key(vouch, keys, repo):
    old = keyid(pub(keys, "timestamp"))
    p = vouch("repo", "rotate", repo, "--role", "timestamp", "--add-key",
              pub(keys, "timestamp2"), "--remove-key", old[:12],
              "--key", priv(keys, "root1"), "--key", priv(keys, "root2"), check=0)
    assert "new timestamp key" in p.stdout
    # the old timestamp key is no longer accepted
    p = publish(vouch, keys, repo, check=1)
    assert "role timestamp" in p.stderr
    publish(vouch, keys, repo, ts="timestamp2")
    root = load(repo / "metadata" / "2.root.json")["signed"]
    assert root["roles"]["timestamp"]["keyids"] == [keyid(pub(keys, "timestamp2"))]
    vouch("repo", "timestamp", repo, "--timestamp-key", priv(keys, "timestamp"), check=1)
    vouch("repo", "timestamp", repo, "--timestamp-key", priv(keys, "timestamp2"), check=0)


def test_rotate_targets_key_resigns_targets(vouch, keys, repo):
    old = keyid(pub(keys, "targets"))
    p = vouch("repo", "rotate", repo, "--role", "targets", "--add-key", pub(keys, "targets2"),
              "--remove-key", old, "--key", priv(keys, "root1"), "--key", priv(keys, "root2"),
              "--key", priv(keys, "targets2"), check=0)
    assert "targets: its signatures no longer meet the threshold" in p.stdout
    t = load(repo / "staged" / "targets.json")
    assert [s["keyid"] for s in t["signatures"]] == [keyid(pub(keys, "targets2"))]
    publish(vouch, keys, repo)
    assert status(vouch, repo)["ok"]
    vouch("repo", "tier", "add", repo, "driver", "--tier-key", pub(keys, "os3"),
          "--key", priv(keys, "targets"), check=1)


def test_rotate_refuses_unrelated_signer_and_bad_changes(vouch, keys, repo):
    p = vouch("repo", "rotate", repo, "--role", "root", "--add-key", pub(keys, "root4"),
              "--key", priv(keys, "os"), check=1)
    assert "not authorised" in p.stderr
    assert not (repo / "staged" / "2.root.json").exists()
    vouch("repo", "rotate", repo, "--role", "root", "--key", priv(keys, "root1"), check=2)
    vouch("repo", "rotate", repo, "--role", "root", "--threshold", "4",
          "--key", priv(keys, "root1"), check=2)
    vouch("repo", "rotate", repo, "--role", "root", "--remove-key", "deadbeefdeadbeef",
          "--key", priv(keys, "root1"), check=3)
    vouch("repo", "rotate", repo, "--role", "os", "--add-key", pub(keys, "os"),
          "--key", priv(keys, "targets"), check=3)
    vouch("repo", "rotate", repo, "--role", "nosuch", "--add-key", pub(keys, "os"),
          "--key", priv(keys, "targets"), check=3)


def test_revoked_tier_key_no_longer_accepted(vouch, keys, repo, image):
    vouch("repo", "add", repo, image, "--name", "os/a.img", "--key", priv(keys, "os"), check=0)
    publish(vouch, keys, repo)
    old = keyid(pub(keys, "os"))
    p = vouch("repo", "rotate", repo, "--role", "os", "--add-key", pub(keys, "os2"),
              "--remove-key", old, "--key", priv(keys, "targets"), "--key", priv(keys, "os2"),
              check=0)
    assert "os: its signatures no longer meet the threshold" in p.stdout
    osj = load(repo / "staged" / "os.json")
    assert [s["keyid"] for s in osj["signatures"]] == [keyid(pub(keys, "os2"))]
    assert "os/a.img" in osj["signed"]["targets"]
    targets = load(repo / "staged" / "targets.json")["signed"]
    assert old not in targets["delegations"]["keys"]
    p = vouch("repo", "add", repo, image, "--name", "os/b.img", "--key", priv(keys, "os"),
              check=1)
    assert "not authorised for tier os" in p.stderr
    vouch("repo", "add", repo, image, "--name", "os/b.img", "--key", priv(keys, "os2"), check=0)
    publish(vouch, keys, repo)
    assert status(vouch, repo)["ok"]


def test_revocation_without_new_signer_blocks_publish_until_signed(vouch, keys, repo, image):
    vouch("repo", "add", repo, image, "--name", "os/a.img", "--key", priv(keys, "os"), check=0)
    publish(vouch, keys, repo)
    p = vouch("repo", "rotate", repo, "--role", "os", "--add-key", pub(keys, "os2"),
              "--remove-key", keyid(pub(keys, "os")), "--key", priv(keys, "targets"), check=0)
    assert f"vouch repo sign {repo} os --key KEY" in p.stdout
    p = publish(vouch, keys, repo, check=1)
    assert "os v" in p.stderr and "0 of 1" in p.stderr
    st = status(vouch, repo)
    assert any("os v" in w and "threshold not met" in w for w in st["warnings"])
    vouch("repo", "sign", repo, "os", "--key", priv(keys, "os"), check=1)
    vouch("repo", "sign", repo, "os", "--key", priv(keys, "os2"), check=0)
    publish(vouch, keys, repo)


def test_tier_threshold_two_keys(vouch, keys, repo, image):
    vouch("repo", "tier", "add", repo, "bootloader", "--tier-key", pub(keys, "os2"),
          "--tier-key", pub(keys, "os3"), "--threshold", "2", "--key", priv(keys, "targets"),
          check=0)
    p = vouch("repo", "add", repo, image, "--name", "bootloader/u-boot.bin",
              "--key", priv(keys, "os2"), check=0)
    assert "1 of 2 signatures" in p.stdout
    publish(vouch, keys, repo, check=1)
    vouch("repo", "sign", repo, "bootloader", "--key", priv(keys, "os3"), check=0)
    publish(vouch, keys, repo)
    vouch("repo", "tier", "add", repo, "driver", "--tier-key", pub(keys, "os2"),
          "--threshold", "2", "--key", priv(keys, "targets"), check=2)


def test_status_warns_before_expiry(vouch, keys, tmp_path):
    r = tmp_path / "r"
    init(vouch, keys, r, "--expires", "timestamp=10h,snapshot=1d")
    assert status(vouch, r)["ok"]
    env = {"LD_PRELOAD": FAKETIME, "FAKETIME": "+9h", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "ASAN_OPTIONS": "verify_asan_link_order=0"}
    st = json.loads(vouch("repo", "status", r, "--json", env=env, check=0).stdout)
    assert any(w.startswith("timestamp v1 expires") and "20%" in w for w in st["warnings"])
    assert not any(w.startswith("snapshot") for w in st["warnings"])
    env["FAKETIME"] = "+11h"
    st = json.loads(vouch("repo", "status", r, "--json", env=env, check=0).stdout)
    assert any(w.startswith("timestamp v1 EXPIRED") for w in st["warnings"])
    text = vouch("repo", "status", r, env=env, check=0).stdout
    assert "warning: timestamp v1 EXPIRED" in text
    # the server's refresh clears it
    vouch("repo", "timestamp", r, "--timestamp-key", priv(keys, "timestamp"), env=env, check=0)
    st = json.loads(vouch("repo", "status", r, "--json", env=env, check=0).stdout)
    assert st["ok"], st["warnings"]
    cfg = load(r / "vouch-repo.json")
    assert cfg["expires"]["timestamp"] == 36000 and cfg["expires"]["root"] == 365 * 86400


def test_no_consistent_snapshot_layout(vouch, keys, tmp_path, image):
    r = tmp_path / "r"
    init(vouch, keys, r, "--no-consistent-snapshot")
    vouch("repo", "tier", "add", r, "os", "--tier-key", pub(keys, "os"),
          "--key", priv(keys, "targets"), check=0)
    vouch("repo", "add", r, image, "--name", "os/x/y.img", "--key", priv(keys, "os"), check=0)
    publish(vouch, keys, r)
    names = sorted(p.name for p in (r / "metadata").iterdir())
    assert names == ["1.root.json", "os.json", "root.json", "snapshot.json", "targets.json",
                     "timestamp.json"]
    assert (r / "targets" / "os" / "x" / "y.img").read_bytes() == image.read_bytes()
    assert load(r / "metadata" / "1.root.json")["signed"]["consistent_snapshot"] is False


def test_key_usage_log_records_metadata_signing(vouch, keys, repo, image):
    vouch("repo", "add", repo, image, "--name", "os/x.img", "--key", priv(keys, "os"),
          check=0)
    entries = [json.loads(line) for line in vouch.log.read_text().splitlines() if line]
    signs = [e for e in entries if e.get("operation") == "sign-metadata"]
    subjects = {json.dumps(e) for e in signs}
    assert any("1.root.json" in s for s in subjects)
    assert any("1.timestamp.json" in s for s in subjects)
    assert all(e["result"] == "ok" for e in signs)
    assert all(len(e["subject"]["sha256"]) == 64 for e in signs)
    assert any(e["subject"]["name"] == "2.os.json" and e["key_id"] == keyid(pub(keys, "os"))
               for e in signs)
    # --log puts entries where asked
    log = repo.parent / "other.log"
    vouch("repo", "add", repo, image, "--name", "os/y.img", "--key", priv(keys, "os"),
          "--log", log, check=0)
    assert "sign-metadata" in log.read_text() and "os.json" in log.read_text()
    vouch("log", "verify", "--log", log, check=0)


def test_passphrase_protected_keys(vouch, keys, repo, image, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    k = tmp_path / "enc.pem"
    vouch("keygen", "--out", k, "--passphrase-file", pw, check=0)
    vouch("repo", "tier", "add", repo, "driver", "--tier-key", f"{k}.pub",
          "--key", priv(keys, "targets"), check=0)
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    vouch("repo", "add", repo, image, "--name", "driver/x.ko", "--key", k,
          "--passphrase-file", bad, check=1)
    vouch("repo", "add", repo, image, "--passphrase-file", pw, "--name", "driver/x.ko",
          "--key", k, check=0)
    publish(vouch, keys, repo)


def test_options_in_any_order(vouch, keys, tmp_path, image):
    r = tmp_path / "r"
    vouch("repo", "init", "--timestamp-key", priv(keys, "timestamp"), "--root-key",
          priv(keys, "root1"), "--snapshot-key", priv(keys, "snapshot"), r,
          "--targets-key=" + priv(keys, "targets"), check=0)
    vouch("repo", "tier", "add", "--key", priv(keys, "targets"), r, "--tier-key",
          pub(keys, "os"), "os", "--paths", "os/*", "os/*/*", check=0)
    assert role(status(vouch, r), "os")["paths"] == ["os/*", "os/*/*"]
    vouch("repo", "add", "--name", "os/a/b.img", r, "--key", priv(keys, "os"), image,
          "--hardware", "h1", "h2", check=0)
    t = load(r / "staged" / "os.json")["signed"]["targets"]["os/a/b.img"]
    assert t["custom"]["vouch"]["hardware"] == ["h1", "h2"]
    vouch("repo", "status", "--json", r, check=0)


SOFTHSM = os.environ.get("VOUCH_TEST_SOFTHSM", "/usr/lib/softhsm/libsofthsm2.so")


@pytest.mark.skipif(not os.path.exists(SOFTHSM) or not shutil.which("softhsm2-util"),
                    reason="SoftHSM2 not installed")
def test_root_and_targets_keys_in_hsm(vouch, keys, tmp_path, image):
    """Root and targets keys that never leave a PKCS#11 token (SoftHSM2)."""
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf), "VOUCH_PKCS11_MODULE": SOFTHSM}
    run(["softhsm2-util", "--init-token", "--free", "--label", "release", "--so-pin", "1234",
         "--pin", "pin-q4321"], check=0, env=env)
    pin = tmp_path / "pin"
    pin.write_text("pin-q4321")

    def uri(obj):
        return f"pkcs11:token=release;object={obj}?pin-source={pin}"

    for obj, t in (("root", "ecdsa"), ("targets", "ed25519")):
        vouch("keygen", "--type", t, "--pkcs11", uri(obj), "--out", tmp_path / obj, env=env,
              check=0)
    r = tmp_path / "r"
    vouch("repo", "init", r, "--root-key", uri("root"), "--targets-key", uri("targets"),
          "--snapshot-key", priv(keys, "snapshot"), "--timestamp-key", priv(keys, "timestamp"),
          env=env, check=0)
    root = load(r / "metadata" / "1.root.json")["signed"]
    assert root["roles"]["root"]["keyids"] == [keyid(tmp_path / "root.pub")]
    vouch("repo", "tier", "add", r, "os", "--tier-key", pub(keys, "os"),
          "--key", uri("targets"), "--pkcs11-module", SOFTHSM, env=env, check=0)
    vouch("repo", "add", r, image, "--name", "os/a.img", "--key", priv(keys, "os"), check=0)
    publish(vouch, keys, r)
    assert status(vouch, r)["ok"]
    # the usage log names the token key, never its PIN
    log = vouch.log.read_text()
    assert "pkcs11:" in log and "pin-q4321" not in log
    vouch("repo", "tier", "add", r, "app", "--tier-key", pub(keys, "app"),
          "--key", uri("root"), env=env, check=1)


def test_batch_add(vouch, keys, repo, tmp_path):
    files = {}
    lines = ["# release 7", ""]
    for i in range(30):
        f = tmp_path / f"file {i}.bin"  # FILE may contain spaces, NAME may not
        f.write_bytes(f"content {i}\n".encode())
        name = f"os/r7/part-{i}.bin"
        files[name] = f
        lines.append(f"{f}\t{name}")
    lst = tmp_path / "list"
    lst.write_text("\n".join(lines) + "\n")
    v = load(repo / "staged" / "os.json")["signed"]["version"]
    p = vouch("repo", "add", repo, "--batch", lst, "--key", priv(keys, "os"), "--version", "7",
              check=0)
    assert "added 30 targets" in p.stdout
    doc = load(repo / "staged" / "os.json")
    assert doc["signed"]["version"] == v + 1
    assert len(doc["signatures"]) == 1
    assert set(doc["signed"]["targets"]) == set(files)
    assert all(t["custom"]["vouch"]["version"] == "7" for t in doc["signed"]["targets"].values())
    publish(vouch, keys, repo)
    # one bad line refuses the whole batch before anything changes
    lst.write_text(f"{files['os/r7/part-0.bin']} os/r8/a.bin\n"
                   f"{files['os/r7/part-1.bin']} app/b.bin\n")
    before = (repo / "staged" / "os.json").read_bytes()
    p = vouch("repo", "add", repo, "--batch", lst, "--key", priv(keys, "os"), check=1)
    assert "not authorised for tier app" in p.stderr
    assert (repo / "staged" / "os.json").read_bytes() == before
    assert not (repo / "targets" / "os" / "r8").exists()
    lst.write_text("just-one-field\n")
    vouch("repo", "add", repo, "--batch", lst, "--key", priv(keys, "os"), check=2)
    vouch("repo", "add", repo, "x", "--batch", lst, "--key", priv(keys, "os"),
          check=2)


def test_power_cut_during_publish_never_breaks_clients(vouch, keys, repo, image, tmp_path,
                                                       http_server):
    """A cut at every write, fsync, rename and unlink of `repo publish`:
    clients still refresh (old or new state, nothing in between, thanks to
    consistent snapshots and the timestamp written last), and running
    publish again completes the release."""
    vouch("repo", "add", repo, image, "--name", "os/a.img", "--key", priv(keys, "os"), check=0)
    publish(vouch, keys, repo)
    trusted = tmp_path / "trusted"
    vouch("client", "init", "--metadata-dir", trusted, repo / "metadata" / "1.root.json",
          check=0)
    base = http_server(repo)
    client = ["client", "download", "--metadata-dir", None, "--metadata-url",
              f"{base}/metadata", "--target-base-url", f"{base}/targets", "--target-dir", None]

    def download(mdir, tdir, *names, check=0):
        args = list(client)
        args[3], args[-1] = mdir, tdir
        return vouch(*args, *names, check=check)

    download(trusted, tmp_path / "dl0", "os/a.img")
    new = tmp_path / "new.img"
    new.write_bytes(b"release 2\n")
    vouch("repo", "add", repo, new, "--name", "os/b.img", "--key", priv(keys, "os"), check=0)
    pristine = tmp_path / "pristine"
    shutil.copytree(repo, pristine)
    count = tmp_path / "count"
    publish_args = ["repo", "publish", repo, "--snapshot-key", priv(keys, "snapshot"),
                    "--timestamp-key", priv(keys, "timestamp")]
    vouch(*publish_args, env={"VOUCH_FAULT_COUNT_FILE": str(count)}, check=0)
    points = int(count.read_text().split()[0])
    if points == 0:
        pytest.skip("built without -Dfault_injection=true")
    assert points >= 8
    for k in range(1, points + 1):
        shutil.rmtree(repo)
        shutil.copytree(pristine, repo)
        vouch(*publish_args, env={"VOUCH_FAULT_CUT_AT": str(k)}, check=99)
        mdir = tmp_path / f"m{k}"
        shutil.copytree(trusted, mdir)
        download(mdir, tmp_path / f"d{k}", "os/a.img")  # old or new state, never broken
        vouch(*publish_args, check=0)
        download(mdir, tmp_path / f"d{k}", "os/b.img")
        assert (tmp_path / f"d{k}" / "os" / "b.img").read_bytes() == new.read_bytes()


# ---- review: attacks on the staged files and hostile arguments ----


def _widen_os(repo, terminating=True):
    p = repo / "staged" / "targets.json"
    doc = load(p)
    for d in doc["signed"]["delegations"]["roles"]:
        if d["name"] == "os":
            d["paths"].append("app/*")
            d["terminating"] = terminating
    p.write_text(json.dumps(doc))


def test_targets_key_never_signs_a_widened_tier(vouch, keys, repo):
    """A hand-edited staged targets.json giving tier os a pattern outside
    os/ (or making it non-terminating) is neither signed nor published: the
    os key would otherwise reach app/*."""
    vouch("repo", "tier", "add", repo, "driver", "--tier-key", pub(keys, "os3"),
          "--key", priv(keys, "targets"), check=0)
    _widen_os(repo)
    p = vouch("repo", "sign", repo, "targets", "--key", priv(keys, "targets"), check=1)
    assert "refusing to sign" in p.stderr and "app/*" in p.stderr and "outside tier os" in p.stderr
    out = publish(vouch, keys, repo, check=1)
    assert "app/*" in out.stderr
    for f in (repo / "metadata").glob("*targets.json"):
        for d in load(f)["signed"]["delegations"]["roles"]:
            assert d["terminating"] is True
            assert all(x.startswith(d["name"] + "/") for x in d["paths"])
    # the same with only `terminating` switched off
    p = repo / "staged" / "targets.json"
    doc = load(p)
    for d in doc["signed"]["delegations"]["roles"]:
        if d["name"] == "os":
            d["paths"] = [x for x in d["paths"] if x != "app/*"]
            d["terminating"] = False
    p.write_text(json.dumps(doc))
    p = vouch("repo", "sign", repo, "targets", "--key", priv(keys, "targets"), check=1)
    assert "not a terminating delegation" in p.stderr
    publish(vouch, keys, repo, check=1)


def test_edited_published_staged_file_is_refused(vouch, keys, repo, image):
    """staged/ROLE.json at the published version must equal the published
    file; otherwise `sign --renew` (or any change) would sign the edit."""
    tp = repo / "staged" / "targets.json"
    saved = tp.read_text()
    _widen_os(repo)
    p = vouch("repo", "sign", repo, "targets", "--renew", "--key", priv(keys, "targets"),
              check=1)
    assert "changed outside vouch" in p.stderr
    vouch("repo", "add", repo, image, "--name", "os/a.bin", "--key", priv(keys, "os"), check=1)
    st = status(vouch, repo)
    assert any("changed outside vouch" in w for w in st["warnings"])
    # the online timestamp refresh signs nothing staged: it goes on
    vouch("repo", "timestamp", repo, "--timestamp-key", priv(keys, "timestamp"), check=0)
    # a root key holder is protected the same way
    rp = repo / "staged" / "root.json"
    good = rp.read_text()
    tp.write_text(saved)
    doc = load(rp)
    doc["signed"]["roles"]["timestamp"]["keyids"].append(keyid(pub(keys, "timestamp2")))
    doc["signed"]["keys"][keyid(pub(keys, "timestamp2"))] = load(
        repo / "metadata" / "1.root.json")["signed"]["keys"][keyid(pub(keys, "timestamp"))]
    rp.write_text(json.dumps(doc))
    p = vouch("repo", "sign", repo, "root", "--renew", "--key", priv(keys, "root1"), check=1)
    assert "staged/root.json differs" in p.stderr
    rp.write_text(good)
    vouch("repo", "sign", repo, "root", "--renew", "--key", priv(keys, "root1"),
          "--key", priv(keys, "root2"), check=0)


def test_long_target_names_are_usage_errors(vouch, keys, repo, image):
    """Names that the file system cannot store are refused up front (exit
    2), leaving no file behind, instead of failing half-way (exit 3)."""
    before = sorted(p.name for p in (repo / "targets").rglob("*"))
    p = vouch("repo", "add", repo, image, "--name", "os/" + "a" * 300, "--key",
              priv(keys, "os"), check=2)
    assert "more than 255 bytes" in p.stderr
    p = vouch("repo", "add", repo, image, "--name", "os/" + "b" * 200, "--key",
              priv(keys, "os"), check=2)
    assert "at most 126 bytes" in p.stderr
    assert sorted(p.name for p in (repo / "targets").rglob("*")) == before
    vouch("repo", "add", repo, image, "--name", "os/" + "c" * 126, "--key", priv(keys, "os"),
          check=0)
    publish(vouch, keys, repo)
    assert len(list((repo / "targets" / "os").glob("*." + "c" * 126))) == 2


@pytest.mark.parametrize("custom,msg", [
    ('{"hardware": "evil"}', "hardware must be a list of strings"),
    ('{"hardware": ["a", 1]}', "hardware must be a list of strings"),
    ('{"version": 5}', "version must be a non-empty string"),
    ('{"encryption": "none"}', "encryption must be an object"),
    ('{"delta_base": "../../etc"}', "delta_base must be a sha256"),
])
def test_custom_fields_devices_would_misread_are_refused(vouch, keys, repo, image, custom, msg):
    p = vouch("repo", "add", repo, image, "--name", "os/x.bin", "--key", priv(keys, "os"),
              "--custom", custom, check=2)
    assert msg in p.stderr
    assert "os/x.bin" not in (repo / "staged" / "os.json").read_text()


def test_init_with_public_targets_key_succeeds_and_waits(vouch, keys, tmp_path):
    """Review: init with the targets key given as a public key (offline
    targets key, signed later) created the repository but exited 1 with
    'thresholds not met'; it now exits 0 and says what to run."""
    r = tmp_path / "r"
    p = vouch("repo", "init", r, "--root-key", priv(keys, "root1"),
              "--targets-key", pub(keys, "targets"), "--snapshot-key", priv(keys, "snapshot"),
              "--timestamp-key", priv(keys, "timestamp"), check=0)
    assert "targets v1 is not signed yet" in p.stdout
    assert not (r / "metadata" / "timestamp.json").exists()
    vouch("repo", "sign", r, "targets", "--key", priv(keys, "targets"), check=0)
    publish(vouch, keys, r)
    assert load(r / "metadata" / "1.targets.json")["signatures"]


def _parallel(cmds, env):
    import subprocess
    procs = [subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for cmd in cmds]
    return [(p.wait(timeout=120), p.stderr.read()) for p in procs]


def test_concurrent_runs_do_not_lose_or_mix_changes(keys, tmp_path):
    """Review: concurrent inits of one directory (different root keys)
    used to all 'succeed' into one mixed repository; now exactly one does.
    Concurrent adds to one tier are serialised and none is lost."""
    exe = binary("vouch")
    env = dict(os.environ, VOUCH_KEY_LOG=str(tmp_path / "key.log"))
    r = tmp_path / "repo"
    cmds = [[exe, "repo", "init", r, "--root-key", priv(keys, rk),
             "--targets-key", priv(keys, "targets"), "--snapshot-key", priv(keys, "snapshot"),
             "--timestamp-key", priv(keys, "timestamp")]
            for rk in ("root1", "root2", "root3", "root4") * 2]
    res = _parallel(cmds, env)
    assert [rc for rc, _ in res].count(0) == 1, res
    assert all(rc == 3 for rc, _ in res if rc != 0), res
    st = json.loads(run([exe, "repo", "status", r, "--json"], check=0).stdout)
    assert st["ok"], st["warnings"]
    root = load(r / "metadata" / "1.root.json")
    assert len(root["signed"]["roles"]["root"]["keyids"]) == 1
    run([exe, "repo", "tier", "add", r, "os", "--tier-key", pub(keys, "os"),
         "--key", priv(keys, "targets")], check=0, env=env)
    files = []
    for i in range(6):
        f = tmp_path / f"f{i}"
        f.write_bytes(os.urandom(100))
        files.append(f)
    res = _parallel([[exe, "repo", "add", r, f, "--name", f"os/{f.name}", "--key",
                      priv(keys, "os")] for f in files], env)
    assert all(rc == 0 for rc, _ in res), res
    os_meta = load(r / "staged" / "os.json")["signed"]
    assert sorted(os_meta["targets"]) == sorted(f"os/{f.name}" for f in files)
    assert os_meta["version"] == 7
