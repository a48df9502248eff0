"""HSM keys through PKCS#11, against a real SoftHSM2 token that the tests
create in a private token directory (no mocks).

Keys are generated in the token with `vouch keygen --pkcs11`, used with
`vouch sign --key pkcs11:...`, and checked with `vouch verify`, with
`openssl pkeyutl` on the exported public key, and with OpenSC's
`pkcs11-tool` looking at the token's objects.
"""
import base64
import binascii
import json
import os
import pathlib
import shutil
import signal
import subprocess

import pytest

from conftest import binary, run

MODULE = os.environ.get("VOUCH_TEST_SOFTHSM", "/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "vouch-test"
PIN = "5678"
WRONG_PIN = "wrong-q97531864"
TYPES = ["ecdsa", "rsa3072", "ed25519"]


def uri(obj, pin=PIN, token=TOKEN, extra=""):
    q = f"?pin-value={pin}" if pin is not None else ""
    if extra:
        q = (q + "&" if q else "?") + extra
    return f"pkcs11:token={token};object={obj}{q}"


class Hsm:
    """A SoftHSM2 token directory and the environment that selects it."""

    def __init__(self, root):
        self.root = root
        tokens = root / "tokens"
        tokens.mkdir()
        self.conf = root / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {tokens}\n"
                             "objectstore.backend = file\nlog.level = ERROR\n")
        self.log = root / "key-usage.log"
        # VOUCH_PKCS11_MODULE is unset unless a test sets it: the module
        # comes from --pkcs11-module or the URI.
        self.env = {"SOFTHSM2_CONF": str(self.conf), "VOUCH_KEY_LOG": str(self.log),
                    "VOUCH_PKCS11_MODULE": ""}
        run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", "1234",
             "--pin", PIN], check=0, env=self.env)

    def vouch(self, *args, check=None, env=None):
        e = dict(self.env)
        if env:
            e.update(env)
        p = run([binary("vouch"), *args], check=check, env=e)
        # Never a crash, whatever the outcome.
        assert p.returncode >= 0, f"vouch killed by {signal.Signals(-p.returncode).name}"
        assert p.returncode in (0, 1, 2, 3), p
        return p

    def tool(self, *args, check=0):
        return run(["pkcs11-tool", "--module", MODULE, *args], check=check, env=self.env)

    def objects(self):
        """pkcs11-tool's object list, as {(kind, label): text of the entry}."""
        out = self.tool("--login", "--pin", PIN, "--list-objects").stdout
        entries, cur = {}, None
        for line in out.splitlines():
            if line and not line.startswith(" "):
                cur = line
                entries[cur] = ""
            elif cur is not None:
                entries[cur] += line.strip() + "\n"
        result = {}
        for head, body in entries.items():
            label = next((l.split(":", 1)[1].strip() for l in body.splitlines()
                          if l.startswith("label:")), None)
            kind = head.split(";")[0].strip()
            result[(kind, label)] = body
        return result


@pytest.fixture(scope="module")
def hsm(tmp_path_factory):
    if not pathlib.Path(MODULE).exists() or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 is not installed: run scripts/install-deps")
    return Hsm(tmp_path_factory.mktemp("hsm"))


@pytest.fixture(scope="module")
def keys(hsm):
    """One key per type generated in the token: {type: path of PATH.pub}."""
    out = {}
    for t in TYPES:
        path = hsm.root / f"key-{t}"
        hsm.vouch("keygen", "--type", t, "--pkcs11", uri(f"key-{t}"), "--pkcs11-module", MODULE,
                  "--out", path, check=0)
        out[t] = path
    return out


def canonical(obj):
    # TUF/OLPC canonical JSON for the simple documents used here (ASCII
    # strings, integers): sorted keys, no whitespace.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode_sig(text):
    try:
        return binascii.unhexlify(text)
    except binascii.Error:
        return base64.b64decode(text, validate=True)


@pytest.mark.parametrize("ktype", TYPES)
def test_keygen_leaves_only_public_key_on_disk(hsm, keys, ktype):
    path = keys[ktype]
    assert not path.exists(), "a private key file was written"
    pub = pathlib.Path(str(path) + ".pub").read_text()
    assert pub.startswith("-----BEGIN PUBLIC KEY-----")
    objs = hsm.objects()
    priv = objs[("Private Key Object", f"key-{ktype}")]
    assert "never extractable" in priv and "sensitive" in priv
    usage = next(l for l in priv.splitlines() if l.startswith("Usage:"))
    assert "sign" in usage and "decrypt" not in usage and "unwrap" not in usage
    assert ("Public Key Object", f"key-{ktype}") in objs
    # (tests/unit/test_p11.c also asks the token for the private value
    # itself and gets CKR_ATTRIBUTE_SENSITIVE.)
    # The key log records the token URI, never the PIN.
    log = hsm.log.read_text()
    assert f"pkcs11:token={TOKEN};object=key-{ktype}" in log
    assert "pin-value" not in log


@pytest.mark.parametrize("ktype", TYPES)
def test_sign_in_token_verify_with_exported_key(hsm, keys, ktype, tmp_path):
    pub = f"{keys[ktype]}.pub"
    f = tmp_path / "release.img"
    f.write_bytes(os.urandom(100_000))
    sig = tmp_path / "release.img.sig"
    hsm.vouch("sign", "--key", uri(f"key-{ktype}"), "--out", sig, f, check=0,
              env={"VOUCH_PKCS11_MODULE": MODULE})
    p = hsm.vouch("verify", "--key", pub, "--sig", sig, f, check=0)
    assert "OK" in p.stdout
    # The key id in the signature is the exported key's.
    keyid = hsm.vouch("key", "id", pub, check=0).stdout.strip()
    doc = json.loads(sig.read_text())
    assert [s["keyid"] for s in doc["signatures"]] == [keyid]

    # openssl verifies the token's signature over the canonical signed part.
    data = tmp_path / "signed.bin"
    data.write_bytes(canonical(doc["signed"]))
    raw = tmp_path / "sig.bin"
    raw.write_bytes(decode_sig(doc["signatures"][0]["sig"]))
    cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", data,
           "-sigfile", raw]
    if ktype != "ed25519":
        cmd += ["-digest", "sha256"]
    if ktype.startswith("rsa"):
        cmd += ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32",
                "-pkeyopt", "rsa_mgf1_md:sha256"]
    assert "Signature Verified Successfully" in run(cmd, check=0).stdout

    # ... and the check can fail: a changed file is rejected by both.
    f.write_bytes(f.read_bytes() + b"x")
    hsm.vouch("verify", "--key", pub, "--sig", sig, f, check=1)
    data.write_bytes(canonical(doc["signed"]) + b" ")
    assert run(cmd).returncode != 0


def test_module_from_uri_and_registered_modules(hsm, keys, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("module choice\n")
    pub = f"{keys['ecdsa']}.pub"
    # module-path in the URI
    hsm.vouch("sign", "--key", uri("key-ecdsa", extra=f"module-path={MODULE}"), "--out",
              tmp_path / "1.sig", f, check=0)
    hsm.vouch("verify", "--key", pub, "--sig", tmp_path / "1.sig", f, check=0)
    # no module named anywhere: p11-kit's registered modules (SoftHSM2
    # registers itself in /usr/share/p11-kit/modules)
    hsm.vouch("sign", "--key", uri("key-ecdsa"), "--out", tmp_path / "2.sig", f, check=0)
    hsm.vouch("verify", "--key", pub, "--sig", tmp_path / "2.sig", f, check=0)
    # a module that does not exist
    p = hsm.vouch("sign", "--key", uri("key-ecdsa"), "--out", tmp_path / "3.sig", f,
                  env={"VOUCH_PKCS11_MODULE": "/nonexistent/libnothing.so"})
    assert p.returncode == 3
    assert "cannot load PKCS#11 module /nonexistent/libnothing.so" in p.stderr
    assert not (tmp_path / "3.sig").exists()
    # --pkcs11-module wins over the environment
    hsm.vouch("sign", "--key", uri("key-ecdsa"), "--pkcs11-module", MODULE, "--out",
              tmp_path / "4.sig", f, check=0,
              env={"VOUCH_PKCS11_MODULE": "/nonexistent/libnothing.so"})
    hsm.vouch("verify", "--key", pub, "--sig", tmp_path / "4.sig", f, check=0)


def test_pin_source_file(hsm, keys, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("pin from a file\n")
    pinfile = tmp_path / "pin"
    pinfile.write_text(PIN + "\n")
    for src in (str(pinfile), f"file://{pinfile}"):
        sig = tmp_path / "a.sig"
        sig.unlink(missing_ok=True)
        hsm.vouch("sign", "--key", uri("key-ed25519", pin=None, extra=f"pin-source={src}"),
                  "--out", sig, f, check=0, env={"VOUCH_PKCS11_MODULE": MODULE})
        hsm.vouch("verify", "--key", f"{keys['ed25519']}.pub", "--sig", sig, f, check=0)
    pinfile.write_text(WRONG_PIN + "\n")
    p = hsm.vouch("sign", "--key", uri("key-ed25519", pin=None, extra=f"pin-source={pinfile}"),
                  "--out", tmp_path / "b.sig", f, env={"VOUCH_PKCS11_MODULE": MODULE})
    assert p.returncode in (1, 3)
    assert "wrong PIN for token 'vouch-test'" in p.stderr
    assert WRONG_PIN not in p.stdout + p.stderr


def test_pin_from_passphrase_file_or_prompt(hsm, keys, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("x\n")
    pinfile = tmp_path / "pin"
    pinfile.write_text(PIN + "\n")
    env = {"VOUCH_PKCS11_MODULE": MODULE}
    hsm.vouch("sign", "--key", uri("key-rsa3072", pin=None), "--passphrase-file", pinfile,
              "--out", tmp_path / "a.sig", f, check=0, env=env)
    hsm.vouch("verify", "--key", f"{keys['rsa3072']}.pub", "--sig", tmp_path / "a.sig", f,
              check=0)
    # No PIN anywhere and no terminal to ask on (new session: no
    # controlling terminal even when the tests run from one).
    e = {**os.environ, **hsm.env, **env}
    p = subprocess.run([binary("vouch"), "sign", "--key", uri("key-rsa3072", pin=None),
                        "--out", str(tmp_path / "b.sig"), str(f)], capture_output=True,
                       text=True, env=e, stdin=subprocess.DEVNULL, start_new_session=True,
                       timeout=60)
    assert p.returncode == 2, p
    assert "PIN for token 'vouch-test'" in p.stderr
    assert not (tmp_path / "b.sig").exists()


def test_wrong_pin_is_a_clear_error(hsm, keys, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("x\n")
    p = hsm.vouch("sign", "--key", uri("key-ecdsa", pin=WRONG_PIN), "--out", tmp_path / "a.sig",
                  f, env={"VOUCH_PKCS11_MODULE": MODULE})
    assert p.returncode in (1, 3)
    assert "wrong PIN for token 'vouch-test'" in p.stderr
    assert WRONG_PIN not in p.stdout + p.stderr
    assert not (tmp_path / "a.sig").exists()
    # the failed attempt is logged, without the PIN
    log = hsm.log.read_text()
    assert WRONG_PIN not in log and "pin-value" not in log

    p = hsm.vouch("keygen", "--type", "ecdsa", "--pkcs11", uri("never", pin=WRONG_PIN),
                  "--pkcs11-module", MODULE, "--out", tmp_path / "never")
    assert p.returncode in (1, 3)
    assert "wrong PIN for token 'vouch-test'" in p.stderr
    assert WRONG_PIN not in p.stdout + p.stderr
    assert not (tmp_path / "never.pub").exists()
    assert ("Private Key Object", "never") not in hsm.objects()
    # The token is still usable with the right PIN.
    hsm.vouch("sign", "--key", uri("key-ecdsa"), "--out", tmp_path / "ok.sig", f, check=0,
              env={"VOUCH_PKCS11_MODULE": MODULE})


def test_missing_token_and_object(hsm, keys, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("x\n")
    env = {"VOUCH_PKCS11_MODULE": MODULE}
    p = hsm.vouch("sign", "--key", uri("key-ecdsa", token="no-such-token"), "--out",
                  tmp_path / "a.sig", f, env=env)
    assert p.returncode == 3
    assert "token 'no-such-token' not found" in p.stderr
    p = hsm.vouch("sign", "--key", uri("no-such-key"), "--out", tmp_path / "a.sig", f, env=env)
    assert p.returncode == 3
    assert "token 'vouch-test' has no private key 'no-such-key'" in p.stderr
    assert not (tmp_path / "a.sig").exists()
    p = hsm.vouch("keygen", "--type", "ecdsa", "--pkcs11", uri("k", token="no-such-token"),
                  "--pkcs11-module", MODULE, "--out", tmp_path / "k")
    assert p.returncode == 3
    assert "token 'no-such-token' not found" in p.stderr


def test_keygen_refuses_existing_label(hsm, keys, tmp_path):
    before = hsm.objects()
    for t in ("ecdsa", "ed25519"):
        p = hsm.vouch("keygen", "--type", t, "--pkcs11", uri("key-ecdsa"), "--pkcs11-module",
                      MODULE, "--out", tmp_path / f"dup-{t}")
        assert p.returncode == 3
        assert "already has an object labelled 'key-ecdsa'" in p.stderr
        assert not (tmp_path / f"dup-{t}.pub").exists()
    assert hsm.objects() == before
    # The original key still signs and verifies.
    f = tmp_path / "a.txt"
    f.write_text("x\n")
    hsm.vouch("sign", "--key", uri("key-ecdsa"), "--out", tmp_path / "a.sig", f, check=0,
              env={"VOUCH_PKCS11_MODULE": MODULE})
    hsm.vouch("verify", "--key", f"{keys['ecdsa']}.pub", "--sig", tmp_path / "a.sig", f, check=0)


def test_signature_of_another_token_key_is_rejected(hsm, keys, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("x\n")
    hsm.vouch("sign", "--key", uri("key-ecdsa"), "--out", tmp_path / "a.sig", f, check=0,
              env={"VOUCH_PKCS11_MODULE": MODULE})
    p = hsm.vouch("verify", "--key", f"{keys['ed25519']}.pub", "--sig", tmp_path / "a.sig", f)
    assert p.returncode == 1
