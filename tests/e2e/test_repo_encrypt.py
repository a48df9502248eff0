"""vouch repo add --encrypt-to: the signed target is the ciphertext and
custom.vouch.encryption records what the device checks after decrypting."""
import hashlib
import json
import os

from conftest import binary, run
from test_repo import init, keys, priv, pub, publish  # noqa: F401 (fixture)


def _repo(vouch, keys, tmp_path):
    r = tmp_path / "repo"
    init(vouch, keys, r)
    vouch("repo", "tier", "add", r, "os", "--tier-key", pub(keys, "os"),
          "--key", priv(keys, "targets"), check=0)
    publish(vouch, keys, r)
    return r


def _recipient(tmp_path, name, kind):
    out = tmp_path / f"{name}.key"
    run([binary("vouch"), "keygen", "--type", kind, "--no-passphrase", "--out", out], check=0)
    return out


def _target(repo, name):
    return json.loads((repo / "staged" / "os.json").read_text())["signed"]["targets"][name]


def test_encrypt_to_stores_ciphertext_and_records_plaintext(vouch, keys, tmp_path):
    repo = _repo(vouch, keys, tmp_path)
    grp = _recipient(tmp_path, "group", "x25519")
    other = _recipient(tmp_path, "other", "p256")
    outsider = _recipient(tmp_path, "outsider", "x25519")
    plain = os.urandom(200_000)
    (tmp_path / "fw.img").write_bytes(plain)
    vouch("repo", "add", repo, tmp_path / "fw.img", "--name", "os/stable/fw.img",
          "--key", priv(keys, "os"), "--version", "1.0.0", "--encrypt-to", f"{grp}.pub",
          "--encrypt-to", f"{other}.pub", check=0)
    t = _target(repo, "os/stable/fw.img")
    enc = t["custom"]["vouch"]["encryption"]
    assert enc == {"suite": "vouch-enc-v1/aes-256-gcm", "plaintext_length": len(plain),
                   "plaintext_sha256": hashlib.sha256(plain).hexdigest()}
    assert t["custom"]["vouch"]["version"] == "1.0.0"
    # The stored, signed target is the ciphertext, not the plaintext.
    stored = repo / "targets" / "os" / "stable" / (t["hashes"]["sha256"] + ".fw.img")
    ct = stored.read_bytes()
    assert len(ct) == t["length"] and hashlib.sha256(ct).hexdigest() == t["hashes"]["sha256"]
    assert plain[:4096] not in ct
    # Each recipient decrypts it; an outsider cannot.
    for k in (grp, other):
        out = tmp_path / f"plain-{k.name}"
        vouch("decrypt", "--key", k, "-o", out, stored, check=0)
        assert out.read_bytes() == plain
    p = vouch("decrypt", "--key", outsider, "-o", tmp_path / "nope", stored, check=1)
    assert "not a recipient" in p.stderr
    assert not (tmp_path / "nope").exists()
    # No temporary ciphertext is left in the repository.
    assert not [f for f in os.listdir(repo) if f.startswith(".encrypt")]


def test_encrypt_to_chacha_and_refusals(vouch, keys, tmp_path):
    repo = _repo(vouch, keys, tmp_path)
    grp = _recipient(tmp_path, "group", "x25519")
    (tmp_path / "fw.img").write_bytes(b"x" * 1000)
    vouch("repo", "add", repo, tmp_path / "fw.img", "--name", "os/a.img", "--key",
          priv(keys, "os"), "--encrypt-to", f"{grp}.pub", "--aead", "chacha20poly1305", check=0)
    assert _target(repo, "os/a.img")["custom"]["vouch"]["encryption"]["suite"] == \
        "vouch-enc-v1/chacha20-poly1305"
    # A signing key is not a recipient key.
    p = vouch("repo", "add", repo, tmp_path / "fw.img", "--name", "os/b.img", "--key",
              priv(keys, "os"), "--encrypt-to", pub(keys, "os"))
    assert p.returncode in (1, 2) and "--encrypt-to" in p.stderr
    assert "os/b.img" not in json.loads((repo / "staged" / "os.json").read_text())[
        "signed"]["targets"]
    vouch("repo", "add", repo, tmp_path / "fw.img", "--name", "os/c.img", "--key",
          priv(keys, "os"), "--aead", "chacha20poly1305", check=2)
    vouch("repo", "add", repo, "--batch", tmp_path / "list", "--key", priv(keys, "os"),
          "--encrypt-to", f"{grp}.pub", check=2)
    p = vouch("repo", "add", repo, tmp_path / "fw.img", "--name", "os/d.img", "--key",
              priv(keys, "os"), "--encrypt-to", f"{grp}.pub",
              "--custom", '{"encryption": {"suite": "none"}}', check=2)
    assert "encryption" in p.stderr
