"""The attack of the demo: someone holding the `app` tier key and the online
snapshot and timestamp keys (a compromised server) lists an os/ image in the
app tier's metadata and publishes it on a mirror, hoping devices install it.

    python3 forge-tier.py MIRROR_DIR TIER TIER_KEY SNAPSHOT_KEY TIMESTAMP_KEY NAME FILE

MIRROR_DIR is a copy of a published repository with consistent snapshots.
It writes a new version of TIER's metadata listing NAME (FILE's length and
hashes, custom.vouch of a tempting release), signed by TIER_KEY, a new
snapshot and timestamp around it, and FILE under targets/ with its hash
prefixes, exactly as an honest publish would: every signature is valid;
only the delegation (TIER may not vouch for NAME) says no.
"""
import hashlib
import json
import pathlib
import sys

from cryptography.hazmat.primitives import serialization


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def load(path):
    return json.loads(pathlib.Path(path).read_bytes())


def sign(signed, keyfile, keyid):
    priv = serialization.load_pem_private_key(pathlib.Path(keyfile).read_bytes(), None)
    return {"signatures": [{"keyid": keyid, "sig": priv.sign(canonical(signed)).hex()}],
            "signed": signed}


def write(path, env):
    data = (json.dumps(env, indent=2, sort_keys=True) + "\n").encode()
    pathlib.Path(path).write_bytes(data)
    return data


def meta_of(data, version):
    return {"hashes": {"sha256": hashlib.sha256(data).hexdigest()}, "length": len(data),
            "version": version}


def main():
    mirror, tier, tier_key, snap_key, ts_key, name, file = sys.argv[1:8]
    md = pathlib.Path(mirror) / "metadata"
    ts = load(md / "timestamp.json")
    snap_v = ts["signed"]["meta"]["snapshot.json"]["version"]
    snap = load(md / f"{snap_v}.snapshot.json")
    tier_v = snap["signed"]["meta"][f"{tier}.json"]["version"]
    role = load(md / f"{tier_v}.{tier}.json")

    payload = pathlib.Path(file).read_bytes()
    sha256 = hashlib.sha256(payload).hexdigest()
    sha512 = hashlib.sha512(payload).hexdigest()
    signed = role["signed"]
    signed["version"] = tier_v + 1
    signed["targets"][name] = {
        "length": len(payload),
        "hashes": {"sha256": sha256, "sha512": sha512},
        "custom": {"vouch": {"version": "9.9.9", "security_version": 99,
                             "hardware": ["board-a"], "tier": "os"}},
    }
    data = write(md / f"{tier_v + 1}.{tier}.json",
                 sign(signed, tier_key, role["signatures"][0]["keyid"]))

    ssigned = snap["signed"]
    ssigned["version"] = snap_v + 1
    ssigned["meta"][f"{tier}.json"] = meta_of(data, tier_v + 1)
    sdata = write(md / f"{snap_v + 1}.snapshot.json",
                  sign(ssigned, snap_key, snap["signatures"][0]["keyid"]))

    tsigned = ts["signed"]
    tsigned["version"] += 1
    tsigned["meta"]["snapshot.json"] = meta_of(sdata, snap_v + 1)
    write(md / "timestamp.json", sign(tsigned, ts_key, ts["signatures"][0]["keyid"]))

    target = pathlib.Path(mirror) / "targets" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    for prefix in (sha256, sha512):
        p = target.parent / f"{prefix}.{target.name}"
        p.write_bytes(payload)
    print(f"forged: {tier} v{tier_v + 1} lists {name} ({len(payload)} bytes), "
          f"snapshot v{snap_v + 1}, timestamp v{tsigned['version']}; every signature valid")


if __name__ == "__main__":
    sys.exit(main())
