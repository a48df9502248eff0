"""vouch sign | verify end to end: every single-bit flip of the file, of the
signature bytes and of the signature file's text is rejected (exit 1, never
0, never a crash); wrong keys, truncated, oversized and malformed signature
files, duplicate keys and thresholds that one key cannot meet alone."""
import concurrent.futures
import json
import os
import pathlib
import subprocess

import pytest

from conftest import binary, run

KEY_TYPES = ["ed25519", "ecdsa", "rsa3072"]
PAYLOAD = bytes(range(7, 7 + 16))  # a small file: flip every one of its bits


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """One key pair per type (RSA made once per module), unencrypted."""
    d = tmp_path_factory.mktemp("keys")
    env = {"VOUCH_KEY_LOG": str(d / "keygen.log")}
    out = {}
    for t in KEY_TYPES + ["ed25519-b"]:
        ktype = t.split("-")[0]
        run([binary("vouch"), "keygen", "--type", ktype, "--out", d / t, "--no-passphrase"],
            env=env, check=0)
        out[t] = (d / t, d / f"{t}.pub")
    return out


@pytest.fixture
def signed(tmp_path, vouch, keys):
    """fw.bin signed by ed25519 -> (file, sig)."""
    f = tmp_path / "fw.bin"
    f.write_bytes(PAYLOAD)
    vouch("sign", "--key", keys["ed25519"][0], f, check=0)
    return f, pathlib.Path(str(f) + ".sig")


def verify_rc(exe, file, sig, pubs, threshold=None):
    args = [exe, "verify", "--sig", str(sig)]
    for p in pubs:
        args += ["--key", str(p)]
    if threshold:
        args += ["--threshold", str(threshold)]
    args.append(str(file))
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def all_rejected(exe, cases, pubs):
    """cases: list of (label, file, sig). Each must exit exactly 1 (a crash
    would be a negative code) and never print OK."""
    def one(case):
        label, f, s = case
        rc, out, err = verify_rc(exe, f, s, pubs)
        return label, rc, out, err

    bad = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for label, rc, out, err in pool.map(one, cases):
            if rc != 1 or "OK" in out or not err.startswith("vouch: "):
                bad.append((label, rc, out, err))
    assert not bad, f"{len(bad)} of {len(cases)} not rejected, e.g. {bad[:3]}"


@pytest.mark.parametrize("ktype", KEY_TYPES)
def test_sign_verify_each_key_type(tmp_path, vouch, keys, ktype):
    priv, pub = keys[ktype]
    f = tmp_path / "release.tar"
    f.write_bytes(os.urandom(300_000))
    r = vouch("sign", "--key", priv, f, check=0)
    sig = tmp_path / "release.tar.sig"
    doc = json.loads(sig.read_text())
    assert doc["signed"]["_type"] == "vouch-file-signature"
    assert doc["signed"]["name"] == "release.tar"
    assert doc["signed"]["length"] == 300_000
    import hashlib
    data = f.read_bytes()
    assert doc["signed"]["hashes"] == {"sha256": hashlib.sha256(data).hexdigest(),
                                       "sha512": hashlib.sha512(data).hexdigest()}
    keyid = vouch("key", "id", pub, check=0).stdout.strip()
    assert [s["keyid"] for s in doc["signatures"]] == [keyid]
    assert "signed by" in r.stderr
    r = vouch("verify", "--key", pub, f, check=0)
    assert r.stdout == "OK\n"
    # options in any order, --sig explicit
    vouch("verify", f, "--sig", sig, "--key", pub, check=0)
    # another key type does not verify it
    other = keys["ed25519-b"][1]
    r = vouch("verify", "--key", other, f, check=1)
    assert "signature threshold 1 not met (0 valid of 1 key)" in r.stderr


def test_every_file_bit_flip_rejected(tmp_path, keys, vouch):
    exe = binary("vouch")
    cases = []
    for ktype in KEY_TYPES:
        d = tmp_path / ktype
        d.mkdir()
        good = d / "fw.bin"
        good.write_bytes(PAYLOAD)
        vouch("sign", "--key", keys[ktype][0], good, check=0)
        sig = d / "fw.bin.sig"
        for bit in range(len(PAYLOAD) * 8):
            sub = d / f"flip{bit}"
            sub.mkdir()
            f = sub / "fw.bin"
            b = bytearray(PAYLOAD)
            b[bit // 8] ^= 1 << (bit % 8)
            f.write_bytes(bytes(b))
            cases.append((f"{ktype} file bit {bit}", f, sig))
        rc, out, _ = verify_rc(exe, good, sig, [keys[ktype][1]])
        assert (rc, out) == (0, "OK\n")
        all_rejected(exe, cases, [keys[ktype][1]])
        cases = []
    # the reason names the hash
    f = tmp_path / "ed25519" / "flip0" / "fw.bin"
    rc, _, err = verify_rc(exe, f, tmp_path / "ed25519" / "fw.bin.sig", [keys["ed25519"][1]])
    assert rc == 1
    assert "fw.bin: sha256 does not match the signature file (file changed since signing?)" \
        in err


def test_appended_and_truncated_file_rejected(signed, vouch, keys):
    f, sig = signed
    f.write_bytes(PAYLOAD + b"\0")
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "fw.bin: longer than the 16 bytes signed" in r.stderr
    f.write_bytes(PAYLOAD[:-1])
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "fw.bin: 15 bytes, shorter than the 16 bytes signed" in r.stderr
    f.write_bytes(b"")
    vouch("verify", "--key", keys["ed25519"][1], f, check=1)


@pytest.mark.parametrize("ktype", KEY_TYPES)
def test_every_signature_bit_flip_rejected(tmp_path, vouch, keys, ktype):
    exe = binary("vouch")
    f = tmp_path / "fw.bin"
    f.write_bytes(PAYLOAD)
    vouch("sign", "--key", keys[ktype][0], f, check=0)
    doc = json.loads((tmp_path / "fw.bin.sig").read_text())
    sig = bytes.fromhex(doc["signatures"][0]["sig"])
    cases = []
    for bit in range(len(sig) * 8):  # every bit, the 3072 of RSA too
        b = bytearray(sig)
        b[bit // 8] ^= 1 << (bit % 8)
        d = json.loads(json.dumps(doc))
        d["signatures"][0]["sig"] = b.hex()
        p = tmp_path / f"s{bit}.sig"
        p.write_text(json.dumps(d))
        cases.append((f"{ktype} sig bit {bit}", f, p))
    all_rejected(exe, cases, [keys[ktype][1]])


def test_signature_file_text_bit_flips_rejected(signed, keys):
    """Flips in the JSON text: every bit of each structural byte, key name,
    file name and length; every 4th bit of hex digits and whitespace (the
    hex values get every bit flipped semantically in the tests around).
    Invalid JSON, unknown fields, a changed name, length or hash, uppercase
    hex: all exit 1."""
    exe = binary("vouch")
    f, sig = signed
    text = sig.read_bytes()
    sparse = set(b"0123456789abcdef \n")
    cases = []
    d = sig.parent / "flips"
    d.mkdir()
    for byte in range(len(text)):
        for bit in range(8):
            if text[byte] in sparse and (byte * 8 + bit) % 4:
                continue
            b = bytearray(text)
            b[byte] ^= 1 << bit
            p = d / f"{byte}.{bit}.sig"
            p.write_bytes(bytes(b))
            cases.append((f"text byte {byte} bit {bit} ({chr(text[byte])!r})", f, p))
    assert len(cases) > 1500
    all_rejected(exe, cases, [keys["ed25519"][1]])


def test_signed_part_field_flips_rejected(signed, keys):
    """Semantic flips of "signed": each bit of the length, of sha256 and sha512,
    and of the name; the file is left intact, so only the signature check can
    catch them."""
    exe = binary("vouch")
    f, sig = signed
    doc = json.loads(sig.read_text())
    cases = []
    d = sig.parent / "fields"
    d.mkdir()

    def add(label, mutate):
        x = json.loads(json.dumps(doc))
        mutate(x["signed"])
        p = d / f"{len(cases)}.sig"
        p.write_text(json.dumps(x))
        cases.append((label, f, p))

    for bit in range(63):
        add(f"length bit {bit}", lambda s, bit=bit: s.update(length=s["length"] ^ (1 << bit)))
    for alg in ("sha256", "sha512"):
        raw = bytes.fromhex(doc["signed"]["hashes"][alg])
        for bit in range(len(raw) * 8):
            b = bytearray(raw)
            b[bit // 8] ^= 1 << (bit % 8)
            add(f"{alg} bit {bit}", lambda s, alg=alg, h=b.hex(): s["hashes"].update({alg: h}))
    name = doc["signed"]["name"].encode()
    for bit in range(len(name) * 8):
        b = bytearray(name)
        b[bit // 8] ^= 1 << (bit % 8)
        add(f"name bit {bit}", lambda s, n=b.decode("latin-1"): s.update(name=n))
    all_rejected(exe, cases, [keys["ed25519"][1]])
    rc, _, err = verify_rc(exe, f, cases[0][2], [keys["ed25519"][1]])
    assert "signature threshold 1 not met (0 valid of 1 key)" in err


def test_wrong_key(signed, vouch, keys):
    f, _ = signed
    for other in ("ed25519-b", "ecdsa", "rsa3072"):
        r = vouch("verify", "--key", keys[other][1], f, check=1)
        assert "signature threshold 1 not met (0 valid of 1 key)" in r.stderr
    # a private key where a public key belongs is not accepted silently
    r = vouch("verify", "--key", keys["ed25519-b"][0], f)
    assert r.returncode != 0


def test_truncated_signature_file(signed, vouch, keys):
    f, sig = signed
    text = sig.read_bytes()
    for cut in (0, 1, len(text) // 3, len(text) // 2, len(text) - 2):
        sig.write_bytes(text[:cut])
        r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
        assert r.stderr.startswith("vouch: ")
    sig.write_bytes(text[:-1])  # only the final newline gone: still the same JSON
    vouch("verify", "--key", keys["ed25519"][1], f, check=0)


def test_oversized_signature_file(signed, vouch, keys):
    f, sig = signed
    doc = json.loads(sig.read_text())
    # valid JSON padded past 64 KiB
    sig.write_text(json.dumps(doc) + " " * (64 * 1024))
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "larger than the limit of 65536 bytes" in r.stderr
    # 65 signatures
    doc["signatures"] = doc["signatures"] * 65
    sig.write_text(json.dumps(doc))
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "more than 64 signatures" in r.stderr
    # one signature longer than any key makes
    doc["signatures"] = [{"keyid": doc["signatures"][0]["keyid"], "sig": "ab" * 1025}]
    sig.write_text(json.dumps(doc))
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "longer than 1024 bytes" in r.stderr
    # signing onto an oversized file is refused too
    sig.write_text(" " * (64 * 1024 + 1))
    r = vouch("sign", "--key", keys["ed25519"][0], f, check=1)
    assert "larger than the limit" in r.stderr


@pytest.mark.parametrize("text,msg", [
    ("", "malformed JSON"),
    ("{", "malformed JSON"),
    ("null", "must be a JSON object"),
    ('{"signed": {}, "signatures": []}', "'signed' lacks the field"),
    ('{"signed": 1, "signatures": []}', "'signed' must be an object"),
    ("{} {}", "malformed JSON"),
    ("\x00", "malformed JSON"),
    ("[" * 5000, "nested deeper"),
])
def test_malformed_signature_file(signed, vouch, keys, text, msg):
    f, sig = signed
    sig.write_text(text)
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert msg in r.stderr


def test_trailing_garbage_and_duplicate_keys(signed, vouch, keys):
    f, sig = signed
    text = sig.read_text()
    sig.write_text(text + "x")
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "malformed JSON" in r.stderr
    # a duplicate "length" inside "signed" (a parser that kept the last one
    # would see another length than the one signed)
    sig.write_text(text.replace('"length": 16,', '"length": 16, "length": 17,'))
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "duplicate" in r.stderr
    sig.write_text(text.replace('"signatures": [', '"signatures": [], "signatures": ['))
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "duplicate" in r.stderr
    # an unknown field in "signed"
    sig.write_text(text.replace('"length": 16,', '"length": 16, "expires": "2099",'))
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "'signed' has an unknown field" in r.stderr


def test_threshold_not_met_by_one_key_signing_twice(signed, vouch, keys):
    f, sig = signed
    doc = json.loads(sig.read_text())
    doc["signatures"] = doc["signatures"] * 2  # the same entry twice
    sig.write_text(json.dumps(doc))
    r = vouch("verify", "--key", keys["ed25519"][1], "--key", keys["ecdsa"][1],
              "--threshold", "2", f, check=1)
    assert "signature threshold 2 not met (1 valid of 2 keys)" in r.stderr
    # threshold 1 is still met by it
    vouch("verify", "--key", keys["ed25519"][1], f, check=0)


def test_threshold_with_two_distinct_keys(signed, vouch, keys):
    f, sig = signed
    pubs = ["--key", keys["ed25519"][1], "--key", keys["rsa3072"][1], "--key", keys["ecdsa"][1]]
    r = vouch("verify", *pubs, "--threshold", "2", f, check=1)
    assert "signature threshold 2 not met (1 valid of 3 keys)" in r.stderr
    vouch("sign", f, "--key", keys["rsa3072"][0], check=0)
    assert len(json.loads(sig.read_text())["signatures"]) == 2
    r = vouch("verify", *pubs, "--threshold", "2", f, check=0)
    assert r.stdout == "OK\n"
    vouch("verify", *pubs, "--threshold", "3", f, check=1)
    # the same key signing again replaces its entry
    vouch("sign", f, "--key", keys["rsa3072"][0], check=0)
    assert len(json.loads(sig.read_text())["signatures"]) == 2
    vouch("sign", f, "--key", keys["ecdsa"][0], check=0)
    vouch("verify", *pubs, "--threshold", "3", f, check=0)
    r = vouch("verify", *pubs, "--threshold", "2", "--json", f, check=0)
    j = json.loads(r.stdout)
    assert j["ok"] is True and j["valid"] == 3 and j["threshold"] == 2
    assert j["name"] == "fw.bin" and j["length"] == len(PAYLOAD)


def test_key_listed_twice_counts_once(signed, vouch, keys):
    f, _ = signed
    pub = keys["ed25519"][1]
    r = vouch("verify", "--key", pub, "--key", pub, "--threshold", "2", f, check=1)
    assert "signature threshold 2 not met (1 valid of 1 key)" in r.stderr
    # the same key under another file name (TUF JSON form) is the same key id
    tuf = pathlib.Path(str(pub) + ".json")
    tuf.write_text(vouch("key", "show", pub, "--json", check=0).stdout)
    r = vouch("verify", "--key", pub, "--key", tuf, "--threshold", "2", f, check=1)
    assert "signature threshold 2 not met (1 valid of 1 key)" in r.stderr


def test_missing_signature_file(tmp_path, vouch, keys):
    f = tmp_path / "fw.bin"
    f.write_bytes(PAYLOAD)
    r = vouch("verify", "--key", keys["ed25519"][1], f, check=1)
    assert "fw.bin.sig: no signature file" in r.stderr
    r = vouch("verify", "--key", keys["ed25519"][1], "--sig", tmp_path / "x.sig", f, check=1)
    assert "x.sig: no signature file" in r.stderr
    r = vouch("verify", "--key", keys["ed25519"][1], "--json", f, check=1)
    j = json.loads(r.stdout)
    assert j["ok"] is False and j["error"] == "verify"


def test_renamed_file_and_other_signature_rejected(tmp_path, vouch, keys):
    a, b = tmp_path / "app-1.0.bin", tmp_path / "app-2.0.bin"
    a.write_bytes(b"old release")
    b.write_bytes(b"new release")
    vouch("sign", "--key", keys["ed25519"][0], a, check=0)
    vouch("sign", "--key", keys["ed25519"][0], b, check=0)
    # the old release passed off under the new name with its own valid .sig
    (tmp_path / "app-2.0.bin").write_bytes(b"old release")
    r = vouch("verify", "--key", keys["ed25519"][1], "--sig", str(a) + ".sig", b, check=1)
    assert "the signature file is for 'app-1.0.bin', not 'app-2.0.bin'" in r.stderr


def test_sign_onto_signature_of_changed_file_refused(signed, vouch, keys):
    f, sig = signed
    before = sig.read_bytes()
    f.write_bytes(PAYLOAD + b"!")
    r = vouch("sign", "--key", keys["ecdsa"][0], f, check=1)
    assert "describes another file" in r.stderr and "file changed" in r.stderr
    assert sig.read_bytes() == before
    # a malformed existing signature file is not overwritten either
    sig.write_text("{")
    vouch("sign", "--key", keys["ecdsa"][0], f, check=1)
    assert sig.read_text() == "{"


def test_sign_out_and_passphrase(tmp_path, vouch):
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    vouch("keygen", "--out", tmp_path / "enc", "--passphrase-file", pw, check=0)
    f = tmp_path / "data.bin"
    f.write_bytes(b"x" * 1000)
    out = tmp_path / "sigs" / "data.sig"
    out.parent.mkdir()
    vouch("sign", "--key", tmp_path / "enc", "--passphrase-file", pw, "--out", out, f, check=0)
    assert out.exists() and not (tmp_path / "data.bin.sig").exists()
    vouch("verify", "--key", tmp_path / "enc.pub", "--sig", out, f, check=0)
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    r = vouch("sign", "--key", tmp_path / "enc", "--passphrase-file", bad, "--out",
              tmp_path / "x.sig", f)
    assert r.returncode == 1, r.stderr
    assert not (tmp_path / "x.sig").exists()
    log = [json.loads(line) for line in vouch.log.read_text().splitlines()]
    fails = [e for e in log if e["operation"] == "sign" and e["result"] == "error"]
    assert len(fails) == 1 and fails[0]["subject"]["name"] == "data.bin"
    assert fails[0]["key_location"].endswith("/enc")


def test_usage_and_io_errors(tmp_path, vouch, keys):
    f = tmp_path / "fw.bin"
    f.write_bytes(PAYLOAD)
    pub = keys["ed25519"][1]
    vouch("sign", f, check=2)  # no --key
    vouch("sign", "--key", keys["ed25519"][0], check=2)  # no FILE
    vouch("sign", "--key", keys["ed25519"][0], f, f, check=2)
    vouch("sign", "--bogus", f, check=2)
    vouch("sign", f, "--key", check=2)
    vouch("verify", f, check=2)
    vouch("verify", "--key", pub, check=2)
    for t in ("0", "65", "x", "-1", "1.5", ""):
        vouch("verify", "--key", pub, "--threshold", t, f, check=2)
    # system errors: the file to sign does not exist, the key does not exist
    r = vouch("sign", "--key", keys["ed25519"][0], tmp_path / "nope", check=3)
    assert "nope" in r.stderr
    vouch("sign", "--key", tmp_path / "nokey", f, check=3)
    vouch("verify", "--key", tmp_path / "nokey.pub", f, check=3)


def test_help(vouch):
    r = vouch("sign", "--help", check=0)
    assert r.stdout.startswith("Usage: vouch sign --key PATH|URI")
    for opt in ("--passphrase-file", "--pkcs11-module", "--out SIG", "--log PATH"):
        assert opt in r.stdout
    assert "a second" not in r.stderr
    r = vouch("verify", "--help", check=0)
    assert r.stdout.startswith("Usage: vouch verify --key PUB [--key PUB ...]")
    for opt in ("--threshold N", "--sig SIG", "--json"):
        assert opt in r.stdout
    r = vouch("sign", "-h", check=0)
    assert "Exit codes" in r.stdout


def test_concurrent_signers_of_one_file_keep_all_signatures(tmp_path, vouch, keys):
    """Three signers adding to the same .sig files at once: no signature is
    lost (the read-extend-replace of a .sig is one locked step)."""
    files = []
    for i in range(15):
        f = tmp_path / f"fw{i}.bin"
        f.write_bytes(PAYLOAD + bytes([i]))
        files.append(str(f))
    script = ("import subprocess, sys\n"
              "exe, key = sys.argv[1], sys.argv[2]\n"
              "for f in sys.argv[3:]:\n"
              "    subprocess.run([exe, 'sign', '--key', key, f], check=True,\n"
              "                   capture_output=True)\n")
    env = {**os.environ, "VOUCH_KEY_LOG": str(vouch.log)}
    signers = ("ed25519", "ecdsa", "ed25519-b")
    procs = [subprocess.Popen(["/usr/bin/python3", "-c", script, vouch.exe, str(keys[k][0]),
                               *files], env=env)
             for k in signers]
    for p in procs:
        assert p.wait(timeout=120) == 0
    pubs = [a for k in signers for a in ("--key", keys[k][1])]
    lost = [f for f in files
            if len(json.loads(pathlib.Path(f + ".sig").read_text())["signatures"]) != 3]
    assert not lost, f"signatures lost in {len(lost)} of {len(files)} files"
    for f in files:
        vouch("verify", *pubs, "--threshold", "3", f, check=0)
    r = vouch("log", "verify", check=0)
    assert r.stdout.startswith("OK: 45 entries")


def test_endless_input_is_not_read_to_the_end(signed, vouch, keys):
    """verify reads at most the signed length plus one byte."""
    _, sig = signed
    r = vouch("verify", "--key", keys["ed25519"][1], "--sig", sig, "/dev/zero", check=1,
              timeout=20)
    assert "/dev/zero: longer than the 16 bytes signed" in r.stderr


def test_one_key_in_two_spellings_counts_once(tmp_path, vouch, keys):
    """The same ECDSA key written with TUF's legacy keytype has another key
    id; listing both spellings and carrying the signature under both ids
    must not meet a threshold of 2."""
    f = tmp_path / "fw.bin"
    f.write_bytes(PAYLOAD)
    vouch("sign", "--key", keys["ecdsa"][0], f, check=0)
    sig = pathlib.Path(str(f) + ".sig")
    pub = keys["ecdsa"][1]
    key = json.loads(vouch("key", "show", pub, "--json", check=0).stdout)["key"]
    legacy = dict(key, keytype="ecdsa-sha2-nistp256")
    lpath = tmp_path / "legacy.json"
    lpath.write_text(json.dumps(legacy))
    lid = vouch("key", "id", lpath, check=0).stdout.strip()
    assert lid != vouch("key", "id", pub, check=0).stdout.strip()
    doc = json.loads(sig.read_text())
    doc["signatures"].append({"keyid": lid, "sig": doc["signatures"][0]["sig"]})
    sig.write_text(json.dumps(doc))
    # Each spelling alone verifies: the signature is valid under both ids.
    vouch("verify", "--key", lpath, f, check=0)
    r = vouch("verify", "--key", pub, "--key", lpath, "--threshold", "2", f, check=1)
    assert "signature threshold 2 not met (1 valid of 1 key)" in r.stderr
