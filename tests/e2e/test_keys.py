"""End-to-end tests of `vouch keygen` and `vouch key id|show` (docs/keys.md).

Signatures cross the border with OpenSSL's command line both ways: one made
by `openssl pkeyutl` over the canonical `signed` part of a signature file
verifies with `vouch verify`, and one made by `vouch sign` verifies with
`openssl pkeyutl -verify`. Key ids are recomputed here, independently, from
the PEM files.
"""
import base64
import hashlib
import json
import os
import pathlib
import pty
import select
import stat
import subprocess
import time

import pytest

from conftest import binary, run

# type given to --type -> (TUF keytype, TUF scheme)
TYPES = {
    "ed25519": ("ed25519", "ed25519"),
    "ecdsa": ("ecdsa", "ecdsa-sha2-nistp256"),
    "rsa3072": ("rsa", "rsassa-pss-sha256"),
    "rsa4096": ("rsa", "rsassa-pss-sha256"),
}
# Half of the keys are passphrase-protected, so that OpenSSL also reads
# vouch's scrypt-encrypted PKCS#8.
ENCRYPTED = {"ed25519", "rsa3072"}
PASSPHRASE = "tr0ub4dor & 3 horses"
SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")


def canonical(obj):
    """OLPC canonical JSON, as TUF signs it: keys sorted, no whitespace,
    only '"' and '\\' escaped in strings (a PEM's newlines stay raw),
    integers only. Written here independently of vouch's encoder."""
    def enc(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return "null"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        if isinstance(v, dict):
            items = sorted(v.items(), key=lambda kv: kv[0].encode())
            return "{" + ",".join(enc(k) + ":" + enc(x) for k, x in items) + "}"
        raise TypeError(type(v))
    return enc(obj).encode()


def tuf_public(keytype, pub_pem):
    """keyval.public as TUF encodes it: hex of the raw key for ed25519,
    the PEM itself otherwise."""
    if keytype != "ed25519":
        return pub_pem
    body = "".join(l for l in pub_pem.splitlines() if not l.startswith("-----"))
    der = base64.b64decode(body)
    assert der[:12] == SPKI_ED25519_PREFIX and len(der) == 44
    return der[12:].hex()


def expected_keyid(type_name, pub_pem):
    keytype, scheme = TYPES[type_name]
    obj = {"keytype": keytype, "scheme": scheme,
           "keyval": {"public": tuf_public(keytype, pub_pem)}}
    return hashlib.sha256(canonical(obj)).hexdigest(), obj


def openssl(*args, check=0, input=None):
    return run(["openssl", *args], check=check, input=input)


def passin(type_name, d):
    return ["-passin", f"file:{d / 'pass'}"] if type_name in ENCRYPTED else []


@pytest.fixture(scope="module")
def keydir(tmp_path_factory):
    """One key pair per type, generated once for the module (RSA is slow)."""
    d = tmp_path_factory.mktemp("keys")
    (d / "pass").write_text(PASSPHRASE + "\n")
    exe = binary("vouch")
    env = {"VOUCH_KEY_LOG": str(d / "key-usage.log")}
    for t in TYPES:
        secret = (["--passphrase-file", d / "pass"] if t in ENCRYPTED else ["--no-passphrase"])
        p = run([exe, "keygen", "--type", t, "--out", d / t, *secret], check=0, env=env)
        assert f"public key: {d / t}.pub" in p.stdout
    return d


def vouch_in(d, *args, check=None):
    return run([binary("vouch"), *args], check=check,
               env={"VOUCH_KEY_LOG": str(d / "key-usage.log")})


# ---- signatures across the OpenSSL border ---------------------------------

def openssl_sign(type_name, key, msg, d):
    """Signs msg (bytes) with OpenSSL as the TUF scheme says."""
    m = d / "msg.bin"
    m.write_bytes(msg)
    sig = d / "sig.bin"
    if type_name == "ed25519":
        openssl("pkeyutl", "-sign", "-inkey", key, *passin(type_name, key.parent), "-rawin", "-in", m,
                "-out", sig)
    else:
        dg = d / "msg.sha256"
        dg.write_bytes(hashlib.sha256(msg).digest())
        opts = ["-pkeyopt", "digest:sha256"]
        if type_name.startswith("rsa"):
            opts += ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32",
                     "-pkeyopt", "rsa_mgf1_md:sha256"]
        openssl("pkeyutl", "-sign", "-inkey", key, *passin(type_name, key.parent), "-in", dg, *opts,
                "-out", sig)
    return sig.read_bytes()


def openssl_verify(type_name, pub, msg, sig, d):
    """True when OpenSSL accepts sig over msg by the public key file pub."""
    m = d / "vmsg.bin"
    m.write_bytes(msg)
    s = d / "vsig.bin"
    s.write_bytes(sig)
    if type_name == "ed25519":
        p = openssl("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", m,
                    "-sigfile", s, check=None)
    else:
        dg = d / "vmsg.sha256"
        dg.write_bytes(hashlib.sha256(msg).digest())
        opts = ["-pkeyopt", "digest:sha256"]
        if type_name.startswith("rsa"):
            opts += ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32",
                     "-pkeyopt", "rsa_mgf1_md:sha256"]
        p = openssl("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", dg, "-sigfile", s,
                    *opts, check=None)
    return p.returncode == 0 and "Signature Verified Successfully" in p.stdout


def signed_part(path):
    data = path.read_bytes()
    return {
        "_type": "vouch-file-signature",
        "name": path.name,
        "length": len(data),
        "hashes": {"sha256": hashlib.sha256(data).hexdigest(),
                   "sha512": hashlib.sha512(data).hexdigest()},
    }


@pytest.mark.parametrize("type_name", list(TYPES))
def test_openssl_signature_verifies_with_vouch(keydir, tmp_path, type_name):
    f = tmp_path / "release.img"
    f.write_bytes(os.urandom(5000) + b"release " + type_name.encode())
    signed = signed_part(f)
    keyid = vouch_in(keydir, "key", "id", f"{keydir / type_name}.pub", check=0).stdout.strip()
    sig = openssl_sign(type_name, keydir / type_name, canonical(signed), tmp_path)
    doc = {"signed": signed, "signatures": [{"keyid": keyid, "sig": sig.hex()}]}
    sigfile = tmp_path / "release.img.sig"
    sigfile.write_text(json.dumps(doc, indent=2))
    p = vouch_in(keydir, "verify", "--key", f"{keydir / type_name}.pub", "--sig", sigfile, f,
                 check=0)
    assert "OK" in p.stdout

    # The same signature with one bit flipped is refused.
    bad = bytearray(sig)
    bad[len(bad) // 2] ^= 0x01
    doc["signatures"][0]["sig"] = bytes(bad).hex()
    sigfile.write_text(json.dumps(doc, indent=2))
    vouch_in(keydir, "verify", "--key", f"{keydir / type_name}.pub", "--sig", sigfile, f,
             check=1)


@pytest.mark.parametrize("type_name", list(TYPES))
def test_vouch_signature_verifies_with_openssl(keydir, tmp_path, type_name):
    f = tmp_path / "app.tar"
    f.write_bytes(b"payload for " + type_name.encode() + os.urandom(3000))
    sigfile = tmp_path / "app.tar.sig"
    secret = ["--passphrase-file", keydir / "pass"] if type_name in ENCRYPTED else []
    vouch_in(keydir, "sign", "--key", keydir / type_name, *secret, "--out", sigfile, f, check=0)
    doc = json.loads(sigfile.read_text())
    assert doc["signed"] == signed_part(f)
    keyid = vouch_in(keydir, "key", "id", f"{keydir / type_name}.pub", check=0).stdout.strip()
    (entry,) = doc["signatures"]
    assert entry["keyid"] == keyid
    sig = bytes.fromhex(entry["sig"])
    msg = canonical(doc["signed"])
    pub = f"{keydir / type_name}.pub"
    assert openssl_verify(type_name, pub, msg, sig, tmp_path)
    # OpenSSL is not just saying yes: another message fails.
    assert not openssl_verify(type_name, pub, msg.replace(b'"length":', b'"length":1'), sig,
                              tmp_path)


# ---- key files -------------------------------------------------------------

@pytest.mark.parametrize("type_name", list(TYPES))
def test_key_files(keydir, type_name):
    priv = keydir / type_name
    pub = pathlib.Path(f"{priv}.pub")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    head = priv.read_text().splitlines()[0]
    if type_name in ENCRYPTED:
        assert head == "-----BEGIN ENCRYPTED PRIVATE KEY-----"
        asn1 = openssl("asn1parse", "-in", priv).stdout
        assert ":PBES2" in asn1 and ":scrypt" in asn1 and ":aes-256-cbc" in asn1
        # Without the passphrase, or with a wrong one, OpenSSL cannot read it.
        openssl("pkey", "-in", priv, "-passin", "pass:wrong", "-noout", check=1)
    else:
        assert head == "-----BEGIN PRIVATE KEY-----"
    # The public key in PATH.pub is the private key's.
    derived = openssl("pkey", "-in", priv, *passin(type_name, keydir), "-pubout").stdout
    assert derived == pub.read_text()
    text = openssl("pkey", "-pubin", "-in", pub, "-text", "-noout").stdout
    want = {"ed25519": "ED25519 Public-Key", "ecdsa": "NIST CURVE: P-256",
            "rsa3072": "Public-Key: (3072 bit)", "rsa4096": "Public-Key: (4096 bit)"}[type_name]
    assert want in text


@pytest.mark.parametrize("type_name", list(TYPES))
def test_key_id_matches_independent_computation(keydir, type_name):
    pub = pathlib.Path(f"{keydir / type_name}.pub")
    want, obj = expected_keyid(type_name, pub.read_text())
    p = vouch_in(keydir, "key", "id", pub, check=0)
    assert p.stdout == want + "\n"

    shown = json.loads(vouch_in(keydir, "key", "show", "--json", pub, check=0).stdout)
    assert shown == {"keyid": want, "key": obj}
    # Options may come before or after the file.
    assert json.loads(vouch_in(keydir, "key", "show", pub, "--json", check=0).stdout) == shown

    text = vouch_in(keydir, "key", "show", pub, check=0).stdout
    assert f"keyid: {want}\n" in text
    assert f"keytype: {obj['keytype']}\n" in text
    assert f"scheme: {obj['scheme']}\n" in text
    assert obj["keyval"]["public"] in text

    # The TUF JSON (bare, and as `key show --json` prints it) has the same id.
    tuf = keydir / f"{type_name}.tuf.json"
    tuf.write_text(json.dumps(obj))
    assert vouch_in(keydir, "key", "id", tuf, check=0).stdout == want + "\n"
    shownf = keydir / f"{type_name}.shown.json"
    shownf.write_text(json.dumps(shown))
    assert vouch_in(keydir, "key", "id", shownf, check=0).stdout == want + "\n"


def test_key_id_fixed_vector(tmp_path, vouch):
    # RFC 8032 TEST 1 public key, as SPKI PEM; id computed once by hand:
    # sha256 of {"keytype":"ed25519","keyval":{"public":"d75a...511a"},"scheme":"ed25519"}.
    raw = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    pem = ("-----BEGIN PUBLIC KEY-----\n"
           + base64.b64encode(SPKI_ED25519_PREFIX + raw).decode() + "\n"
           + "-----END PUBLIC KEY-----\n")
    (tmp_path / "t1.pub").write_text(pem)
    p = vouch("key", "id", tmp_path / "t1.pub", check=0)
    assert p.stdout == "74c181c7ad8a0855d4b55e44d2ba87aabdddb196832571f15f92fece332e4916\n"


def test_key_rejects_bad_files(tmp_path, vouch):
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key\n")
    p = vouch("key", "id", junk, check=1)
    assert "neither a PEM public key nor a TUF public-key JSON" in p.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"keytype": "ed25519", "scheme": "ed25519",
                               "keyval": {"public": "ab" * 31}}))
    p = vouch("key", "show", bad, check=1)
    assert "64 lowercase hex digits" in p.stderr
    unsupported = tmp_path / "dsa.json"
    unsupported.write_text(json.dumps({"keytype": "dsa", "scheme": "dsa-sha256",
                                       "keyval": {"public": "x"}}))
    p = vouch("key", "id", unsupported, check=2)
    assert 'keytype "dsa" not supported' in p.stderr
    p = vouch("key", "id", tmp_path / "missing.pub", check=3)
    vouch("keygen", "--out", tmp_path / "k", "--no-passphrase", check=0)
    p = vouch("key", "id", tmp_path / "k", check=1)
    assert "a private key, where a public key is needed" in p.stderr
    big = tmp_path / "big.pub"
    big.write_text(" " * 5000)
    vouch("key", "id", big, check=1)


def test_key_usage_errors(vouch, tmp_path):
    assert "vouch key id PUB" in vouch("key", "--help", check=0).stdout
    assert "vouch key show PUB [--json]" in vouch("key", "show", "--help", check=0).stdout
    vouch("key", check=2)
    vouch("key", "frob", "x", check=2)
    vouch("key", "id", check=2)
    vouch("key", "id", "a", "b", check=2)
    vouch("key", "id", "--json", "a", check=2)
    vouch("key", "show", "--bogus", "a", check=2)


# ---- keygen command line ---------------------------------------------------

def test_keygen_help(vouch):
    p = vouch("keygen", "--help", check=0)
    for opt in ("--type", "ed25519", "ecdsa", "rsa3072", "rsa4096", "--out",
                "--passphrase-file", "--no-passphrase", "--pkcs11", "--pkcs11-module",
                "--log", "PATH.pub", "Exit codes"):
        assert opt in p.stdout
    assert p.stderr == ""


def test_keygen_usage_errors(vouch, tmp_path):
    p = vouch("keygen", "--no-passphrase", check=2)
    assert "--out PATH is required" in p.stderr
    vouch("keygen", "--out", check=2)
    vouch("keygen", "--out", tmp_path / "k", "--no-passphrase", "--bogus", check=2)
    vouch("keygen", "--out", tmp_path / "k", "--no-passphrase", "extra", check=2)
    p = vouch("keygen", "--type", "dsa", "--out", tmp_path / "k", "--no-passphrase", check=2)
    assert "unknown key type 'dsa'" in p.stderr
    p = vouch("keygen", "--out", tmp_path / "k", "--no-passphrase", "--passphrase-file",
              tmp_path / "p", check=2)
    assert "exclude each other" in p.stderr
    vouch("keygen", "--out", tmp_path / "k", "--pkcs11", "pkcs11:token=x;object=y",
          "--no-passphrase", check=2)
    vouch("keygen", "--out", tmp_path / "k", "--pkcs11", "/not/a/uri", check=2)
    vouch("keygen", "--out", tmp_path / "k", "--pkcs11-module", "/x.so", "--no-passphrase",
          check=2)
    assert not (tmp_path / "k").exists()
    assert not (tmp_path / "k.pub").exists()


def test_keygen_without_terminal_needs_passphrase_source(vouch, tmp_path):
    # A new session has no controlling terminal: nothing to prompt on.
    p = subprocess.run([vouch.exe, "keygen", "--out", str(tmp_path / "k")],
                       capture_output=True, text=True, start_new_session=True,
                       stdin=subprocess.DEVNULL,
                       env={**os.environ, "VOUCH_KEY_LOG": str(vouch.log)})
    assert p.returncode == 2, p.stderr
    assert "--passphrase-file" in p.stderr and "--no-passphrase" in p.stderr
    assert not (tmp_path / "k").exists() and not (tmp_path / "k.pub").exists()


def test_keygen_passphrase_file(vouch, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("first line\nsecond line\n")
    vouch("keygen", "--out", tmp_path / "k", "--passphrase-file", pw, check=0)
    # Only the first line is the passphrase.
    openssl("pkey", "-in", tmp_path / "k", "-passin", "pass:first line", "-noout")
    openssl("pkey", "-in", tmp_path / "k", "-passin", f"file:{pw}", "-noout")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    p = vouch("keygen", "--out", tmp_path / "k2", "--passphrase-file", empty, check=2)
    assert "empty passphrase" in p.stderr
    p = vouch("keygen", "--out", tmp_path / "k3", "--passphrase-file", tmp_path / "nope",
              check=3)
    assert "passphrase file" in p.stderr
    assert not (tmp_path / "k2").exists() and not (tmp_path / "k3").exists()


def test_passphrase_key_needs_the_passphrase(vouch, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("right one\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong one\n")
    vouch("keygen", "--out", tmp_path / "k", "--passphrase-file", pw, check=0)
    f = tmp_path / "file"
    f.write_text("data")
    p = subprocess.run([vouch.exe, "sign", "--key", str(tmp_path / "k"), str(f)],
                       capture_output=True, text=True, start_new_session=True,
                       stdin=subprocess.DEVNULL,
                       env={**os.environ, "VOUCH_KEY_LOG": str(vouch.log)})
    assert p.returncode == 2, p.stderr
    assert "--passphrase-file" in p.stderr
    p = vouch("sign", "--key", tmp_path / "k", "--passphrase-file", wrong, f, check=1)
    assert "wrong passphrase" in p.stderr
    vouch("sign", "--key", tmp_path / "k", "--passphrase-file", pw, f, check=0)
    vouch("verify", "--key", tmp_path / "k.pub", f, check=0)


def test_keygen_refuses_to_overwrite(vouch, tmp_path):
    k = tmp_path / "k"
    vouch("keygen", "--out", k, "--no-passphrase", check=0)
    before = (k.read_bytes(), pathlib.Path(f"{k}.pub").read_bytes())
    p = vouch("keygen", "--out", k, "--no-passphrase", check=3)
    assert "already exists" in p.stderr
    assert (k.read_bytes(), pathlib.Path(f"{k}.pub").read_bytes()) == before

    # PATH.pub alone in the way: PATH is not written either.
    (tmp_path / "j.pub").write_text("someone's file\n")
    p = vouch("keygen", "--out", tmp_path / "j", "--no-passphrase", check=3)
    assert "j.pub already exists" in p.stderr
    assert not (tmp_path / "j").exists()
    assert (tmp_path / "j.pub").read_text() == "someone's file\n"

    # A dangling symlink at PATH is not followed.
    (tmp_path / "l").symlink_to(tmp_path / "elsewhere")
    vouch("keygen", "--out", tmp_path / "l", "--no-passphrase", check=3)
    assert not (tmp_path / "elsewhere").exists()


def test_keygen_prints_and_logs(vouch, tmp_path):
    k = tmp_path / "k"
    p = vouch("keygen", "--type", "ecdsa", "--out", k, "--no-passphrase", check=0)
    want, _ = expected_keyid("ecdsa", pathlib.Path(f"{k}.pub").read_text())
    assert f"keyid: {want}\n" in p.stdout
    assert f"private key: {k} (UNENCRYPTED)\n" in p.stdout
    assert f"public key: {k}.pub\n" in p.stdout

    vouch("keygen", "--out", k, "--no-passphrase", check=3)  # exists: a logged failure
    lines = [json.loads(l) for l in vouch.log.read_text().splitlines()]
    assert len(lines) == 2
    ok, failed = lines
    assert ok["operation"] == "keygen" and ok["result"] == "ok"
    assert ok["key_id"] == want
    assert ok["key_location"] == f"file:{k}"
    assert failed["operation"] == "keygen" and failed["result"] == "error"
    assert "already exists" in failed["error"]

    # --log sends the entry elsewhere.
    other = tmp_path / "other.log"
    vouch("keygen", "--out", tmp_path / "k2", "--no-passphrase", "--log", other, check=0)
    assert len(other.read_text().splitlines()) == 1
    assert len(vouch.log.read_text().splitlines()) == 2


def keygen_on_terminal(vouch, out, answers):
    """Runs `vouch keygen --out OUT` with a pseudo-terminal as its
    controlling terminal, typing each answer after its prompt. Returns
    (exit code, everything the terminal showed)."""
    env = {**os.environ, "VOUCH_KEY_LOG": str(vouch.log)}
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal
        try:
            os.execve(vouch.exe, [vouch.exe, "keygen", "--out", str(out)], env)
        finally:
            os._exit(127)
    shown = b""

    def read_until(marker):
        nonlocal shown
        deadline = time.monotonic() + 30
        while marker is None or marker not in shown:
            r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                raise AssertionError(f"waited for {marker!r}; the terminal shows {shown!r}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                if marker is None:
                    return
                raise AssertionError(f"no {marker!r}; the terminal shows {shown!r}")
            shown += chunk

    try:
        read_until(b"Enter passphrase for new key")
        os.write(fd, answers[0] + b"\n")
        read_until(b"Repeat passphrase for new key")
        os.write(fd, answers[1] + b"\n")
        read_until(None)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_keygen_asks_twice_on_the_terminal(vouch, tmp_path):
    k = tmp_path / "k"
    code, shown = keygen_on_terminal(vouch, k, [b"typed secret 1", b"typed secret 1"])
    assert code == 0, shown
    assert "typed secret" not in shown  # no echo
    assert f"public key: {k}.pub" in shown
    assert k.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    openssl("pkey", "-in", k, "-passin", "pass:typed secret 1", "-noout")

    # Two different entries: nothing is written.
    code, shown = keygen_on_terminal(vouch, tmp_path / "j", [b"one", b"two"])
    assert code == 2
    assert "the two entries differ" in shown
    assert not (tmp_path / "j").exists() and not (tmp_path / "j.pub").exists()


def test_keygen_unwritable_destination(vouch, tmp_path):
    p = vouch("keygen", "--out", tmp_path / "no" / "such" / "dir" / "k", "--no-passphrase",
              check=3)
    assert "cannot create" in p.stderr
    assert not (tmp_path / "no").exists()


SOFTHSM = os.environ.get("VOUCH_TEST_SOFTHSM", "/usr/lib/softhsm/libsofthsm2.so")


@pytest.mark.parametrize("uri", [
    "pkcs11:token=nope;object=k?pin-value=pin-q24681357",
    "pkcs11:token=nope;object=k?pin-value=pin-q24681357&module-name=softhsm2",
    "pkcs11:token=nope;object=k?module-name=softhsm2&pin-value=pin-q24681357",
    "pkcs11:token=nope;pin-value=pin-q24681357;object=k",
    "pkcs11:pin-value=pin-q24681357;token=nope;object=k",
])
def test_keygen_pkcs11_failure_logs_no_pin(vouch, tmp_path, uri):
    """A failed token keygen is logged with the URI, never with its PIN."""
    if not os.path.exists(SOFTHSM):
        pytest.skip("SoftHSM2 not installed")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\n"
                    "objectstore.backend = file\nlog.level = ERROR\n")
    p = vouch("keygen", "--type", "ecdsa", "--pkcs11", uri, "--pkcs11-module", SOFTHSM,
              "--out", tmp_path / "k", env={"SOFTHSM2_CONF": str(conf)})
    assert p.returncode in (1, 3), p.stderr
    assert "pin-q24681357" not in p.stderr
    assert not (tmp_path / "k.pub").exists() and not (tmp_path / "k").exists()
    log = vouch.log.read_text()
    assert "pin-q24681357" not in log
    (entry,) = [json.loads(l) for l in log.splitlines()]
    assert entry["operation"] == "keygen" and entry["result"] == "error"
    assert entry["key_location"].startswith("pkcs11:token=nope;")
    assert "object=k" in entry["key_location"]
    assert "pin-value" not in entry["key_location"]


def test_private_key_mode_ignores_a_loose_umask(vouch, tmp_path):
    k = tmp_path / "k"
    p = subprocess.run([vouch.exe, "keygen", "--out", str(k), "--no-passphrase"],
                       capture_output=True, text=True, preexec_fn=lambda: os.umask(0),
                       env={**os.environ, "VOUCH_KEY_LOG": str(vouch.log)})
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(k.stat().st_mode) == 0o600
    assert stat.S_IMODE(pathlib.Path(f"{k}.pub").stat().st_mode) == 0o644


# ---- review: help text true to the exit codes, keys that accept forgeries ---

def _exit_codes(help_text):
    """The 'Exit codes:' paragraph of a --help text as {code: description}."""
    para = help_text.split("Exit codes:", 1)[1].split("\n\n", 1)[0]
    para = " ".join(para.split())
    codes, cur = {}, None
    for part in para.replace(".", ",").split(","):
        part = part.strip()
        if part[:1].isdigit():
            cur = int(part[0])
            codes[cur] = part[1:].strip()
        elif cur is not None and part:
            codes[cur] += ", " + part
    return codes


def test_help_exit_codes_match_behaviour(tmp_path, vouch):
    key_codes = _exit_codes(vouch("key", "--help", check=0).stdout)
    # An unsupported key type exits 2 (test_key_rejects_bad_files): the help says so.
    unsupported = tmp_path / "dsa.json"
    unsupported.write_text(json.dumps({"keytype": "dsa", "scheme": "dsa-sha256",
                                       "keyval": {"public": "x"}}))
    vouch("key", "id", unsupported, check=2)
    assert "support" in key_codes[2] and "support" not in key_codes[1]
    keygen_codes = _exit_codes(vouch("keygen", "--help", check=0).stdout)
    # A passphrase over the limit is refused with 1 (so is a wrong PIN).
    pf = tmp_path / "long"
    pf.write_text("x" * 2000 + "\n")
    vouch("keygen", "--out", tmp_path / "k", "--passphrase-file", pf, check=1)
    assert "passphrase" in keygen_codes[1] and "PIN" in keygen_codes[1]
    assert set(keygen_codes) == {0, 1, 2, 3} and set(key_codes) == {0, 1, 2, 3}
    # The module is looked for where p11.c looks, in that order.
    text = " ".join(vouch("keygen", "--help", check=0).stdout.split())
    assert text.index("$VOUCH_PKCS11_MODULE") < text.index("module-path") < text.index(
        "p11-kit's configured modules")


def _ed25519_pem(raw):
    return ("-----BEGIN PUBLIC KEY-----\n"
            + base64.b64encode(SPKI_ED25519_PREFIX + raw).decode() + "\n"
            + "-----END PUBLIC KEY-----\n")


def test_small_order_ed25519_key_cannot_verify_forgery(tmp_path, vouch):
    # The identity point as an ed25519 key: OpenSSL accepts R = identity,
    # S = 0 as its signature of any message. vouch refuses the key.
    ident = bytes([1]) + bytes(31)
    (tmp_path / "id.pub").write_text(_ed25519_pem(ident))
    f = tmp_path / "release.bin"
    f.write_bytes(b"malicious payload")
    vouch("keygen", "--out", tmp_path / "k", "--no-passphrase", check=0)
    vouch("sign", "--key", tmp_path / "k", f, check=0)
    sig = pathlib.Path(str(f) + ".sig")
    doc = json.loads(sig.read_text())
    tuf = {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": ident.hex()}}
    keyid = hashlib.sha256(canonical(tuf)).hexdigest()
    doc["signatures"] = [{"keyid": keyid, "sig": "01" + "00" * 63}]
    sig.write_text(json.dumps(doc))
    p = vouch("verify", "--key", tmp_path / "id.pub", f, check=1)
    assert "small order" in p.stderr
    assert "OK" not in p.stdout
    (tmp_path / "id.json").write_text(json.dumps(tuf))
    p = vouch("key", "id", tmp_path / "id.json", check=1)
    assert "small order" in p.stderr and p.stdout == ""
    # y >= p: another spelling of a point, refused rather than given a second id.
    noncanon = bytes([0xee]) + b"\xff" * 30 + b"\x7f"
    (tmp_path / "nc.pub").write_text(_ed25519_pem(noncanon))
    p = vouch("key", "id", tmp_path / "nc.pub", check=1)
    assert "not canonically encoded" in p.stderr


def test_pem_file_spellings_have_one_key_id(tmp_path, vouch):
    # A .pub file written by another tool may lack the final newline or use
    # CRLF: the key is re-encoded, so its id does not change.
    vouch("keygen", "--type", "ecdsa", "--out", tmp_path / "k", "--no-passphrase", check=0)
    pem = (tmp_path / "k.pub").read_text()
    want = vouch("key", "id", tmp_path / "k.pub", check=0).stdout
    (tmp_path / "nonl.pub").write_text(pem.rstrip("\n"))
    (tmp_path / "crlf.pub").write_bytes(pem.replace("\n", "\r\n").encode())
    for name in ("nonl.pub", "crlf.pub"):
        assert vouch("key", "id", tmp_path / name, check=0).stdout == want
