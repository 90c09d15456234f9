// The CLI's own modules compiled from V8's code cache: compiling them (about
// a hundred files) was the largest part of rethook's start-up, and the program
// waits for it. Node 22.1+ does this itself (module.enableCompileCache); on
// older Node, the cache is ours: one file per installation and Node version in
// the user's cache directory ($XDG_CACHE_HOME/rethook or ~/.cache/rethook, never
// a shared one such as /tmp), holding each module's cached code under its size and
// modification time. A module not in it (or changed) is compiled as usual, and
// the file is written again at exit, whole, by rename (concurrent runs never
// see half of one). V8 checks the data it is given and rejects what does not
// fit: the module is then compiled from source. RETHOOK_NO_COMPILE_CACHE=1
// turns it off.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';

/** The directory whose modules are cached: this package's dist/. */
const ROOT = path.join(__dirname, '..');
const MAGIC = 'rethook-compile-cache-1\n';

interface Entry {
  mtimeMs: number;
  size: number;
  data: Buffer;
}

type CompileFn = (this: NodeModule, content: string, filename: string) => unknown;
interface ModuleInternals {
  prototype: { _compile: CompileFn; require(id: string): unknown };
  wrap(content: string): string;
  _resolveFilename(request: string, parent: NodeModule, isMain: boolean, options?: unknown): string;
  _extensions: unknown;
  _cache: unknown;
}

export function enableCompileCache(): void {
  if (process.env.RETHOOK_NO_COMPILE_CACHE) return;
  const Module = require('module') as ModuleInternals & { enableCompileCache?: (dir?: string) => unknown };
  if (typeof Module.enableCompileCache === 'function') {
    Module.enableCompileCache(path.dirname(cacheFile())); // in the user's cache directory, not Node's default in /tmp
    return;
  }
  const file = cacheFile();
  const entries = readCache(file);
  const fresh = new Map<string, vm.Script>();
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (this: NodeModule, content: string, filename: string): unknown {
    if (!filename.startsWith(ROOT + path.sep) || !filename.endsWith('.js')) return compile.call(this, content, filename);
    let st: fs.Stats;
    try {
      st = fs.statSync(filename);
    } catch {
      return compile.call(this, content, filename);
    }
    const key = path.relative(ROOT, filename);
    const hit = entries.get(key);
    const cachedData = hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size ? hit.data : undefined;
    const script = new vm.Script(Module.wrap(content), { filename, cachedData });
    if (!cachedData || script.cachedDataRejected) {
      fresh.set(key, script);
      entries.set(key, { mtimeMs: st.mtimeMs, size: st.size, data: Buffer.alloc(0) });
    }
    const fn = script.runInThisContext({ displayErrors: true }) as (...a: unknown[]) => unknown;
    return fn.call(this.exports, this.exports, requireFor(Module, this), this, filename, path.dirname(filename));
  };
  // At exit, what ran is compiled: the cache then holds the functions the run used too.
  process.once('exit', () => {
    if (!fresh.size) return;
    for (const [key, script] of fresh) entries.get(key)!.data = script.createCachedData();
    writeCache(file, entries);
  });
}

/** A module's `require`, as Node makes it. */
function requireFor(Module: ModuleInternals, mod: NodeModule): NodeJS.Require {
  const req = ((id: string) => mod.require(id)) as NodeJS.Require;
  req.resolve = ((request: string, options?: unknown) => Module._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  req.main = require.main;
  req.extensions = Module._extensions as NodeJS.RequireExtensions;
  req.cache = Module._cache as NodeJS.Dict<NodeModule>;
  return req;
}

/** One cache per installation (dist/ path), Node and V8 version, architecture and user. */
function cacheFile(): string {
  let h = 0x811c9dc5;
  for (const c of `${ROOT}\0${process.version}\0${process.versions.v8}\0${process.arch}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  // The user's own cache directory, never a shared one (/tmp): nothing for another user to plant or race, and a
  // traced session leaves no file where others could see it (test/local-attacker.test.ts looks in /tmp and /dev/shm).
  const base = process.env.XDG_CACHE_HOME && path.isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'rethook', `compile-cache-${h.toString(16)}.bin`);
}

/**
 * Whether `st` is ours alone: owned by us, writable by no one else. Code read
 * from the cache runs as we do (often root): a file or directory another user
 * could have written is never used.
 */
function private_(st: fs.Stats): boolean {
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  return st.uid === uid && (st.mode & 0o022) === 0;
}

/** The entries of the cache file: none when it is missing or not ours. */
function readCache(file: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  let b: Buffer;
  try {
    const dir = fs.lstatSync(path.dirname(file));
    if (!dir.isDirectory() || !private_(dir)) return out;
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || !private_(st)) return out;
      b = Buffer.allocUnsafe(st.size);
      if (fs.readSync(fd, b, 0, st.size, 0) !== st.size) return out;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return out;
  }
  try {
    if (b.toString('latin1', 0, MAGIC.length) !== MAGIC) return out;
    let o = MAGIC.length;
    const count = b.readUInt32LE(o);
    o += 4;
    for (let i = 0; i < count; i++) {
      const nameLen = b.readUInt32LE(o);
      const name = b.toString('utf8', o + 4, o + 4 + nameLen);
      o += 4 + nameLen;
      const mtimeMs = b.readDoubleLE(o), size = b.readDoubleLE(o + 8), dataLen = b.readUInt32LE(o + 16);
      o += 20;
      if (o + dataLen > b.length) return new Map();
      out.set(name, { mtimeMs, size, data: b.subarray(o, o + dataLen) });
      o += dataLen;
    }
  } catch {
    return new Map(); // cut short: compile from source
  }
  return out;
}

function writeCache(file: string, entries: Map<string, Entry>): void {
  const parts: Buffer[] = [Buffer.from(MAGIC, 'latin1')];
  const count = Buffer.alloc(4);
  let n = 0;
  for (const [name, e] of entries) {
    if (!e.data.length) continue;
    const nameBuf = Buffer.from(name, 'utf8');
    const head = Buffer.alloc(4 + nameBuf.length + 20);
    head.writeUInt32LE(nameBuf.length, 0);
    nameBuf.copy(head, 4);
    head.writeDoubleLE(e.mtimeMs, 4 + nameBuf.length);
    head.writeDoubleLE(e.size, 12 + nameBuf.length);
    head.writeUInt32LE(e.data.length, 20 + nameBuf.length);
    parts.push(head, e.data);
    n++;
  }
  count.writeUInt32LE(n, 0);
  parts.splice(1, 0, count);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const dir = fs.lstatSync(path.dirname(file));
    if (!dir.isDirectory() || !private_(dir)) return;
    const tmp = `${file}.${process.pid}`;
    fs.writeFileSync(tmp, Buffer.concat(parts), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    // No cache this time: the next run compiles from source again.
  }
}
