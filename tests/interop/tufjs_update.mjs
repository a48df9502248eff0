// Runs tuf-js's Updater (an independent TUF client) against a repository
// served over HTTP, for tests/e2e/test_tuf_interop.py.
//
//   node tufjs_update.mjs METADATA_URL TARGET_BASE_URL ROOT.json CACHE_DIR TARGET_DIR NAME...
//
// CACHE_DIR gets ROOT.json as its trusted root.json if it has none yet (so
// a second run continues from what the first one trusted). Refreshes the
// metadata, then for each NAME looks the target up and downloads it into
// TARGET_DIR. Prints one JSON object: {"refresh": "ok" | error,
// "targets": {"NAME": {"ok": true, "path": ..., "custom": {...}} |
// {"ok": false, "error": "..."}}}, and exits 0 only if everything worked.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Updater } = require('tuf-js');

const [metadataBaseUrl, targetBaseUrl, rootPath, cacheDir, targetDir, ...names] =
  process.argv.slice(2);
if (!names.length) {
  console.error('usage: tufjs_update.mjs METADATA_URL TARGET_BASE_URL ROOT.json CACHE_DIR TARGET_DIR NAME...');
  process.exit(2);
}
mkdirSync(cacheDir, { recursive: true });
mkdirSync(targetDir, { recursive: true });
if (!existsSync(join(cacheDir, 'root.json'))) copyFileSync(rootPath, join(cacheDir, 'root.json'));

const out = { refresh: null, targets: {} };
let ok = true;
const updater = new Updater({
  metadataBaseUrl,
  targetBaseUrl,
  metadataDir: cacheDir,
  targetDir,
  config: { fetchRetries: 0, fetchTimeout: 10000 },
});
try {
  await updater.refresh();
  out.refresh = 'ok';
} catch (e) {
  out.refresh = `${e.name}: ${e.message}`;
  ok = false;
}
if (ok) {
  for (const name of names) {
    try {
      const info = await updater.getTargetInfo(name);
      if (!info) throw new Error('target not found');
      const path = join(targetDir, encodeURIComponent(name));
      await updater.downloadTarget(info, path);
      out.targets[name] = { ok: true, path, length: info.length, custom: info.custom };
    } catch (e) {
      out.targets[name] = { ok: false, error: `${e.name}: ${e.message}` };
      ok = false;
    }
  }
}
console.log(JSON.stringify(out));
process.exit(ok ? 0 : 1);
