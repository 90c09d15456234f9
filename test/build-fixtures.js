// Builds the C/C++ fixture programs with the system compiler, in every
// variant the tests run: -O0, -O2, -O2 with CET (-fcf-protection=full: endbr64
// first), and a non-PIE -O0 build. Rebuilds only what changed.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const SRC = path.join(__dirname, 'fixtures');
const OUT = path.join(SRC, 'bin');
const X86 = process.arch === 'x64';

const VARIANTS = {
  O0: ['-O0'],
  O2: ['-O2'],
  ...(X86 ? { 'O2-cet': ['-O2', '-fcf-protection=full'] } : {}),
  'O0-nopie': ['-O0', '-no-pie', '-fno-pie'],
};

/** name -> sources (first decides the compiler), extra flags, per-variant or not. */
const PROGRAMS = {
  calls: ['calls.c'],
  calls_static: ['calls.c', '-static'],
  recursion: ['recursion.c'],
  tailcall: ['tailcall.c'],
  longjmp: ['longjmp.c'],
  nested: ['nested.c'],
  calltree: ['calltree.c'],
  inflight: ['inflight.c'],
  override: ['override.c'],
  selftrap: ['selftrap.c'],
  crash: ['crash.c'],
  loop: ['loop.c'],
  sleeper: ['sleeper.c'],
  threads: ['threads.c', '-lpthread'],
  thread_exit: ['thread_exit.c', '-lpthread'],
  exceptions: ['exceptions.cc'],
  cancel: ['cancel.c', '-lpthread'],
  forker: ['forker.c'],
  execer: ['execer.c'],
  spinner: ['spinner.c', '-lpthread'],
  flood: ['flood.c'],
  vforker: ['vforker.c'],
  orphan: ['orphan.c'],
  signals: ['signals.c'],
  hangup: ['hangup.c'],
  cxxnames: ['cxxnames.cc'],
  dlopen_main: ['dlopen_main.c', '-ldl'],
  dlclose_main: ['dlclose_main.c', '-ldl'],
  exec_then_fork: ['exec_then_fork.c'],
  slow_calls: ['slow_calls.c'],
  setjmp_twice: ['setjmp_twice.c'],
  dlsym_next: ['dlsym_next.c', '-ldl'],
  coroutine: ['coroutine.c'],
  stray_call: ['stray_call.c'],
  vfork_inflight: ['vfork_inflight.c'],
  spawn_twice: ['spawn_twice.c'],
  vfork_traceme: ['vfork_traceme.c'],
  retype_main: ['retype_main.c', '-ldl'],
  ring_flood: ['ring_flood.c'],
  libc_strings: ['libc_strings.c', '-fno-builtin'],
  scribbler: ['scribbler.c'],
  many_threads: ['many_threads.c', '-lpthread'],
  daemonize: ['daemonize.c'],
  deep_recursion: ['deep_recursion.c', '-lpthread'],
  string_reuse: ['string_reuse.c'],
  unwind_backtrace: ['unwind_backtrace.c', '-rdynamic'],
  busy_threads: ['busy_threads.c', '-lpthread'],
  held: ['held.c'],
  nested_calls: ['nested_calls.c'],
  ...(X86 ? { ripfirst: ['ripfirst_main.c', 'ripfirst.S'], vexfirst: ['vexfirst_main.c', 'vexfirst.S'], emulated: ['emulated_main.c', 'emulated.S'], patch_window: ['patch_window_main.c', 'patch_window.S'] } : {}),
  tailjump_chain: ['tailjump_main.c', 'tailjump.S', '-DCHAIN'],
  tailjump_short: ['tailjump_main.c', 'tailjump.S', '-DSHORT'],
  exception_mixed: ['exception_mixed.cc', 'exception_mixed.S'],
  exception_relay: ['exception_mixed.cc', 'exception_mixed.S', '-DRELAY'],
};

/**
 * Programs with debug information (test/types.test.ts, backtraces): -g at
 * -O0 and at -O2 without frame pointers; `types.split` has its debug
 * information in a separate file under DEBUG_ROOT/.build-id/ (found by
 * build-id, as Debian's -dbgsym packages install it); `types.stripped` has
 * no symbol table at all.
 */
const TYPED = {
  'types.g-O0': ['types.c', '-g', '-O0'],
  'types.g-O2': ['types.c', '-g', '-O2', '-fomit-frame-pointer'],
  'deep.g-O0': ['deep.c', '-g', '-O0'],
  'deep.g-O2': ['deep.c', '-g', '-O2', '-fomit-frame-pointer'],
  'cxxvalues.g-O0': ['cxxvalues.cc', '-g', '-O0'],
  'cxxvalues.g-O2': ['cxxvalues.cc', '-g', '-O2'],
  'ustrings.g-O0': ['ustrings.c', '-g', '-O0'],
  'ustrings.g-O2': ['ustrings.c', '-g', '-O2'],
  'fills.g-O0': ['fills.c', '-g', '-O0'],
  'fills.g-O2': ['fills.c', '-g', '-O2'],
};
const DEBUG_ROOT = path.join(OUT, 'debug-root');

function buildTyped() {
  for (const [out, [src, ...flags]] of Object.entries(TYPED)) {
    const o = path.join(OUT, out);
    if (newer(o, [path.join(SRC, src), __filename])) execFileSync(src.endsWith('.cc') ? 'g++' : 'gcc', [...flags, '-o', o, path.join(SRC, src)], { stdio: 'inherit' });
  }
  const split = path.join(OUT, 'types.split');
  if (newer(split, [path.join(SRC, 'types.c'), __filename])) {
    execFileSync('gcc', ['-g', '-O0', '-o', split, path.join(SRC, 'types.c')], { stdio: 'inherit' });
    const id = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', split], { encoding: 'utf8' }))[1];
    const dir = path.join(DEBUG_ROOT, '.build-id', id.slice(0, 2));
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('objcopy', ['--only-keep-debug', split, path.join(dir, `${id.slice(2)}.debug`)]);
    execFileSync('strip', ['--strip-debug', split]);
  }
  const stripped = path.join(OUT, 'types.stripped');
  if (newer(stripped, [path.join(SRC, 'types.c'), __filename])) {
    execFileSync('gcc', ['-O0', '-o', stripped, path.join(SRC, 'types.c')], { stdio: 'inherit' });
    execFileSync('strip', ['-s', stripped]);
  }
}

function newer(out, inputs) {
  if (!fs.existsSync(out)) return true;
  const t = fs.statSync(out).mtimeMs;
  return inputs.some((i) => fs.statSync(i).mtimeMs > t);
}

/** The shared libraries: output name -> source, extra flags. */
const LIBS = {
  'libplugin.so': ['dlopen_lib.c'],
  'libhd.so': ['hd_lib.c'],
  'libffidemo.so': ['libffidemo.c'],
  'libreload_a.so': ['dlclose_lib.c', '-DNAME=a_work'],
  'libreload_b.so': ['dlclose_lib.c', '-DNAME=b_work'],
  'libretype_a.so': ['retype_lib.c', '-g', '-DRETYPE_A'],
  'libretype_b.so': ['retype_lib.c', '-g'],
};

/** Builds one program of PROGRAMS in one variant (e.g. "calls.O0"), or one of LIBS, if it changed. */
function buildOne(file) {
  if (LIBS[file]) {
    const [src, ...flags] = LIBS[file];
    const out = path.join(OUT, file);
    if (newer(out, [path.join(SRC, src), __filename])) execFileSync('gcc', ['-O2', '-shared', '-fPIC', ...flags, '-o', out, path.join(SRC, src)], { stdio: 'inherit' });
    return;
  }
  const dot = file.indexOf('.');
  const [name, v] = [file.slice(0, dot), file.slice(dot + 1)];
  const spec = PROGRAMS[name];
  if (!spec || !VARIANTS[v]) throw new Error(`build-fixtures: no fixture ${file}`);
  const srcs = spec.filter((s) => !s.startsWith('-')).map((s) => path.join(SRC, s));
  const libs = spec.filter((s) => s.startsWith('-'));
  const cc = srcs[0].endsWith('.cc') ? 'g++' : 'gcc';
  const out = path.join(OUT, file);
  if (newer(out, [...srcs, __filename])) execFileSync(cc, [...VARIANTS[v], '-g0', '-o', out, ...srcs, ...libs], { stdio: 'inherit' });
}

/** Builds only the fixtures named (e.g. ["calls.O0", "libplugin.so"]): for the unit tests, which read a few as files. */
function buildOnly(files) {
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of files) buildOne(f);
}

function build() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const name of Object.keys(PROGRAMS)) for (const v of Object.keys(VARIANTS)) buildOne(`${name}.${v}`);
  for (const lib of Object.keys(LIBS)) buildOne(lib);
  buildTyped();
  buildGo();
  buildMusl();
  buildRust();
}

/**
 * The Rust fixture (panics unwinding through hooked functions), built with
 * rustc when it is installed (.ci/run installs Debian's): optimized, with
 * and without frame pointers.
 */
const RUST = { 'panics.rust-O2': ['-O'], 'panics.rust-O2-fp': ['-O', '-C', 'force-frame-pointers=yes'] };

function haveRustc() {
  try {
    execFileSync('rustc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function buildRust() {
  if (!haveRustc()) return;
  const src = path.join(SRC, 'panics.rs');
  for (const [out, flags] of Object.entries(RUST)) {
    const o = path.join(OUT, out);
    if (newer(o, [src, __filename])) execFileSync('rustc', [...flags, '-C', 'debuginfo=0', '-o', o, src], { stdio: 'inherit' });
  }
}

/**
 * musl fixtures (Alpine's C library), built with Debian's musl-tools when it is
 * installed (.ci/run installs it): dynamically (musl's libc.so is also its
 * dynamic linker) and statically, at -O0 and -O2.
 */
const MUSL = {
  calls: ['calls.c'],
  recursion: ['recursion.c'],
  longjmp: ['longjmp.c'],
  threads: ['threads.c'],
  override: ['override.c'],
  dlopen_main: ['dlopen_main.c'],
};
const MUSL_GCC = '/usr/bin/musl-gcc';

function buildMusl() {
  if (!fs.existsSync(MUSL_GCC)) return;
  for (const [name, srcs] of Object.entries(MUSL)) {
    const files = srcs.map((s) => path.join(SRC, s));
    for (const [v, flags] of [['dyn', ['-O0']], ['dyn-O2', ['-O2']], ['static', ['-O0', '-static']], ['static-O2', ['-O2', '-static']]]) {
      const out = path.join(OUT, `${name}.musl-${v}`);
      if (newer(out, [...files, __filename])) execFileSync(MUSL_GCC, [...flags, '-g0', '-o', out, ...files], { stdio: 'inherit' });
    }
  }
  const lib = path.join(OUT, 'libplugin-musl.so');
  const src = path.join(SRC, 'dlopen_lib.c');
  if (newer(lib, [src, __filename])) execFileSync(MUSL_GCC, ['-O2', '-shared', '-fPIC', '-o', lib, src], { stdio: 'inherit' });
}

/** Go fixtures, built with Debian's golang-go when it is installed (.ci/run installs it). */
function buildGo() {
  const go = ['/usr/bin/go', '/usr/lib/go/bin/go'].find((g) => fs.existsSync(g));
  if (!go) return;
  const src = path.join(SRC, 'goroutines.go');
  const out = path.join(OUT, 'goroutines.go');
  if (!newer(out, [src])) return;
  const cache = path.join(OUT, '.gocache');
  execFileSync(go, ['build', '-o', out, src], {
    stdio: 'inherit',
    cwd: SRC,
    env: { ...process.env, GOCACHE: cache, GOPATH: path.join(cache, 'path'), GO111MODULE: 'off', GOFLAGS: '', CGO_ENABLED: '0' },
  });
}

module.exports = { build, buildOnly, newer, OUT, DEBUG_ROOT, VARIANTS: Object.keys(VARIANTS), MUSL_GCC, RUST: Object.keys(RUST), haveRustc };
if (require.main === module) build();
