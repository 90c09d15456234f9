// Why the native addon could not be loaded, in one line that says how to fix
// it. Kept apart from native.ts so it can be tested (and used by the CLI)
// without loading the addon.

/** Debian/Ubuntu packages of the system libraries the addon may link. */
const DEBIAN_PACKAGES: Record<string, string> = {
  'libdw.so.1': 'libdw1',
  'libelf.so.1': 'libelf1',
  'libstdc++.so.6': 'libstdc++6',
  'libgcc_s.so.1': 'libgcc-s1',
  'libz.so.1': 'zlib1g',
  'liblzma.so.5': 'liblzma5',
  'libzstd.so.1': 'libzstd1',
  'libbz2.so.1.0': 'libbz2-1.0',
};

/** The Debian package that usually provides a soname: the table, else Debian's naming rule (libfoo.so.1 -> libfoo1). */
export function debianPackageOf(soname: string): string {
  if (DEBIAN_PACKAGES[soname]) return DEBIAN_PACKAGES[soname];
  const m = /^(lib[\w+.-]*?)\.so\.([\d.]+)$/.exec(soname);
  if (!m) return soname.replace(/\.so.*$/, '');
  return /\d$/.test(m[1]) ? `${m[1]}-${m[2]}` : `${m[1]}${m[2]}`;
}

/**
 * One line for an error thrown while loading the addon (by node-gyp-build or
 * dlopen): a system library missing (named, with the Debian package), a
 * binary built against a newer C library, no binary for this platform, or
 * anything else (its first line).
 */
export function explainAddonError(e: unknown, platform: string = process.platform, arch: string = process.arch): string {
  const msg = String((e as Error)?.message ?? e).trim();
  const first = msg.split('\n')[0];
  if (platform !== 'linux' || (arch !== 'x64' && arch !== 'arm64')) {
    return `rethook runs on Linux x86-64 and arm64 only (this is ${platform}-${arch})`;
  }
  // dlopen: "libdw.so.1: cannot open shared object file: No such file or directory"
  const missing = /([^\s:/]+\.so[\w.]*): cannot open shared object file/.exec(msg);
  if (missing) {
    const lib = missing[1];
    return `the native addon needs the system library ${lib}, which is not installed: apt-get install ${debianPackageOf(lib)} (Debian/Ubuntu), or your distribution's package providing ${lib}`;
  }
  // dlopen: "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by .../rethook.node)"
  const version = /version `([^']+)' not found/.exec(msg);
  if (version) {
    return `the native addon needs ${version[1]}, newer than this system's: build it from source with \`npm rebuild rethook\` (needs g++, make and python3)`;
  }
  // node-gyp-build: "No native build was found for platform=linux arch=x64 runtime=node abi=115 uv=1 libc=musl node=20.x"
  const none = /No native build was found for (.*)/.exec(first);
  if (none) {
    const libc = /libc=(\w+)/.exec(none[1])?.[1] ?? 'glibc';
    return `no native addon for linux-${arch}${libc === 'glibc' ? '' : ` with ${libc}`} (prebuilt ones are for linux-x64 and linux-arm64 with glibc, and none was built from source): build it with \`npm rebuild rethook\` (needs g++, make and python3)`;
  }
  return `the native addon could not be loaded: ${first}`;
}
