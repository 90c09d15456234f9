#!/usr/bin/env bash
# npm run test:package: the package as a user gets it. Packs the tarball
# (prepack: tsc and this machine's prebuild), checks what it holds, installs
# it into fresh folders with NO COMPILER on PATH (a PATH of node, npm, sh and a
# few tools: no gcc, g++, cc, c++, make), and from there runs the CLI on the
# bundled example and small CommonJS, ESM and TypeScript (strict) programs
# using the API; then the same with --ignore-scripts (the prebuild is found
# by node-gyp-build at load time), and the one-line errors when no binary
# fits or a system library the addon links is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TMP=$(mktemp -d /tmp/rethook-package-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'test:package FAILED: %s\n' "$*" >&2; exit 1; }
VERSION=$(node -p "require('./package.json').version")

step "npm pack"
npm pack --pack-destination "$TMP" --json >"$TMP/pack.json" 2>"$TMP/pack.log" || { cat "$TMP/pack.log"; fail "npm pack"; }
TGZ=$TMP/rethook-$VERSION.tgz
[ -f "$TGZ" ] || fail "no tarball"
node - "$TMP/pack.json" <<'JS' || fail "the tarball's contents"
// prepack's own output comes first on stdout: the JSON is the last top-level array.
const txt = require('fs').readFileSync(process.argv[2], 'utf8');
const [p] = JSON.parse(txt.slice(txt.startsWith('[') ? 0 : txt.lastIndexOf('\n[\n') + 1));
const files = p.files.map((f) => f.path);
const allowed = [/^package\.json$/, /^README\.md$/, /^CONTRIBUTING\.md$/, /^docs\/[a-z-]+\.md$/, /^LICENSE$/, /^bin\/rethook\.js$/, /^dist\/.*\.(js|d\.ts)$/, /^esm\/index\.(mjs|d\.mts)$/,
  /^native\/.*\.(cc|h|c|S)$/, /^binding\.gyp$/, /^scripts\/install\.js$/, /^prebuilds\/linux-(x64|arm64)\/(rethook\.glibc\.node|SOURCES)$/, /^examples\/[^/]+\.c$/];
const extra = files.filter((f) => !allowed.some((r) => r.test(f)));
if (extra.length) throw new Error(`unexpected files in the tarball: ${extra.join(', ')}`);
for (const need of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'esm/index.mjs', 'binding.gyp', 'native/addon.cc', 'examples/kvstore.c', `prebuilds/linux-${process.arch}/rethook.glibc.node`])
  if (!files.includes(need)) throw new Error(`missing from the tarball: ${need}`);
const arm = files.includes('prebuilds/linux-arm64/rethook.glibc.node'), x64 = files.includes('prebuilds/linux-x64/rethook.glibc.node');
console.log(`tarball: ${(p.size / 1024).toFixed(0)} kB packed, ${(p.unpackedSize / 1024).toFixed(0)} kB unpacked, ${files.length} files; prebuilds: ${[x64 && 'linux-x64', arm && 'linux-arm64'].filter(Boolean).join(', ')}`);
if (!arm || !x64) console.log('note: this tarball lacks a prebuild (npm run prebuild makes both)');
JS

step "a PATH without a compiler"
NOCC=$TMP/nocc-bin
mkdir -p "$NOCC"
for t in node npm npx sh bash env sed cat ls mkdir rm cp mv dirname basename uname grep tr head tail wc sort id readlink realpath; do
  p=$(command -v "$t") || fail "no $t on this machine"
  ln -s "$(readlink -f "$p")" "$NOCC/$t" 2>/dev/null || ln -s "$p" "$NOCC/$t"
done
# npm and npx are scripts that find their own files next to their real path.
rm "$NOCC/npm" "$NOCC/npx"
ln -s "$(command -v npm)" "$NOCC/npm"; ln -s "$(command -v npx)" "$NOCC/npx"
for cc in gcc g++ cc c++ make clang; do
  if PATH=$NOCC command -v "$cc" >/dev/null; then fail "$cc is on the compiler-free PATH"; fi
done
echo "no gcc, g++, cc, c++, make or clang on PATH=$NOCC"
run() { env -i HOME="$TMP/home" PATH="$NOCC" npm_config_cache="$TMP/npm-cache" npm_config_update_notifier=false "$@"; }
mkdir -p "$TMP/home"
# npm's cache: reuse this machine's (the registry is only asked for what it lacks).
cp -r "$(npm config get cache)" "$TMP/npm-cache" 2>/dev/null || mkdir -p "$TMP/npm-cache"

# The traced program: a user's own program (built here, where there is a compiler).
gcc -O1 -o "$TMP/kvstore" examples/kvstore.c

app_programs() { # app_programs DIR: the CLI and the CJS, ESM and TypeScript programs, run from DIR
  local dir=$1
  cd "$dir"
  [ "$(run npx --no-install rethook --version)" = "$VERSION" ] || fail "rethook --version"
  run npx --no-install rethook --help | grep -q '^Usage: rethook' || fail "rethook --help"
  set +e; run npx --no-install rethook trace >/dev/null 2>"$TMP/usage.err"; rc=$?; set -e
  [ "$rc" = 2 ] && grep -q "^rethook: nothing to trace" "$TMP/usage.err" || fail "usage error (rc $rc): $(cat "$TMP/usage.err")"

  echo "-- the CLI on the bundled example (examples/kvstore.c)"
  set +e; run npx --no-install rethook trace -f 'kv_*' --format json -o "$TMP/events.jsonl" -- "$TMP/kvstore" >"$TMP/kv.out"; rc=$?; set -e
  want=$("$TMP/kvstore" >/dev/null; echo $?)
  [ "$rc" = "$want" ] || fail "the CLI exited $rc, the example exits $want"
  grep -q '"type":"entry".*"function":"kv_put"' "$TMP/events.jsonl" || fail "no kv_put entry in the CLI's events"
  grep -q '"type":"process-exit"' "$TMP/events.jsonl" || fail "no process-exit event"
  echo "   $(grep -c '"type":"exit"' "$TMP/events.jsonl") calls traced, exit code $rc"

  echo "-- CommonJS"
  cat >cjs-app.js <<'JS'
const assert = require('assert');
const { Tracer, RethookError } = require('rethook');
(async () => {
  const t = await Tracer.spawn(process.argv[2], [], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  t.stdout.on('data', (c) => (out += c));
  const gets = [];
  t.hook('kv_get', { onEntry(ctx) { ctx.data = ctx.readCString(ctx.args[0]); }, onExit(ctx) { gets.push(ctx.data); } });
  assert.throws(() => t.hook('no_such_fn'), (e) => e instanceof RethookError && e.code === 'ENOSYMBOL');
  const st = await t.run();
  await new Promise((r) => (t.stdout.readableEnded ? r() : t.stdout.on('end', r)));
  assert.ok(gets.length > 0 && gets.every((k) => typeof k === 'string'), 'kv_get keys');
  assert.ok(out.length > 0, 'the program printed through the pipe');
  console.log(`cjs: ${gets.length} kv_get calls, exit code ${st.code}`);
})().catch((e) => { console.error(e); process.exit(1); });
JS
  run node cjs-app.js "$TMP/kvstore" || fail "the CommonJS program"

  echo "-- ESM"
  cat >esm-app.mjs <<'JS'
import assert from 'node:assert';
import { createRequire } from 'node:module';
import rethook, { Tracer, RethookError } from 'rethook';
const cjs = createRequire(import.meta.url)('rethook');
assert.deepEqual(Object.keys(rethook).sort(), Object.keys(cjs).sort());
assert.equal(RethookError, cjs.RethookError); // one module instance
const t = await Tracer.spawn(process.argv[2], [], { stdio: 'ignore' });
const counts = {};
let last;
for await (const ev of t.events('kv_*')) {
  last = ev;
  if (ev.type === 'exit') counts[ev.function] = (counts[ev.function] ?? 0) + 1;
}
assert.equal(last.type, 'process-exit');
assert.ok(counts.kv_put > 0);
console.log(`esm: ${Object.entries(counts).map(([k, v]) => `${k} x${v}`).join(', ')}; exit code ${last.code}`);
JS
  run node esm-app.mjs "$TMP/kvstore" || fail "the ESM program"

  echo "-- TypeScript (strict, module node16: CommonJS .ts and ESM .mts)"
  cat >tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "target": "ES2022", "module": "node16", "moduleResolution": "node16",
  "types": ["node"], "typeRoots": ["$ROOT/node_modules/@types"], "outDir": "out", "noEmitOnError": true, "skipLibCheck": false },
  "files": ["ts-app.ts", "ts-esm.mts"] }
JSON
  cat >ts-app.ts <<'TS'
import { ExitStatus, RethookError, RethookErrorCode, Tracer } from 'rethook';
async function main(file: string): Promise<void> {
  const t = await Tracer.spawn(file, [], { stdio: ['inherit', 'ignore', 'inherit'] });
  const lens: number[] = [];
  t.hook<{ key: string; started: bigint }>('kv_put', {
    onEntry(ctx) { ctx.data = { key: ctx.readCString(ctx.args[0]), started: process.hrtime.bigint() }; },
    onExit(ctx) { if (ctx.data) lens.push(ctx.data.key.length); },
  });
  const st: ExitStatus = await t.run();
  const sig: NodeJS.Signals | null = st.signal;
  const code: RethookErrorCode = 'EHANDLER';
  if (!lens.length || sig !== null || !(new RethookError('x', code) instanceof Error)) throw new Error('ts-app');
  console.log(`ts: ${lens.length} kv_put calls, exit code ${st.code}`);
}
main(process.argv[2]).catch((e) => { console.error(e); process.exit(1); });
TS
  cat >ts-esm.mts <<'TS'
import { Tracer, type TraceEvent } from 'rethook';
const t = await Tracer.spawn(process.argv[2], [], { stdio: 'ignore' });
const evs: TraceEvent[] = [];
for await (const ev of t.events('kv_get')) evs.push(ev);
const exits = evs.filter((e): e is Extract<TraceEvent, { type: 'exit' }> => e.type === 'exit');
console.log(`ts esm: ${exits.length} kv_get exits, retvals typed ${typeof exits[0]?.retval}`);
TS
  run node "$ROOT/node_modules/typescript/bin/tsc" -p . || fail "tsc --strict on the TypeScript programs"
  run node out/ts-app.js "$TMP/kvstore" || fail "the TypeScript program"
  run node out/ts-esm.mjs "$TMP/kvstore" || fail "the TypeScript ESM program"
  cd "$ROOT"
}

step "npm install <tarball>, no compiler"
mkdir -p "$TMP/app"
echo '{ "name": "app", "version": "1.0.0", "private": true }' >"$TMP/app/package.json"
(cd "$TMP/app" && run npm install --no-audit --no-fund "$TGZ" 2>&1 | tail -3) || fail "npm install"
[ -d "$TMP/app/node_modules/rethook/build" ] && fail "the install built the addon from source (a prebuild was expected)"
PKGS=$(cd "$TMP/app" && run npm ls --all --parseable 2>/dev/null | tail -n +2 | wc -l)
SIZE=$(du -sk "$TMP/app/node_modules" | cut -f1)
echo "installed: $PKGS packages, $SIZE kB in node_modules ($(cd "$TMP/app/node_modules" && ls | tr '\n' ' '))"
app_programs "$TMP/app"

step "npm install --ignore-scripts <tarball>, no compiler"
mkdir -p "$TMP/app2"
echo '{ "name": "app2", "version": "1.0.0", "private": true }' >"$TMP/app2/package.json"
(cd "$TMP/app2" && run npm install --ignore-scripts --no-audit --no-fund "$TGZ" 2>&1 | tail -1) || fail "npm install --ignore-scripts"
app_programs "$TMP/app2"

step "no binary fits: one clear line, never a stack trace; --help still works"
mv "$TMP/app2/node_modules/rethook/prebuilds" "$TMP/prebuilds.aside"
cd "$TMP/app2"
run npx --no-install rethook --help >/dev/null || fail "--help without an addon"
set +e; run npx --no-install rethook trace -f kv_put -- "$TMP/kvstore" >/dev/null 2>"$TMP/noaddon.err"; rc=$?; set -e
cat "$TMP/noaddon.err"
[ "$rc" = 1 ] && [ "$(wc -l <"$TMP/noaddon.err")" = 1 ] && grep -q "^rethook: no native addon for linux-$(node -p process.arch) .*npm rebuild rethook" "$TMP/noaddon.err" ||
  fail "no addon: expected one line and exit code 1 (got $rc)"
run node -e "require('rethook')" 2>"$TMP/noaddon-api.err" && fail "require('rethook') without an addon"
run node -e "try { require('rethook') } catch (e) { if (e.code !== 'EADDON' || e.name !== 'RethookError') process.exit(1); console.log('API: RethookError ' + e.code + ': ' + e.message) }" || fail "require('rethook') error code"
mv "$TMP/prebuilds.aside" "$TMP/app2/node_modules/rethook/prebuilds"

step "a system library the addon links is missing (as libdw would be): one line naming it and its Debian package"
# An addon linked against libnotthere.so.1, which is then removed; RETHOOK_PREBUILD (node-gyp-build) points at it.
mkdir -p "$TMP/fake/lib" "$TMP/fake/addon/build/Release"
echo 'int notthere(void) { return 1; }' >"$TMP/fake/notthere.c"
echo 'extern int notthere(void); int use(void) { return notthere(); }' >"$TMP/fake/addon.c"
gcc -shared -fPIC -Wl,-soname,libnotthere.so.1 -o "$TMP/fake/lib/libnotthere.so.1" "$TMP/fake/notthere.c"
gcc -shared -fPIC -Wl,--no-as-needed -o "$TMP/fake/addon/build/Release/rethook.node" "$TMP/fake/addon.c" "$TMP/fake/lib/libnotthere.so.1"
rm -r "$TMP/fake/lib"
set +e; run RETHOOK_PREBUILD="$TMP/fake/addon" npx --no-install rethook trace -f kv_put -- "$TMP/kvstore" >/dev/null 2>"$TMP/nolib.err"; rc=$?; set -e
cat "$TMP/nolib.err"
[ "$rc" = 1 ] && [ "$(wc -l <"$TMP/nolib.err")" = 1 ] &&
  grep -qx "rethook: the native addon needs the system library libnotthere.so.1, which is not installed: apt-get install libnotthere1 (Debian/Ubuntu), or your distribution's package providing libnotthere.so.1" "$TMP/nolib.err" ||
  fail "missing library: expected one line and exit code 1 (got $rc)"
# At install time: the same line as a warning, and the install succeeds (no source build attempted).
set +e; (cd node_modules/rethook && run RETHOOK_PREBUILD="$TMP/fake/addon" node scripts/install.js) >/dev/null 2>"$TMP/nolib-install.err"; rc=$?; set -e
cat "$TMP/nolib-install.err"
[ "$rc" = 0 ] && [ "$(wc -l <"$TMP/nolib-install.err")" = 1 ] && grep -q "^rethook: the native addon needs the system library libnotthere.so.1" "$TMP/nolib-install.err" ||
  fail "install with a missing library: expected one warning line and success (got $rc)"
cd "$ROOT"

step "test:package passed"
echo "figures: tarball $(du -k "$TGZ" | cut -f1) kB; install: $PKGS packages, $SIZE kB"
