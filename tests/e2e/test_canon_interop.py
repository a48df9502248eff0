"""Canonical JSON and TUF key ids: vouch against independent implementations.

vouch's canonical bytes (tests/tools/canon, which calls vouch_canon_encode)
are compared byte for byte with @tufjs/canonical-json on a corpus of
documents, and vouch's key ids (`vouch key id`, `vouch key show --json`) with
the ids @tufjs/models computes for the same keys; @tufjs/models also verifies
vouch's signatures over the canonical `signed` part.

JavaScript sorts object keys by UTF-16 code units, OLPC/securesystemslib (and
vouch) by UTF-8 bytes (= code points). The two disagree only when a character
in U+E000..U+FFFF is compared with one above U+FFFF; the corpus compared with
Node keeps clear of that, and those documents are checked against Python's
code-point order (securesystemslib's) and fixed strings in
tests/unit/test_json.c instead.
"""
import hashlib
import json
import random

import pytest

from conftest import BUILD, binary, node, run

JS_SAFE = 2**53 - 1


def canon_tool():
    p = BUILD / "tests" / "tools" / "canon"
    if not p.exists():
        pytest.skip(f"{p} not built (tests disabled?)")
    return str(p)


def vouch_canon(path):
    """(exit code, canonical bytes, stderr) of vouch for the file at path."""
    import subprocess
    p = subprocess.run([canon_tool(), str(path)], capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


# ---- the corpus -----------------------------------------------------------

KEYID = "4ef5bb3d874885be40518d233c762fbc455e382989b4435f74379f70212ffe1a"


def tuf_documents():
    """TUF-like metadata as a repository would hold it (pretty, unsorted)."""
    role = {"threshold": 2, "keyids": [KEYID, "ab" * 32]}
    root = {
        "signed": {
            "version": 3, "spec_version": "1.0.31", "_type": "root",
            "expires": "2030-01-01T00:00:00Z", "consistent_snapshot": True,
            "keys": {
                KEYID: {"scheme": "ed25519", "keytype": "ed25519",
                        "keyval": {"public": "2ec03df3e4ffb9058d3bfca640a9e5d4cebe4d8159168373598541252dbcbcd8"}},
                "ab" * 32: {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                            "keyval": {"public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOZ7ew2Q6e/fXJvAdJaEFotgrOAYd\nFS4qe3rtckqk/ChU7ZDRRLoWM2zV7uZZlETaW25ikyCY1Bq2UlvuC9XuQA==\n-----END PUBLIC KEY-----\n"}},
            },
            "roles": {r: role for r in ("timestamp", "snapshot", "targets", "root")},
        },
        "signatures": [{"sig": "00" * 64, "keyid": KEYID}],
    }
    targets = {
        "signatures": [],
        "signed": {
            "_type": "targets", "version": 12, "spec_version": "1.0.31",
            "expires": "2027-06-30T12:00:00Z",
            "targets": {
                f"{tier}/image-{i}.bin": {
                    "length": 1048576 * i + 7,
                    "hashes": {"sha512": f"{i:02x}" * 64, "sha256": f"{i:02x}" * 32},
                    "custom": {"vouch": {"version": f"2.{i}", "security_version": i,
                                         "hardware": ["rpi4", "imx8-evk"], "tier": tier,
                                         "format": "raw" if i % 2 else "delta",
                                         "delta_base": "ff" * 32}},
                }
                for i, tier in enumerate(["os", "app", "bootloader", "config", "driver"], 1)
            },
            "delegations": {
                "keys": {},
                "roles": [{"name": t, "keyids": [KEYID], "threshold": 1, "terminating": True,
                           "paths": [f"{t}/*", f"{t}/*/*"]} for t in ("app", "os")],
            },
        },
    }
    snapshot = {"signed": {"_type": "snapshot", "version": 99, "expires": "2026-12-01T00:00:00Z",
                           "spec_version": "1.0.31",
                           "meta": {"targets.json": {"version": 12},
                                    "app.json": {"version": 4, "length": 1234,
                                                 "hashes": {"sha256": "12" * 32}}}},
                "signatures": [{"keyid": KEYID, "sig": "1f" * 64}]}
    timestamp = {"signed": {"_type": "timestamp", "version": 1000, "expires": "2026-11-23T00:00:00Z",
                            "spec_version": "1.0.31",
                            "meta": {"snapshot.json": {"version": 99}}},
                 "signatures": []}
    sigfile = {"signed": {"_type": "vouch-file-signature", "name": "release 1.0 (final).tar",
                          "length": 0, "hashes": {"sha256": "e3" * 32, "sha512": "cf" * 64}},
               "signatures": [{"keyid": KEYID, "sig": "ab" * 64}]}
    instructions = {"signed": {"_type": "director-instructions", "device": "dev-0001",
                               "nonce": "q1w2e3", "version": JS_SAFE, "expires": "2026-11-22T05:10:00Z",
                               "targets": [{"name": "app/x.tar", "length": 1, "hashes": {"sha256": "00" * 32},
                                            "urls": ["https://cdn.example/app/x.tar?sig=a%2Fb&x=\"y\""]}]},
                    "signatures": []}
    docs = {}
    for name, d in [("root", root), ("targets", targets), ("snapshot", snapshot),
                    ("timestamp", timestamp), ("sigfile", sigfile), ("instructions", instructions)]:
        docs[f"tuf_{name}_pretty.json"] = json.dumps(d, indent=2)
        docs[f"tuf_{name}_compact.json"] = json.dumps(d, separators=(",", ":"))
        docs[f"tuf_{name}_signed.json"] = json.dumps(d["signed"], indent="\t", ensure_ascii=False)
    return docs


def handwritten_documents():
    return {
        "empty_object.json": "{}",
        "empty_array.json": "[]",
        "empty_string.json": '""',
        "scalar_true.json": "true",
        "scalar_false.json": " false ",
        "scalar_null.json": "null",
        "scalar_int.json": "42",
        "scalar_neg.json": "-17",
        "empty_nested.json": '[{}, [], [[]], {"a": {}}, {"": []}, [{}]]',
        "ints.json": json.dumps([0, 1, -1, 10, -10, 255, 65536, 2**31 - 1, -2**31, 2**32,
                                 JS_SAFE, -JS_SAFE, 10**15]),
        "minus_zero.json": "[-0]",
        "key_order_ascii.json": '{"b":1,"a":2,"B":3,"A":4,"_":5,"1":6,"a1":7,"a_":8,"ab":9,"aa":0}',
        "key_prefixes.json": '{"abc":1,"ab":2,"a":3,"":4,"a b":5,"a\\tb":6,"abd":7}',
        "key_case.json": '{"Z":1,"z":2,"Ä":3,"ä":4,"É":5,"é":6}',
        "unicode_keys.json": '{"日本":1,"中文":2,"ελληνικά":3,"русский":4,"עברית":5,"😀":6,"𝄞":7,"a":8,"ß":9,"ÿ":10,"Ā":11,"ア":12}',
        "unicode_escaped_keys.json": '{"\\u00e9":1,"\\u65e5":2,"\\ud83d\\ude00":3,"\\u0041":4}',
        "unicode_values.json": json.dumps(["café", "日本語", "😀👍🏽", "\u2028\u2029", "\u00a0", "\ufeff",
                                           "\uffff", "\ue000"], ensure_ascii=False),
        "unicode_values_escaped.json": json.dumps(["café", "日本語", "😀", "\u2028", "\u0085"]),
        "escapes_quote_backslash.json": r'{"q\"k":"a\"b","b\\k":"c\\d","both":"\\\"\\\""}',
        "escapes_slash.json": r'["a/b", "a\/b", "\/\/"]',
        "escapes_control.json": json.dumps(["".join(chr(c) for c in range(1, 32)), "\x7f", "tab\there", "nl\nhere", "cr\rlf\n"]),
        "escapes_control_keys.json": json.dumps({"\n": 1, "\t": 2, "\x01": 3, " ": 4, "\x1f": 5}),
        "escapes_short_forms.json": r'["\b\f\n\r\t", "\u0008\u000c\u000a\u000d\u0009"]',
        "whitespace_everywhere.json": ' \r\n\t{ \r\n\t"a" \r\n\t: \r\n\t[ 1 , 2 ] , "b":{ } }\r\n ',
        "nested_deep.json": "[" * 60 + '{"k":"v"}' + "]" * 60,
        "nested_mixed.json": '{"a":[{"b":[{"c":[{"d":{"e":[1,{"f":null}]}}]}]}],"z":{"y":{"x":{"w":[]}}}}',
        "array_order.json": "[3,1,2,\"b\",\"a\",[2,1],{\"b\":1,\"a\":2}]",
        "long_string.json": json.dumps("x\"\\y" * 25000),
        "many_keys.json": json.dumps({f"k{i:05d}" if i % 2 else f"K{i}": i for i in range(2000)}),
        "big_array.json": json.dumps(list(range(-500, 500))),
        "booleans_nulls.json": '{"t":true,"f":false,"n":null,"arr":[true,false,null]}',
        "numbers_like_strings.json": '{"10":1,"9":2,"1":3,"01":4,"-1":5,"1e3":6}',
        "proto_keys.json": '{"__proto__":1,"constructor":2,"toString":3,"hasOwnProperty":4}',
    }


KEY_ALPHABET = (
    [chr(c) for c in range(0x20, 0x7f)]                     # ASCII printable incl. " and \
    + ["\x01", "\x1f", "\n", "\t", "\x7f"]                 # control characters and DEL
    + list("éßÿĀЖΩאع")                                      # Latin-1 and other 2-byte
    + list("日本語中文€₂") + ["\u2028", "\u0800", "\ud7ff"]  # 3-byte below U+E000
    + ["😀", "𝄞", "\U00010000", "\U0010fffd"]                # 4-byte (surrogate pairs in UTF-16)
)


def random_value(rng, depth):
    r = rng.random()
    if depth > 6 or r < 0.35:
        kind = rng.choice(["int", "str", "str", "bool", "null", "bigint"])
        if kind == "int":
            return rng.randint(-1000, 1000)
        if kind == "bigint":
            return rng.choice([JS_SAFE, -JS_SAFE, rng.randint(-JS_SAFE, JS_SAFE)])
        if kind == "str":
            return "".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(0, 12)))
        if kind == "bool":
            return rng.random() < 0.5
        return None
    if r < 0.65:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    obj = {}
    for _ in range(rng.randint(0, 7)):
        # Short keys from a small alphabet share prefixes often.
        k = "".join(rng.choice(KEY_ALPHABET[:6] + KEY_ALPHABET[-12:]) for _ in range(rng.randint(0, 3)))
        obj[k] = random_value(rng, depth + 1)
    return obj


def random_documents(n=150, seed=20261122):
    rng = random.Random(seed)
    docs = {}
    for i in range(n):
        v = random_value(rng, 0)
        style = i % 3
        if style == 0:
            text = json.dumps(v)  # \u escapes for everything non-ASCII
        elif style == 1:
            text = json.dumps(v, ensure_ascii=False, indent=1)  # raw UTF-8
        else:
            text = json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        docs[f"random_{i:03d}.json"] = text
    return docs


def olpc_python(value):
    """OLPC canonical JSON as securesystemslib computes it: keys sorted by
    code point, only '"' and '\\' escaped. Python's json escapes control
    characters, so this is only used on documents without them."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def has_control_chars(v):
    if isinstance(v, str):
        return any(ord(c) < 0x20 for c in v)
    if isinstance(v, list):
        return any(has_control_chars(x) for x in v)
    if isinstance(v, dict):
        return any(has_control_chars(k) or has_control_chars(x) for k, x in v.items())
    return False


def write_docs(directory, docs):
    directory.mkdir()
    for name, text in docs.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


# ---- documents --------------------------------------------------------------

def test_documents_match_tufjs_canonical_json(tmp_path):
    docs = {**tuf_documents(), **handwritten_documents(), **random_documents()}
    assert len(docs) >= 200
    d = write_docs(tmp_path / "docs", docs)
    out = tmp_path / "tufjs.json"
    node("canon.mjs", "docs", d, out)
    theirs = json.loads(out.read_text())
    mismatches = []
    for name in sorted(docs):
        assert "hex" in theirs[name], f"{name}: @tufjs/canonical-json failed: {theirs[name]}"
        rc, ours, err = vouch_canon(d / name)
        assert rc == 0, f"{name}: vouch refused it: {err}"
        if ours != bytes.fromhex(theirs[name]["hex"]):
            mismatches.append(name)
    assert not mismatches, f"canonical bytes differ from @tufjs/canonical-json for {mismatches}"


def test_python_securesystemslib_order_where_utf16_differs(tmp_path):
    """Keys with characters in U+E000..U+FFFF next to characters above
    U+FFFF: vouch must follow UTF-8/code-point order (securesystemslib, the
    reference TUF implementation); JavaScript's UTF-16 sort differs, which
    the comparison with Node below demonstrates."""
    docs = {
        "ffff_vs_10000.json": {"\uffff": 1, "\U00010000": 2},
        "e000_vs_1f600.json": {"\U0001f600": "smile", "\ue000": "pua", "a": 1, "\uff21": "A"},
        "nested_prefix.json": {"o": {"x\U00010000": [], "x\uffff": {}}},
        "many.json": {c: i for i, c in enumerate(["\ufb01", "\U0001d11e", "\ufffd", "\U0010fffd",
                                                   "\ue801", "z", "\u00e9", "\U00020000"])},
    }
    d = tmp_path / "docs"
    d.mkdir()
    for name, v in docs.items():
        (d / name).write_text(json.dumps(v, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "tufjs.json"
    node("canon.mjs", "docs", d, out)
    theirs = json.loads(out.read_text())
    for name, v in docs.items():
        rc, ours, err = vouch_canon(d / name)
        assert rc == 0, err
        assert ours == olpc_python(v), name
        # The known divergence: JavaScript sorts these keys the other way.
        assert bytes.fromhex(theirs[name]["hex"]) != ours, name
        assert sorted(bytes.fromhex(theirs[name]["hex"])) == sorted(ours), name


def test_documents_match_python_olpc(tmp_path):
    """A third opinion on the corpus where Python's json agrees with OLPC
    (no control characters)."""
    docs = {**tuf_documents(), **random_documents(60, seed=7)}
    d = write_docs(tmp_path / "docs", docs)
    checked = 0
    for name, text in docs.items():
        v = json.loads(text)
        if has_control_chars(v):
            continue
        want = olpc_python(v)
        rc, ours, err = vouch_canon(d / name)
        assert rc == 0, f"{name}: {err}"
        assert ours == want, name
        checked += 1
    assert checked >= 30


# Inputs JSON.parse accepts (taking the last duplicate, rounding numbers,
# keeping lone surrogates) that vouch must refuse rather than sign or verify
# something other than what the bytes say.
REFUSED = {
    "duplicate_key.json": ('{"a":1,"a":2}', "duplicate object key"),
    "duplicate_nested.json": ('{"signed":{"version":1,"version":2}}', "duplicate object key"),
    "duplicate_escaped.json": ('{"keyid":"x","\\u006beyid":"y"}', "duplicate object key"),
    "float.json": ('{"length":1.0}', "canonical JSON allows no floating-point numbers"),
    "float_exp.json": ('{"version":1e2}', "canonical JSON allows no floating-point numbers"),
    "float_neg_zero.json": ('[-0.0]', "canonical JSON allows no floating-point numbers"),
    "int_too_big.json": ('[9223372036854775808]', "too big integer"),
    "int_too_small.json": ('[-9223372036854775809]', "too big negative integer"),
    "lone_surrogate.json": ('["\\ud800"]', "invalid Unicode"),
    "nul_escape.json": ('{"a":"x\\u0000y"}', "\\u0000 is not allowed"),
    "too_deep.json": ("[" * 65 + "]" * 65, "JSON nested deeper than 64 levels"),
}


def test_vouch_refuses_what_javascript_tolerates(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    for name, (text, _) in REFUSED.items():
        (d / name).write_text(text, encoding="utf-8")
    out = tmp_path / "tufjs.json"
    node("canon.mjs", "docs", d, out)
    theirs = json.loads(out.read_text())
    for name, (text, msg) in REFUSED.items():
        assert "hex" in theirs[name], f"{name}: expected JavaScript to accept it"
        rc, ours, err = vouch_canon(d / name)
        assert rc == 1, f"{name}: exit {rc}, output {ours!r}"
        assert ours == b""
        assert msg in err, f"{name}: {err}"


def test_exact_integers_beyond_javascript_precision(tmp_path):
    """Integers up to int64 keep every digit (JavaScript would round)."""
    p = tmp_path / "big.json"
    p.write_text('{"v":[9007199254740993,9223372036854775807,-9223372036854775808]}')
    rc, ours, err = vouch_canon(p)
    assert rc == 0, err
    assert ours == b'{"v":[9007199254740993,9223372036854775807,-9223372036854775808]}'


# ---- keys -------------------------------------------------------------------

KEY_TYPES = ["ed25519", "ecdsa", "rsa3072", "rsa4096"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """One key pair per type, made by `vouch keygen`, and one file signed by
    all of them."""
    d = tmp_path_factory.mktemp("keys")
    exe = binary("vouch")
    env = {"VOUCH_KEY_LOG": str(d / "key-usage.log")}
    for t in KEY_TYPES:
        run([exe, "keygen", "--type", t, "--out", d / t, "--no-passphrase"], check=0, env=env)
    f = d / "release.bin"
    f.write_bytes(b"release \x00\x01\x02 payload\n" * 100)
    for t in KEY_TYPES:
        run([exe, "sign", "--key", d / t, f], check=0, env=env)
    return d


def key_show(pub):
    p = run([binary("vouch"), "key", "show", pub, "--json"], check=0)
    doc = json.loads(p.stdout)
    return doc.get("key", doc), doc.get("keyid")


def test_key_ids_match_tufjs(keys, tmp_path):
    sig = json.loads((keys / "release.bin.sig").read_text())
    items, ours = {}, {}
    for t in KEY_TYPES:
        pub = keys / f"{t}.pub"
        key, shown_id = key_show(pub)
        assert set(key) == {"keytype", "scheme", "keyval"}
        assert set(key["keyval"]) == {"public"}
        key_id = run([binary("vouch"), "key", "id", pub], check=0).stdout.strip()
        assert len(key_id) == 64 and key_id == shown_id
        # sha256 over vouch's own canonical bytes of the key object.
        kf = tmp_path / f"{t}.key.json"
        kf.write_text(json.dumps(key, indent=3))
        rc, canon, err = vouch_canon(kf)
        assert rc == 0, err
        assert hashlib.sha256(canon).hexdigest() == key_id
        items[t] = {"key": key, "signed": sig["signed"], "sigs": sig["signatures"]}
        ours[t] = key_id
    assert {
        "ed25519": ("ed25519", "ed25519"), "ecdsa": ("ecdsa", "ecdsa-sha2-nistp256"),
        "rsa3072": ("rsa", "rsassa-pss-sha256"), "rsa4096": ("rsa", "rsassa-pss-sha256"),
    } == {t: (items[t]["key"]["keytype"], items[t]["key"]["scheme"]) for t in KEY_TYPES}

    inp, out = tmp_path / "keys.json", tmp_path / "tufjs.json"
    inp.write_text(json.dumps(items))
    node("canon.mjs", "keys", inp, out)
    theirs = json.loads(out.read_text())
    for t in KEY_TYPES:
        assert "keyid" in theirs[t], f"{t}: {theirs[t]}"
        assert theirs[t]["keyid"] == ours[t], t
        # @tufjs/models verifies vouch's signature over the canonical
        # signed part: same bytes signed, same key encoding.
        assert theirs[t]["verified"] == [True], t


def test_tufjs_rejects_signature_over_other_bytes(keys, tmp_path):
    """The signature check above can fail: change one field of the signed
    part and @tufjs/models must refuse every signature."""
    sig = json.loads((keys / "release.bin.sig").read_text())
    signed = dict(sig["signed"], length=sig["signed"]["length"] + 1)
    items = {t: {"key": key_show(keys / f"{t}.pub")[0], "signed": signed, "sigs": sig["signatures"]}
             for t in KEY_TYPES}
    inp, out = tmp_path / "keys.json", tmp_path / "tufjs.json"
    inp.write_text(json.dumps(items))
    node("canon.mjs", "keys", inp, out)
    theirs = json.loads(out.read_text())
    for t in KEY_TYPES:
        assert theirs[t]["verified"] == [False], t


def test_key_id_from_tuf_json_forms(keys, tmp_path):
    """The same key written as TUF JSON in another key order and layout, or
    as the `key show --json` document, has the same id."""
    for t in KEY_TYPES:
        pub = keys / f"{t}.pub"
        key, key_id = key_show(pub)
        reordered = {"keyval": key["keyval"], "scheme": key["scheme"], "keytype": key["keytype"]}
        p = tmp_path / f"{t}.tuf.json"
        p.write_text(json.dumps(reordered, indent=4) + "\n")
        assert run([binary("vouch"), "key", "id", p], check=0).stdout.strip() == key_id
        shown = tmp_path / f"{t}.shown.json"
        shown.write_text(run([binary("vouch"), "key", "show", pub, "--json"], check=0).stdout)
        assert run([binary("vouch"), "key", "id", shown], check=0).stdout.strip() == key_id
