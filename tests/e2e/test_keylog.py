"""The key usage log end to end: `vouch sign` logs every signature and every
failed attempt; `vouch log verify` names the first bad line of an edited,
removed, reordered or truncated log; concurrent signers keep the chain."""
import json
import pathlib
import subprocess
import sys

import pytest

from conftest import binary, run


@pytest.fixture
def signer(tmp_path, vouch):
    """An unencrypted ed25519 key and a log with keygen + 5 sign entries."""
    vouch("keygen", "--out", tmp_path / "k", "--no-passphrase", check=0)
    for i in range(5):
        f = tmp_path / f"f{i}.bin"
        f.write_bytes(b"release %d" % i)
        vouch("sign", "--key", tmp_path / "k", f, check=0)
    return tmp_path / "k"


def lines(vouch):
    return vouch.log.read_bytes().splitlines(keepends=True)


def head(vouch):
    return pathlib.Path(str(vouch.log) + ".head")


def write(vouch, ls):
    vouch.log.write_bytes(b"".join(ls))


def bad(vouch, n, text):
    r = vouch("log", "verify", check=1)
    assert f"line {n}: " in r.stderr, r.stderr
    assert text in r.stderr, r.stderr
    return r


def test_entries_and_show(tmp_path, vouch, signer):
    r = vouch("log", "verify", check=0)
    assert r.stdout.startswith("OK: 6 entries, last sha256 ")
    entries = [json.loads(x) for x in lines(vouch)]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0]["operation"] == "keygen"
    assert entries[0]["prev"] == "0" * 64
    import hashlib
    for a, b in zip(lines(vouch), entries[1:]):
        assert b["prev"] == hashlib.sha256(a).hexdigest()
    keyid = vouch("key", "id", str(signer) + ".pub", check=0).stdout.strip()
    s = entries[1]
    assert s["operation"] == "sign" and s["result"] == "ok" and s["error"] is None
    assert s["key_id"] == keyid
    assert s["key_location"] == f"file:{signer}"
    assert s["subject"] == {"name": "f0.bin",
                            "sha256": hashlib.sha256(b"release 0").hexdigest()}
    assert s["time"].endswith("Z") and s["user"] and s["host"]
    # show: a table, and JSON
    r = vouch("log", "show", check=0)
    out = r.stdout.splitlines()
    assert out[0].split()[:3] == ["LINE", "TIME", "(UTC)"]
    assert len(out) == 7 and "f4.bin" in out[6] and keyid[:16] in out[6]
    r = vouch("log", "show", "--json", check=0)
    assert json.loads(r.stdout) == entries
    # --log picks another file
    other = tmp_path / "other.log"
    vouch("log", "verify", "--log", other, check=3)
    f = tmp_path / "x.bin"
    f.write_bytes(b"x")
    vouch("sign", "--key", signer, "--log", other, f, check=0)
    r = vouch("log", "show", "--json", "--log", other, check=0)
    assert len(json.loads(r.stdout)) == 1
    assert len(lines(vouch)) == 6


def test_failed_attempts_are_logged(tmp_path, vouch, signer):
    f = tmp_path / "f0.bin"
    f.write_bytes(b"changed")  # its .sig now describes another file
    vouch("sign", "--key", signer, f, check=1)
    g = tmp_path / "new.bin"
    g.write_bytes(b"new")
    vouch("sign", "--key", tmp_path / "missing-key", g, check=3)
    e = [json.loads(x) for x in lines(vouch)][-2:]
    assert [x["result"] for x in e] == ["error", "error"]
    assert "describes another file" in e[0]["error"]
    assert e[1]["key_location"] == f"file:{tmp_path / 'missing-key'}"
    assert e[1]["subject"]["name"] == "new.bin"
    vouch("log", "verify", check=0)


@pytest.mark.parametrize("kind", ["x25519", "p256"])
def test_recipient_keygen_is_logged(tmp_path, vouch, kind):
    """Encryption (recipient) keys are keys too: their generation and a
    refused generation are in the chain like those of signing keys."""
    out = vouch("keygen", "--type", kind, "--out", tmp_path / "dev", "--no-passphrase",
                check=0).stdout
    keyid = out.split("keyid: ")[1].split()[0]
    vouch("keygen", "--type", kind, "--out", tmp_path / "dev", "--no-passphrase", check=3)
    e = [json.loads(x) for x in lines(vouch)]
    assert [(x["operation"], x["result"]) for x in e] == [("keygen", "ok"), ("keygen", "error")]
    assert e[0]["key_id"] == keyid
    assert e[0]["key_location"] == f"file:{tmp_path / 'dev'}"
    assert "already exists" in e[1]["error"]
    vouch("log", "verify", check=0)


def test_pin_never_logged(tmp_path, vouch):
    f = tmp_path / "fw.bin"
    f.write_bytes(b"fw")
    uri = "pkcs11:token=nosuch;object=k;pin-value=pin-q987654"
    r = vouch("sign", "--key", uri, "--pkcs11-module", "/nonexistent/module.so", f)
    assert r.returncode in (1, 2, 3)
    text = vouch.log.read_text()
    assert "pin-q987654" not in text and "pin-value" not in text
    assert "pkcs11:token=nosuch;object=k" in text


def test_edited_line(vouch, signer):
    ls = lines(vouch)
    ls[2] = ls[2].replace(b'"result":"ok"', b'"result":"error"').replace(
        b'"error":null', b'"error":"x"')
    write(vouch, ls)
    bad(vouch, 3, "edited")


def test_edited_last_line(vouch, signer):
    ls = lines(vouch)
    ls[-1] = ls[-1].replace(b"f4.bin", b"f9.bin")
    write(vouch, ls)
    bad(vouch, 6, "edited (its sha256 does not match the head file")


def test_removed_line(vouch, signer):
    ls = lines(vouch)
    del ls[3]
    write(vouch, ls)
    bad(vouch, 4, "entry number 5, expected 4")


def test_removed_first_line(vouch, signer):
    write(vouch, lines(vouch)[1:])
    bad(vouch, 1, "entry number 2, expected 1")


def test_reordered_lines(vouch, signer):
    ls = lines(vouch)
    ls[1], ls[4] = ls[4], ls[1]
    write(vouch, ls)
    bad(vouch, 2, "entry number 5, expected 2")


def test_renumbered_after_removal(vouch, signer):
    """Removing line 3 and renumbering the rest still breaks the chain."""
    ls = [json.loads(x) for x in lines(vouch)]
    del ls[2]
    for i, e in enumerate(ls):
        e["seq"] = i + 1
    write(vouch, [json.dumps(e, separators=(",", ":"), sort_keys=True).encode() + b"\n"
                  for e in ls])
    bad(vouch, 2, "edited")


def test_truncated_last_line(vouch, signer):
    data = vouch.log.read_bytes()
    vouch.log.write_bytes(data[:-30])
    r = bad(vouch, 6, "incomplete")
    assert "truncated" in r.stderr
    # signing refuses to build on a damaged log
    r = vouch("sign", "--key", signer, str(signer) + ".pub", check=1)
    assert "key log" in r.stderr
    assert not pathlib.Path(str(signer) + ".pub.sig").exists()


def test_removed_last_lines(vouch, signer):
    ls = lines(vouch)
    write(vouch, ls[:-2])
    bad(vouch, 5, "missing (the head file records 6 entries, the log has 4")
    write(vouch, [])
    bad(vouch, 1, "missing")
    vouch.log.unlink()
    bad(vouch, 1, "missing")


def test_head_deleted(vouch, signer):
    head(vouch).unlink()
    bad(vouch, 2, "not recorded in the head file")


def test_log_usage(vouch):
    vouch("log", check=2)
    vouch("log", "frobnicate", check=2)
    vouch("log", "verify", "--json", check=2)
    r = vouch("log", "--help", check=0)
    assert "vouch log show" in r.stdout and "vouch log verify" in r.stdout
    vouch("log", "show", "--help", check=0)
    r = vouch("log", "verify", check=3)
    assert "no key log" in r.stderr


CONCURRENT = r"""
import subprocess, sys
exe, key, file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for i in range(n):
    subprocess.run([exe, "sign", "--key", key, file], check=True, capture_output=True)
"""


def test_two_concurrent_signers(tmp_path, vouch):
    vouch("keygen", "--out", tmp_path / "a", "--no-passphrase", check=0)
    vouch("keygen", "--type", "ecdsa", "--out", tmp_path / "b", "--no-passphrase", check=0)
    env = {"VOUCH_KEY_LOG": str(vouch.log)}
    procs = []
    for name in ("a", "b"):
        f = tmp_path / f"{name}.bin"
        f.write_bytes(name.encode() * 1000)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, vouch.exe, tmp_path / name, f, "20"],
            env={**__import__("os").environ, **env}))
    for p in procs:
        assert p.wait(timeout=120) == 0
    r = vouch("log", "verify", check=0)
    assert r.stdout.startswith("OK: 42 entries")
    entries = json.loads(vouch("log", "show", "--json", check=0).stdout)
    signs = [e for e in entries if e["operation"] == "sign" and e["result"] == "ok"]
    assert len(signs) == 40
    assert {e["subject"]["name"] for e in signs} == {"a.bin", "b.bin"}
    for name in ("a", "b"):
        vouch("verify", "--key", tmp_path / f"{name}.pub", tmp_path / f"{name}.bin", check=0)


def test_power_cut_at_every_write_of_sign(tmp_path, vouch):
    """A cut at each write, fsync and rename of `vouch sign` (fault injection
    build) leaves a log that verifies (at most its head one entry behind) and
    a signature file that is absent or valid; the next sign works."""
    vouch("keygen", "--out", tmp_path / "k", "--no-passphrase", check=0)
    count_file = tmp_path / "count"
    f = tmp_path / "fw.bin"
    f.write_bytes(b"firmware")
    vouch("sign", "--key", tmp_path / "k", f, check=0,
          env={"VOUCH_FAULT_COUNT_FILE": str(count_file)})
    if not count_file.exists():
        pytest.skip("build without -Dfault_injection=true")
    points = int(count_file.read_text())
    assert points >= 6  # log line write + fsync, head and .sig: write, fsync, rename, dir
    sig = pathlib.Path(str(f) + ".sig")
    for cut in range(1, points + 1):
        sig.unlink(missing_ok=True)
        r = vouch("sign", "--key", tmp_path / "k", f, env={"VOUCH_FAULT_CUT_AT": str(cut)})
        assert r.returncode == 99, (cut, r.stderr)
        vouch("log", "verify", check=0)
        if sig.exists():
            vouch("verify", "--key", tmp_path / "k.pub", f, check=0)
        vouch("sign", "--key", tmp_path / "k", f, check=0)
        vouch("verify", "--key", tmp_path / "k.pub", f, check=0)
        vouch("log", "verify", check=0)
