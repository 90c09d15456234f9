// The one line said when the native addon cannot be loaded (lib/addon-error.ts).
import { debianPackageOf, explainAddonError } from '../../lib/addon-error';

const dlopen = (m: string) => Object.assign(new Error(m), { code: 'ERR_DLOPEN_FAILED' });

test('names a missing system library and its Debian package', () => {
  const line = explainAddonError(dlopen('libdw.so.1: cannot open shared object file: No such file or directory'), 'linux', 'x64');
  expect(line).toBe('the native addon needs the system library libdw.so.1, which is not installed: apt-get install libdw1 (Debian/Ubuntu), or your distribution\'s package providing libdw.so.1');
  expect(explainAddonError(dlopen('libelf.so.1: cannot open shared object file: No such file or directory'), 'linux', 'arm64')).toContain('apt-get install libelf1 ');
  // Libraries outside the table: Debian's naming rule.
  expect(debianPackageOf('libunwind.so.8')).toBe('libunwind8');
  expect(debianPackageOf('libbz2.so.1.0')).toBe('libbz2-1.0');
  expect(debianPackageOf('libfoo2.so.3')).toBe('libfoo2-3');
  expect(debianPackageOf('libz.so.1')).toBe('zlib1g');
});

test('says when the C library is too old for the binary, and how to build from source', () => {
  const line = explainAddonError(dlopen("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by /x/prebuilds/linux-x64/rethook.glibc.node)"), 'linux', 'x64');
  expect(line).toMatch(/needs GLIBC_2\.38, newer than this system's: build it from source with `npm rebuild rethook`/);
});

test('says when there is no binary for this platform', () => {
  const e = new Error('No native build was found for platform=linux arch=x64 runtime=node abi=115 uv=1 libc=musl node=20.19.0\n    loaded from: /x\n');
  expect(explainAddonError(e, 'linux', 'x64')).toMatch(/^no native addon for linux-x64 with musl \(prebuilt ones are for linux-x64 and linux-arm64 with glibc, and none was built from source\): build it with `npm rebuild rethook`/);
  expect(explainAddonError(e, 'darwin', 'arm64')).toBe('rethook runs on Linux x86-64 and arm64 only (this is darwin-arm64)');
  expect(explainAddonError(new Error('weird\nsecond line'), 'linux', 'x64')).toBe('the native addon could not be loaded: weird');
});
