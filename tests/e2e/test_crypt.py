"""End-to-end encryption: `vouch keygen --type x25519|p256`, `vouch encrypt`,
`vouch decrypt`, and interop with a second implementation (hpke-js for HPKE,
tests/interop/hpke_interop.mjs for the vouch-enc-v1 file format written from
docs/formats.md)."""
import json
import os
import secrets
import subprocess

import pytest

from conftest import BUILD, node, run

HPKE_TOOL = BUILD / "tests" / "tools" / "hpke_tool"
CHUNK = 65536


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Recipient keys made by vouch keygen (unencrypted for the interop
    scripts, plus one passphrase-protected P-256 group key)."""
    from conftest import binary
    d = tmp_path_factory.mktemp("keys")
    exe = binary("vouch")
    out = {}
    for name, typ in (("dev", "x25519"), ("grp", "p256"), ("other", "x25519"),
                      ("other256", "p256")):
        run([exe, "keygen", "--type", typ, "--out", d / f"{name}.key", "--no-passphrase"],
            check=0, env={"VOUCH_KEY_LOG": str(d / "log")})
        out[name] = d / f"{name}.key"
    (d / "pass").write_text("s3cret passphrase\n")
    p = run([exe, "keygen", "--type", "p256", "--out", d / "locked.key",
             "--passphrase-file", d / "pass"], check=0, env={"VOUCH_KEY_LOG": str(d / "log")})
    assert "encrypted with a passphrase" in p.stdout
    out["locked"] = d / "locked.key"
    out["pass"] = d / "pass"
    return out


def pub(k):
    return f"{k}.pub"


def files_in(d):
    return sorted(p.name for p in d.iterdir())


# ------------------------------------------------------------------- keygen

def test_keygen_writes_pkcs8_and_spki(vouch, tmp_path):
    p = vouch("keygen", "--type", "x25519", "--out", tmp_path / "k", "--no-passphrase", check=0)
    assert p.stdout.startswith("keyid: ")
    assert "HPKE DHKEM(X25519, HKDF-SHA256)" in p.stdout
    assert (tmp_path / "k").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert os.stat(tmp_path / "k").st_mode & 0o777 == 0o600
    # Never overwrites, never writes half a pair.
    p = vouch("keygen", "--type", "p256", "--out", tmp_path / "k", "--no-passphrase", check=3)
    assert "already exists" in p.stderr
    p = vouch("keygen", "--type", "x448", "--out", tmp_path / "k2", "--no-passphrase")
    assert p.returncode == 2
    assert not (tmp_path / "k2").exists()
    # No terminal, no passphrase option: refused with a hint.
    p = vouch("keygen", "--type", "p256", "--out", tmp_path / "k3", check=2)
    assert "--passphrase-file" in p.stderr
    assert not (tmp_path / "k3").exists()


# ------------------------------------------------------------ CLI round trips

@pytest.mark.parametrize("aead", ["aes256gcm", "chacha20poly1305"])
def test_round_trip_multiple_recipients(vouch, keys, tmp_path, aead):
    data = secrets.token_bytes(3 * CHUNK + 123)
    (tmp_path / "in.bin").write_bytes(data)
    vouch("encrypt", "--to", pub(keys["dev"]), "--to", pub(keys["grp"]), "--to",
          pub(keys["locked"]), "--aead", aead, "-o", tmp_path / "in.enc", tmp_path / "in.bin",
          check=0)
    enc = (tmp_path / "in.enc").read_bytes()
    assert enc[:8] == b"VOUCHENC"
    assert data[:64] not in enc
    for name in ("dev", "grp"):
        out = tmp_path / f"out-{name}"
        vouch("decrypt", "--key", keys[name], "-o", out, tmp_path / "in.enc", check=0)
        assert out.read_bytes() == data
        assert os.stat(out).st_mode & 0o777 == 0o600
    # The passphrase-protected key, with its passphrase file.
    vouch("decrypt", "--key", keys["locked"], "--passphrase-file", keys["pass"], "-o",
          tmp_path / "out-locked", tmp_path / "in.enc", check=0)
    assert (tmp_path / "out-locked").read_bytes() == data
    # To standard output, from standard input.
    with open(tmp_path / "in.enc", "rb") as f:
        p = subprocess.run([vouch.exe, "decrypt", "--key", keys["dev"], "-o", "-", "-"],
                           stdin=f, capture_output=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == data


def test_empty_file_and_custom_chunk(vouch, keys, tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    vouch("encrypt", "--to", pub(keys["dev"]), "-o", tmp_path / "e.enc", tmp_path / "empty",
          check=0)
    vouch("decrypt", "--key", keys["dev"], "-o", tmp_path / "e.out", tmp_path / "e.enc", check=0)
    assert (tmp_path / "e.out").read_bytes() == b""
    data = secrets.token_bytes(10000)
    (tmp_path / "d").write_bytes(data)
    vouch("encrypt", "--to", pub(keys["grp"]), "--chunk-size", "1000", "-o", tmp_path / "d.enc",
          tmp_path / "d", check=0)
    hlen = int.from_bytes((tmp_path / "d.enc").read_bytes()[20:24], "big")
    # 10 full chunks and an empty last chunk.
    assert (tmp_path / "d.enc").stat().st_size == hlen + 10 * 1016 + 16
    vouch("decrypt", "--key", keys["grp"], "-o", tmp_path / "d.out", tmp_path / "d.enc", check=0)
    assert (tmp_path / "d.out").read_bytes() == data


def test_usage_errors(vouch, keys, tmp_path):
    (tmp_path / "x").write_bytes(b"x")
    assert vouch("encrypt", "-o", tmp_path / "y", tmp_path / "x").returncode == 2
    assert vouch("encrypt", "--to", pub(keys["dev"]), tmp_path / "x").returncode == 2
    assert vouch("encrypt", "--to", pub(keys["dev"]), "--aead", "aes128cbc", "-o",
                 tmp_path / "y", tmp_path / "x").returncode == 2
    assert vouch("encrypt", "--to", pub(keys["dev"]), "--chunk-size", "12", "-o",
                 tmp_path / "y", tmp_path / "x").returncode == 2
    assert vouch("decrypt", "-o", tmp_path / "y", tmp_path / "x").returncode == 2
    assert vouch("encrypt", "--help", check=0).stdout.startswith("Usage: vouch encrypt")
    assert vouch("decrypt", "--help", check=0).stdout.startswith("Usage: vouch decrypt")
    # I/O errors: exit 3.
    p = vouch("encrypt", "--to", pub(keys["dev"]), "-o", tmp_path / "y", tmp_path / "missing")
    assert p.returncode == 3
    # A signing key is not a recipient key.
    vouch("keygen", "--type", "ed25519", "--out", tmp_path / "sig", "--no-passphrase", check=0)
    p = vouch("encrypt", "--to", tmp_path / "sig.pub", "-o", tmp_path / "y", tmp_path / "x")
    assert p.returncode == 2
    assert "not an x25519 or p256 recipient key" in p.stderr
    assert not (tmp_path / "y").exists()


# --------------------------------------------------------------- refusals

def test_non_recipient_refused(vouch, keys, tmp_path):
    (tmp_path / "in").write_bytes(b"firmware" * 1000)
    vouch("encrypt", "--to", pub(keys["dev"]), "--to", pub(keys["grp"]), "-o",
          tmp_path / "in.enc", tmp_path / "in", check=0)
    before = files_in(tmp_path)
    for name in ("other", "other256"):
        p = vouch("decrypt", "--key", keys[name], "-o", tmp_path / "out", tmp_path / "in.enc",
                  check=1)
        assert "not a recipient" in p.stderr
        assert "encrypted to 2 keys" in p.stderr
    assert files_in(tmp_path) == before
    p = vouch("decrypt", "--key", keys["other"], "-o", "-", tmp_path / "in.enc", check=1)
    assert p.stdout == ""


def test_wrong_passphrase(vouch, keys, tmp_path):
    (tmp_path / "in").write_bytes(b"x")
    vouch("encrypt", "--to", pub(keys["locked"]), "-o", tmp_path / "in.enc", tmp_path / "in",
          check=0)
    (tmp_path / "bad").write_text("not it\n")
    p = vouch("decrypt", "--key", keys["locked"], "--passphrase-file", tmp_path / "bad", "-o",
              tmp_path / "out", tmp_path / "in.enc", check=1)
    assert "wrong passphrase" in p.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("what", ["header", "ciphertext", "truncate", "drop-last", "append"])
def test_tampered_file_leaves_no_output(vouch, keys, tmp_path, what):
    data = secrets.token_bytes(4 * 1000 + 10)
    (tmp_path / "in").write_bytes(data)
    vouch("encrypt", "--to", pub(keys["dev"]), "--chunk-size", "1000", "-o",
          tmp_path / "in.enc", tmp_path / "in", check=0)
    enc = bytearray((tmp_path / "in.enc").read_bytes())
    hlen = int.from_bytes(enc[20:24], "big")
    if what == "header":
        enc[40] ^= 1  # the salt
    elif what == "ciphertext":
        enc[hlen + 2 * 1016 + 5] ^= 1
    elif what == "truncate":
        enc = enc[:hlen + 2 * 1016]
    elif what == "drop-last":
        enc = enc[:-(10 + 16)]
    elif what == "append":
        enc += enc[hlen:hlen + 1016]
    (tmp_path / "bad.enc").write_bytes(bytes(enc))
    before = files_in(tmp_path)
    p = vouch("decrypt", "--key", keys["dev"], "-o", tmp_path / "out", tmp_path / "bad.enc",
              check=1)
    assert "bad.enc: " in p.stderr
    assert files_in(tmp_path) == before  # no output, no temporary file
    # To standard output: exit 1 and a clear message; what was written
    # is an authentic prefix (every chunk is authenticated on its own).
    p = subprocess.run([vouch.exe, "decrypt", "--key", keys["dev"], "-o", "-",
                        tmp_path / "bad.enc"], capture_output=True)
    assert p.returncode == 1
    assert data.startswith(p.stdout)
    assert len(p.stdout) < len(data)
    if what != "header":
        assert b"discard the output" in p.stderr


def test_killed_decrypt_leaves_no_plaintext(vouch, keys, tmp_path):
    """A decryption killed half-way (SIGKILL: no handler runs; a crash or a
    power cut is the same) leaves nothing on disk: the output is an unnamed
    file until the last chunk has authenticated."""
    data = secrets.token_bytes(8 * CHUNK)
    (tmp_path / "in").write_bytes(data)
    vouch("encrypt", "--to", pub(keys["dev"]), "-o", tmp_path / "in.enc", tmp_path / "in",
          check=0)
    enc = (tmp_path / "in.enc").read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = subprocess.Popen([vouch.exe, "decrypt", "--key", keys["dev"], "-o", out / "fw.bin",
                          fifo], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(fifo, "wb") as w:
            # More than a pipe holds: when this returns, vouch has read and
            # decrypted (and written out) at least a few chunks.
            w.write(enc[:len(enc) - 2 * (CHUNK + 16)])
            w.flush()
            assert p.poll() is None
            assert sorted(os.listdir(out)) == []
            p.kill()
            p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert sorted(os.listdir(out)) == []


# -------------------------------------------------------- interop: hpke-js

def tool(*args, check=0):
    return run([HPKE_TOOL, *args], check=check)


@pytest.mark.parametrize("kem", ["dev", "grp"])  # X25519 and P-256
@pytest.mark.parametrize("aead", [1, 2, 3])
def test_hpke_interop(keys, kem, aead):
    content_key = secrets.token_hex(32)
    info, aad = b"vouch-enc-v1 interop".hex(), secrets.token_hex(8)
    # hpke-js seals to the vouch-generated key, vouch opens.
    s = json.loads(node("hpke_interop.mjs", "seal", pub(keys[kem]), str(aead), info, aad,
                        content_key).stdout)
    o = json.loads(tool("open", keys[kem], str(aead), s["enc"], info, aad, s["ct"]).stdout)
    assert o["pt"] == content_key
    assert o["export"] == s["export"]
    # A modified ciphertext does not open (exit 1).
    bad = s["ct"][:-2] + ("00" if s["ct"][-2:] != "00" else "01")
    tool("open", keys[kem], str(aead), s["enc"], info, aad, bad, check=1)
    # vouch seals, hpke-js opens.
    s = json.loads(tool("seal", pub(keys[kem]), str(aead), info, aad, content_key).stdout)
    o = json.loads(node("hpke_interop.mjs", "open", keys[kem], str(aead), s["enc"], info, aad,
                        s["ct"]).stdout)
    assert o["pt"] == content_key
    assert o["export"] == s["export"]
    node("hpke_interop.mjs", "open", keys[kem], str(aead), s["enc"], info, "00", s["ct"],
         check=1)


@pytest.mark.parametrize("aead,size,chunk", [
    ("aes256gcm", 0, 65536), ("aes256gcm", 5000, 1000), ("chacha20poly1305", 5555, 1000),
    ("chacha20poly1305", 200000, 65536)])
def test_file_format_interop(vouch, keys, tmp_path, aead, size, chunk):
    """The format as written in docs/formats.md, implemented again in
    JavaScript, agrees with vouch in both directions."""
    aead_id = {"aes256gcm": 2, "chacha20poly1305": 3}[aead]
    data = secrets.token_bytes(size)
    (tmp_path / "in").write_bytes(data)
    vouch("encrypt", "--to", pub(keys["dev"]), "--to", pub(keys["grp"]), "--aead", aead,
          "--chunk-size", str(chunk), "-o", tmp_path / "v.enc", tmp_path / "in", check=0)
    for k in ("dev", "grp"):
        node("hpke_interop.mjs", "file-decrypt", keys[k], tmp_path / "v.enc",
             tmp_path / f"js-{k}.out")
        assert (tmp_path / f"js-{k}.out").read_bytes() == data
    node("hpke_interop.mjs", "file-decrypt", keys["other"], tmp_path / "v.enc",
         tmp_path / "x", check=1)
    node("hpke_interop.mjs", "file-encrypt", str(aead_id), str(chunk), tmp_path / "in",
         tmp_path / "js.enc", pub(keys["grp"]), pub(keys["dev"]))
    for k in ("dev", "grp"):
        vouch("decrypt", "--key", keys[k], "-o", tmp_path / f"v-{k}.out", tmp_path / "js.enc",
              check=0)
        assert (tmp_path / f"v-{k}.out").read_bytes() == data
