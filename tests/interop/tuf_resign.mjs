// Replaces the signatures of a TUF metadata file with one signature by a
// given private key (PEM), computed by Node's crypto over the canonical
// JSON of "signed" (@tufjs/canonical-json). Attack tests use it to forge
// metadata with a key the repository no longer trusts (a revoked key).
//
//   node tuf_resign.mjs FILE KEY.pem KEYID
//
// ed25519, ecdsa P-256 (DER signature over SHA-256) and RSA (PSS, SHA-256,
// salt 32) keys, as TUF's schemes say.
import { constants, createPrivateKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { canonicalize } = require('@tufjs/canonical-json');

const [file, keyPath, keyid] = process.argv.slice(2);
if (!keyid) {
  console.error('usage: tuf_resign.mjs FILE KEY.pem KEYID');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, 'utf8'));
const key = createPrivateKey(readFileSync(keyPath));
const data = Buffer.from(canonicalize(doc.signed));
let sig;
if (key.asymmetricKeyType === 'ed25519') sig = sign(null, data, key);
else if (key.asymmetricKeyType === 'ec') sig = sign('sha256', data, key);
else sig = sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
doc.signatures = [{ keyid, sig: sig.toString('hex') }];
writeFileSync(file, JSON.stringify(doc, null, 1));
