// Builds a TUF repository with @tufjs/models (an independent
// implementation), for tests/e2e/test_tuf_interop.py to read with
// `vouch client`.
//
//   node tufjs_make_repo.mjs OUT_DIR
//
// Keys of three types: root ed25519, targets ecdsa-sha2-nistp256, snapshot
// rsassa-pss-sha256, timestamp ed25519; delegations from targets: "os"
// (ecdsa, paths ["os/*", "os/*/*"], terminating) and "bins" (ed25519,
// path_hash_prefixes covering every name, not terminating). Consistent
// snapshots: metadata/N.ROLE.json and targets/DIR/HASH.NAME (sha256 and
// sha512 copies). Writes OUT_DIR/metadata, OUT_DIR/targets and
// OUT_DIR/expected.json ({name: {length, sha256, role}}).
import { createHash, generateKeyPairSync, sign, constants } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix } from 'node:path';

const require = createRequire(import.meta.url);
const { Metadata, MetadataKind, Signature } = require('@tufjs/models');
const { canonicalize } = require('@tufjs/canonical-json');

const out = process.argv[2];
if (!out) {
  console.error('usage: tufjs_make_repo.mjs OUT_DIR');
  process.exit(2);
}
const SPEC = '1.0.31';
const expires = new Date(Date.now() + 30 * 86400e3).toISOString().replace(/\.\d+Z$/, 'Z');

function makeKey(kind) {
  let pair, keytype, scheme, pub;
  if (kind === 'ed25519') {
    pair = generateKeyPairSync('ed25519');
    keytype = scheme = 'ed25519';
    pub = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  } else if (kind === 'ecdsa') {
    pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keytype = 'ecdsa';
    scheme = 'ecdsa-sha2-nistp256';
    pub = pair.publicKey.export({ format: 'pem', type: 'spki' });
  } else {
    pair = generateKeyPairSync('rsa', { modulusLength: 3072 });
    keytype = 'rsa';
    scheme = 'rsassa-pss-sha256';
    pub = pair.publicKey.export({ format: 'pem', type: 'spki' });
  }
  const json = { keytype, scheme, keyval: { public: pub } };
  const keyid = createHash('sha256').update(canonicalize(json)).digest('hex');
  const signer = (data) => {
    let sig;
    if (kind === 'ed25519') sig = sign(null, data, pair.privateKey);
    else if (kind === 'ecdsa') sig = sign('sha256', data, pair.privateKey);
    else
      sig = sign('sha256', data, {
        key: pair.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    return new Signature({ keyID: keyid, sig: sig.toString('hex') });
  };
  return { keyid, json, signer };
}

const keys = {
  root: makeKey('ed25519'),
  targets: makeKey('ecdsa'),
  snapshot: makeKey('rsa'),
  timestamp: makeKey('ed25519'),
  os: makeKey('ecdsa'),
  bins: makeKey('ed25519'),
};

const md = join(out, 'metadata');
const td = join(out, 'targets');
mkdirSync(md, { recursive: true });
mkdirSync(td, { recursive: true });
const expected = {};

function addTarget(map, name, content, role) {
  const data = Buffer.from(content);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const sha512 = createHash('sha512').update(data).digest('hex');
  const dir = join(td, posix.dirname(name) === '.' ? '' : posix.dirname(name));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${sha256}.${posix.basename(name)}`), data);
  writeFileSync(join(dir, `${sha512}.${posix.basename(name)}`), data);
  map[name] = { length: data.length, hashes: { sha256, sha512 }, custom: { made_by: 'tufjs' } };
  expected[name] = { length: data.length, sha256, role };
}

// Builds, checks (fromJSON) and signs one role with @tufjs/models.
function finish(kind, signed, signers) {
  const m = Metadata.fromJSON(kind, { signed, signatures: [] });
  for (const s of signers) m.sign(s, true);
  return m;
}

function write(name, m) {
  const bytes = Buffer.from(JSON.stringify(m.toJSON(), null, 1));
  writeFileSync(join(md, name), bytes);
  return bytes;
}

function metaOf(bytes, version) {
  return {
    version,
    length: bytes.length,
    hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
  };
}

const rootSigned = {
  _type: 'root',
  spec_version: SPEC,
  version: 1,
  expires,
  consistent_snapshot: true,
  keys: Object.fromEntries(
    ['root', 'targets', 'snapshot', 'timestamp'].map((r) => [keys[r].keyid, keys[r].json])
  ),
  roles: Object.fromEntries(
    ['root', 'targets', 'snapshot', 'timestamp'].map((r) => [
      r,
      { keyids: [keys[r].keyid], threshold: 1 },
    ])
  ),
};
const root = finish(MetadataKind.Root, rootSigned, [keys.root.signer]);
root.verifyDelegate('root', root);
const rootBytes = write('1.root.json', root);
writeFileSync(join(md, 'root.json'), rootBytes);

const topTargets = {};
addTarget(topTargets, 'top.txt', 'a target listed by the top-level targets role\n', 'targets');
const osTargets = {};
addTarget(osTargets, 'os/img-1.bin', Buffer.alloc(70000, 7), 'os');
addTarget(osTargets, 'os/stable/img-2.bin', 'second image\n', 'os');
const binTargets = {};
addTarget(binTargets, 'tools/tool.sh', '#!/bin/sh\necho tool\n', 'bins');

const targetsSigned = {
  _type: 'targets',
  spec_version: SPEC,
  version: 1,
  expires,
  targets: topTargets,
  delegations: {
    keys: { [keys.os.keyid]: keys.os.json, [keys.bins.keyid]: keys.bins.json },
    roles: [
      {
        name: 'os',
        keyids: [keys.os.keyid],
        threshold: 1,
        terminating: true,
        paths: ['os/*', 'os/*/*'],
      },
      {
        name: 'bins',
        keyids: [keys.bins.keyid],
        threshold: 1,
        terminating: false,
        path_hash_prefixes: '0123456789abcdef'.split(''),
      },
    ],
  },
};
const targets = finish(MetadataKind.Targets, targetsSigned, [keys.targets.signer]);
root.verifyDelegate('targets', targets);
const targetsBytes = write('1.targets.json', targets);

const roleMeta = {};
for (const [name, map] of [['os', osTargets], ['bins', binTargets]]) {
  const m = finish(
    MetadataKind.Targets,
    { _type: 'targets', spec_version: SPEC, version: 1, expires, targets: map },
    [keys[name].signer]
  );
  targets.verifyDelegate(name, m);
  roleMeta[`${name}.json`] = metaOf(write(`1.${name}.json`, m), 1);
}

const snapshot = finish(
  MetadataKind.Snapshot,
  {
    _type: 'snapshot',
    spec_version: SPEC,
    version: 1,
    expires,
    meta: { 'targets.json': metaOf(targetsBytes, 1), ...roleMeta },
  },
  [keys.snapshot.signer]
);
root.verifyDelegate('snapshot', snapshot);
const snapBytes = write('1.snapshot.json', snapshot);

const timestamp = finish(
  MetadataKind.Timestamp,
  {
    _type: 'timestamp',
    spec_version: SPEC,
    version: 1,
    expires,
    meta: { 'snapshot.json': metaOf(snapBytes, 1) },
  },
  [keys.timestamp.signer]
);
root.verifyDelegate('timestamp', timestamp);
write('timestamp.json', timestamp);
writeFileSync(join(out, 'expected.json'), JSON.stringify(expected, null, 1));
console.log(JSON.stringify({ ok: true, targets: Object.keys(expected) }));
