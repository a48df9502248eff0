// A second implementation for vouch's encryption: HPKE from hpke-js
// (@hpke/core with @hpke/dhkem-x25519 and @hpke/chacha20poly1305), and the
// vouch-enc-v1 file format written from docs/formats.md with Node's crypto.
//
//   node hpke_interop.mjs seal PUB.pem AEAD INFO_HEX AAD_HEX PT_HEX
//       -> {"enc", "ct", "export"}
//   node hpke_interop.mjs open PRIV.pem AEAD ENC_HEX INFO_HEX AAD_HEX CT_HEX
//       -> {"pt", "export"}                   (exit 1 if it does not open)
//   node hpke_interop.mjs file-decrypt PRIV.pem IN OUT
//   node hpke_interop.mjs file-encrypt AEAD CHUNK IN OUT PUB.pem [PUB.pem...]
//
// Keys are vouch recipient key files (PEM); "export" is
// Export("vouch interop", 32), as in tests/tools/hpke_tool.c.
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey,
         hkdfSync, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Aes128Gcm, Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";

const KEM_X25519 = 0x0020, KEM_P256 = 0x0010;
const FIXED = 90, TAG = 16;
const enc = new TextEncoder();
const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));

function aeadFor(id) {
  switch (id) {
    case 1: return new Aes128Gcm();
    case 2: return new Aes256Gcm();
    case 3: return new Chacha20Poly1305();
    default: throw new Error(`unknown AEAD ${id}`);
  }
}

// A vouch key file -> {kem, jwk, pkRm}.
function loadKey(path, isPrivate) {
  const pem = readFileSync(path);
  const key = isPrivate ? createPrivateKey(pem) : createPublicKey(pem);
  const jwk = key.export({ format: "jwk" });
  const b64 = (s) => Buffer.from(s, "base64url");
  if (jwk.kty === "OKP" && jwk.crv === "X25519")
    return { kem: KEM_X25519, jwk, pkRm: new Uint8Array(b64(jwk.x)) };
  if (jwk.kty === "EC" && jwk.crv === "P-256")
    return { kem: KEM_P256, jwk,
             pkRm: new Uint8Array(Buffer.concat([Buffer.from([4]), b64(jwk.x), b64(jwk.y)])) };
  throw new Error(`${path}: not an x25519 or p256 key`);
}

function suiteFor(kem, aead) {
  return new CipherSuite({
    kem: kem === KEM_X25519 ? new DhkemX25519HkdfSha256() : new DhkemP256HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: aeadFor(aead),
  });
}

async function importKey(suite, k, isPublic) {
  const jwk = { ...k.jwk };
  if (isPublic) delete jwk.d;
  return suite.kem.importKey("jwk", jwk, isPublic);
}

const label = enc.encode("vouch interop");

async function seal(pubPath, aead, info, aad, pt) {
  const k = loadKey(pubPath, false);
  const suite = suiteFor(k.kem, aead);
  const sender = await suite.createSenderContext({
    recipientPublicKey: await importKey(suite, k, true), info });
  const ct = await sender.seal(pt, aad);
  return { enc: hex(sender.enc), ct: hex(ct), export: hex(await sender.export(label, 32)) };
}

async function open(privPath, aead, encBytes, info, aad, ct) {
  const k = loadKey(privPath, true);
  const suite = suiteFor(k.kem, aead);
  const recipient = await suite.createRecipientContext({
    recipientKey: await importKey(suite, k, false), enc: encBytes, info });
  const pt = await recipient.open(ct, aad);
  return { pt: hex(pt), export: hex(await recipient.export(label, 32)) };
}

// ------------------------------------------------- vouch-enc-v1 (formats.md)

const be16 = (b, o) => (b[o] << 8) | b[o + 1];
const be32 = (b, o) => b.readUInt32BE(o);
const u16 = (v) => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const sha256 = (b) => createHash("sha256").update(b).digest();
const encLen = (kem) => (kem === KEM_X25519 ? 32 : 65);
const cipherName = (aead) => (aead === 2 ? "aes-256-gcm" : "chacha20-poly1305");

function payloadKeys(ck, salt, aead, chunk) {
  const info = Buffer.concat([Buffer.from("vouch-enc-v1 payload key"), u16(aead), u32(chunk)]);
  return {
    key: Buffer.from(hkdfSync("sha256", ck, salt, info, 32)),
    commit: Buffer.from(hkdfSync("sha256", ck, salt, Buffer.from("vouch-enc-v1 key commitment"), 32)),
  };
}

function nonce(counter, last) {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(counter), 3);
  n[11] = last ? 1 : 0;
  return n;
}

async function fileDecrypt(privPath, inPath, outPath) {
  const k = loadKey(privPath, true);
  const f = readFileSync(inPath);
  if (f.subarray(0, 8).toString("latin1") !== "VOUCHENC" || f[8] !== 1 || f[9] !== 0)
    throw new Error("bad magic, version or flags");
  if (be16(f, 10) !== 1 || be16(f, 12) !== 2) throw new Error("bad key wrap suite");
  const aead = be16(f, 14), chunk = be32(f, 16), hlen = be32(f, 20);
  const salt = f.subarray(24, 56), commit = f.subarray(56, 88), count = be16(f, 88);
  const hdr = f.subarray(0, hlen);
  const keyId = sha256(k.pkRm);
  const info = Buffer.concat([Buffer.from("vouch-enc-v1 content key"), f.subarray(0, FIXED)]);
  let off = FIXED, ck = null;
  for (let i = 0; i < count; i++) {
    const kem = be16(f, off), head = f.subarray(off, off + 34), id = head.subarray(2);
    const e = f.subarray(off + 34, off + 34 + encLen(kem));
    const sealed = f.subarray(off + 34 + encLen(kem), off + 34 + encLen(kem) + 48);
    off += 34 + encLen(kem) + 48;
    if (kem === k.kem && id.equals(keyId)) {
      // HPKE aad of the key wrap: the entry's kem id and key id.
      const r = await open(privPath, 2, new Uint8Array(e), new Uint8Array(info),
                           new Uint8Array(head), new Uint8Array(sealed));
      ck = Buffer.from(r.pt, "hex");
    }
  }
  if (off !== hlen) throw new Error("header length mismatch");
  if (ck === null) throw new Error("not a recipient");
  const keys = payloadKeys(ck, salt, aead, chunk);
  if (!keys.commit.equals(commit)) throw new Error("key commitment mismatch");
  const aad = sha256(hdr);
  const out = [];
  let pos = hlen, counter = 0;
  for (;;) {
    const rest = f.length - pos;
    const last = rest < chunk + TAG;
    const n = last ? rest : chunk + TAG;
    if (n < TAG) throw new Error("truncated");
    const d = createDecipheriv(cipherName(aead), keys.key, nonce(counter, last), { authTagLength: TAG });
    d.setAAD(aad, { plaintextLength: n - TAG });
    d.setAuthTag(f.subarray(pos + n - TAG, pos + n));
    out.push(d.update(f.subarray(pos, pos + n - TAG)));
    d.final();
    pos += n;
    counter++;
    if (last) break;
  }
  writeFileSync(outPath, Buffer.concat(out));
}

async function fileEncrypt(aead, chunk, inPath, outPath, pubPaths) {
  const pt = readFileSync(inPath);
  const ck = randomBytes(32), salt = randomBytes(32);
  const keys = payloadKeys(ck, salt, aead, chunk);
  const recips = pubPaths.map((p) => loadKey(p, false));
  const hlen = FIXED + recips.reduce((s, r) => s + 2 + 32 + encLen(r.kem) + 48, 0);
  const fixed = Buffer.concat([Buffer.from("VOUCHENC"), Buffer.from([1, 0]), u16(1), u16(2),
                               u16(aead), u32(chunk), u32(hlen), salt, keys.commit,
                               u16(recips.length)]);
  const info = Buffer.concat([Buffer.from("vouch-enc-v1 content key"), fixed]);
  const entries = [];
  for (let i = 0; i < recips.length; i++) {
    const head = Buffer.concat([u16(recips[i].kem), sha256(recips[i].pkRm)]);
    const s = await seal(pubPaths[i], 2, new Uint8Array(info), new Uint8Array(head), new Uint8Array(ck));
    entries.push(head, Buffer.from(s.enc, "hex"), Buffer.from(s.ct, "hex"));
  }
  const hdr = Buffer.concat([fixed, ...entries]);
  const aad = sha256(hdr);
  const out = [hdr];
  let pos = 0, counter = 0;
  for (;;) {
    const last = pt.length - pos < chunk; // the last chunk holds 0..chunk-1 bytes
    const n = last ? pt.length - pos : chunk;
    const c = createCipheriv(cipherName(aead), keys.key, nonce(counter, last), { authTagLength: TAG });
    c.setAAD(aad, { plaintextLength: n });
    out.push(c.update(pt.subarray(pos, pos + n)), c.final(), c.getAuthTag());
    pos += n;
    counter++;
    if (last) break;
  }
  writeFileSync(outPath, Buffer.concat(out));
}

const [cmd, ...a] = process.argv.slice(2);
try {
  if (cmd === "seal") {
    console.log(JSON.stringify(await seal(a[0], Number(a[1]), unhex(a[2]), unhex(a[3]), unhex(a[4]))));
  } else if (cmd === "open") {
    console.log(JSON.stringify(await open(a[0], Number(a[1]), unhex(a[2]), unhex(a[3]), unhex(a[4]),
                                          unhex(a[5]))));
  } else if (cmd === "file-decrypt") {
    await fileDecrypt(a[0], a[1], a[2]);
  } else if (cmd === "file-encrypt") {
    await fileEncrypt(Number(a[0]), Number(a[1]), a[2], a[3], a.slice(4));
  } else {
    console.error("usage: see the comment at the top of hpke_interop.mjs");
    process.exit(2);
  }
} catch (e) {
  console.error(`hpke_interop: ${e.message ?? e}`);
  process.exit(1);
}
