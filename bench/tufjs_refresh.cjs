// bench/refresh.sh's tuf-js side: cold refresh, one target lookup and
// download, exactly what `vouch client download` does.
//   node bench/tufjs_refresh.cjs METADATA_DIR METADATA_URL TARGET_URL TARGET_DIR NAME
// tuf-js comes from tests/interop/node_modules (INTEROP env or default).
const path = require('path');
const interop = process.env.INTEROP || path.join(__dirname, '..', 'tests', 'interop');
const { Updater } = require(path.join(interop, 'node_modules', 'tuf-js'));

async function main() {
  const [metadataDir, metadataBaseUrl, targetBaseUrl, targetDir, name] = process.argv.slice(2);
  const updater = new Updater({ metadataDir, metadataBaseUrl, targetBaseUrl, targetDir });
  await updater.refresh();
  const info = await updater.getTargetInfo(name);
  if (!info) throw new Error(`${name}: not found`);
  await updater.downloadTarget(info, path.join(targetDir, path.basename(name)));
}

main().catch((e) => { console.error(e); process.exit(1); });
