// Canonical JSON and TUF key ids computed by an independent implementation
// (@tufjs/canonical-json and @tufjs/models, the libraries tuf-js verifies
// with), for tests/e2e/test_canon_interop.py to compare with vouch.
//
//   node canon.mjs docs DIR OUT.json
//       For every file in DIR: JSON.parse, canonicalize, and record the
//       UTF-8 bytes as hex: {"<file>": {"hex": "..."} | {"error": "..."}}.
//   node canon.mjs keys IN.json OUT.json
//       IN: {"<name>": {"key": {keytype, scheme, keyval}, "signed": {...}|null,
//            "sigs": [{"keyid", "sig"}]}}. For each key: the TUF key id
//       (sha256 of the canonical JSON of the key object, as Key.toJSON()
//       gives it), and whether each signature by that key id over the
//       canonical JSON of "signed" verifies with @tufjs/models' Key:
//       {"<name>": {"keyid": "...", "verified": [true, ...]} | {"error": "..."}}.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { canonicalize } = require('@tufjs/canonical-json');
const { Key } = require('@tufjs/models');

function docs(dir, out) {
  const results = {};
  for (const name of readdirSync(dir).sort()) {
    try {
      const value = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      results[name] = { hex: Buffer.from(canonicalize(value), 'utf8').toString('hex') };
    } catch (e) {
      results[name] = { error: String(e.message || e) };
    }
  }
  writeFileSync(out, JSON.stringify(results));
}

function keys(input, out) {
  const items = JSON.parse(readFileSync(input, 'utf8'));
  const results = {};
  for (const [name, item] of Object.entries(items)) {
    try {
      const key = Key.fromJSON('', item.key);
      const keyid = createHash('sha256')
        .update(Buffer.from(canonicalize(key.toJSON()), 'utf8'))
        .digest('hex');
      const verified = [];
      for (const s of item.sigs || []) {
        if (s.keyid !== keyid) continue;
        const k = Key.fromJSON(keyid, item.key);
        // The shape Key.verifySignature reads: signatures by key id and a
        // signed part with toJSON().
        const metadata = {
          signatures: { [keyid]: { keyID: s.keyid, sig: s.sig } },
          signed: { toJSON: () => item.signed },
        };
        try {
          k.verifySignature(metadata);
          verified.push(true);
        } catch (e) {
          verified.push(false);
        }
      }
      results[name] = { keyid, verified };
    } catch (e) {
      results[name] = { error: String(e.message || e) };
    }
  }
  writeFileSync(out, JSON.stringify(results));
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'docs' && a && b) docs(a, b);
else if (mode === 'keys' && a && b) keys(a, b);
else {
  console.error('usage: node canon.mjs docs DIR OUT.json | keys IN.json OUT.json');
  process.exit(2);
}
