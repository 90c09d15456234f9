// The type machinery without a tracee: declarations and specs, built-in
// prototypes, calling conventions, call names, Rust and C++ demangling.
import { returnAbi } from '../../lib/arch';
import { locateArgs, returnsInMemory } from '../../lib/types/abi';
import { builtinPrototype, builtinPrototypes } from '../../lib/types/prototypes';
import { callName } from '../../lib/types/render';
import { parseDeclaration, parsePrototypes, parseType, signatureFromOptions, splitFunctionSpec } from '../../lib/types/spec';
import { demangle } from '../../lib/native';

test('C-like and short declarations give names, types, variadics and return types', () => {
  const d = parseDeclaration('int lookup(const char *key, int len);');
  expect(d.pattern).toBe('lookup');
  expect(d.sig.params.map((p) => [p.name, p.type.n, p.type.k])).toEqual([['key', 'const char *', 'ptr'], ['len', 'int', 'int']]);
  expect(d.sig.ret).toMatchObject({ n: 'int', k: 'int', s: 4, sg: true });
  const s = parseDeclaration('kv_*(str, u64 n, ...) -> double');
  expect([s.pattern, s.sig.variadic, s.sig.params.map((p) => p.name), s.sig.ret?.n]).toEqual(['kv_*', true, [null, 'n'], 'double']);
  expect(parseDeclaration('void f(void)').sig).toMatchObject({ params: [], ret: { k: 'void' } });
  expect(parseDeclaration('char **g(char **argv, void (*cb)(int))').sig.params.map((p) => p.type.n)).toEqual(['char **', 'void (*)(int)']);
  expect(parseType('unsigned long long')).toMatchObject({ k: 'int', s: 8, sg: false });
  expect(parseType('signed char')).toMatchObject({ k: 'int', s: 1, sg: true });
  expect(parseType('signed char')!.c).toBeUndefined(); // a small integer, not a character
  expect(parseType('struct stat *')).toMatchObject({ k: 'ptr', to: { k: 'struct', n: 'struct stat' } });
  expect(() => parseDeclaration('int f(wat)')).toThrow("prototype 'int f(wat)': cannot read the type 'wat'");
  expect(() => parsePrototypes('int ok(int);\nbad(\n', 'spec', 'p.h')).toThrow(/^p\.h:2: /);
  expect(signatureFromOptions(['str', { name: 'n', type: 'i32' }, '...'], 'void')).toMatchObject({ variadic: true, ret: { k: 'void' }, params: [{ name: null }, { name: 'n' }] });
  expect(() => signatureFromOptions('str', undefined)).toThrow(TypeError);
});

test('-f takes a spec only where it cannot be a C++ name with its parameters', () => {
  expect(splitFunctionSpec('geo::area(int, int)')).toEqual({ pattern: 'geo::area(int, int)', decl: null });
  expect(splitFunctionSpec('area(int, int)').decl).toBeNull();
  expect(splitFunctionSpec('lookup(str, int)').pattern).toBe('lookup');
  expect(splitFunctionSpec('lookup(const char *key)').pattern).toBe('lookup');
  expect(splitFunctionSpec('geo::area(int, int) -> int').pattern).toBe('geo::area');
  expect(splitFunctionSpec('libz.so.1:crc32(ulong crc, ptr buf, uint len) -> ulong').pattern).toBe('libz.so.1:crc32');
  expect(splitFunctionSpec('sqlite3_*').decl).toBeNull();
});

test('the built-in prototypes cover the common C library functions', () => {
  for (const f of ['strlen', 'memcpy', 'malloc', 'free', 'open', 'read', 'fopen', 'printf', 'getpid', 'fork', 'usleep', 'nanosleep', 'socket', 'qsort', 'sqrt'])
    expect(builtinPrototype(f)).not.toBeNull();
  expect(builtinPrototype('open')).toMatchObject({ variadic: true, params: [{ name: 'pathname' }, { name: 'flags', type: { fmt: 'hex' } }] });
  expect(builtinPrototype('no_such_function')).toBeNull();
});

test('each built-in prototype, looked up by name alone, is the one the whole table declares for it', () => {
  const all = new Map(builtinPrototypes().map((d) => [d.pattern, d.sig]));
  expect(all.size).toBeGreaterThan(250);
  for (const [name, sig] of all) expect(builtinPrototype(name)).toEqual(sig);
});

(process.arch === 'x64' ? test : test.skip)('x86-64: arguments go to integer, SSE and stack locations as the System V ABI says', () => {
  const sig = parseDeclaration('f(double d, long a, float f)').sig;
  const mixed = { n: 'struct mixed', k: 'struct' as const, s: 16, m: [{ n: 'd', o: 0, t: { n: 'double', k: 'float' as const, s: 8 } }, { n: 'l', o: 8, t: { n: 'long', k: 'int' as const, s: 8, sg: true } }] };
  const big = { n: 'struct big', k: 'struct' as const, s: 24, m: [] };
  const locs = locateArgs({ ...sig, params: [...sig.params.slice(0, 3), { name: 's', type: mixed }, { name: 'b', type: big }, { name: 'x', type: { n: 'int', k: 'int', s: 4, sg: true } }] });
  expect(locs).toEqual([
    [{ src: 'fp', reg: 0, bytes: 8 }], [{ src: 'int', reg: 0, bytes: 8 }], [{ src: 'fp', reg: 1, bytes: 4 }],
    [{ src: 'fp', reg: 2, bytes: 8 }, { src: 'int', reg: 1, bytes: 8 }],
    [{ src: 'stack', offset: 8, bytes: 24 }], [{ src: 'int', reg: 2, bytes: 4 }],
  ]);
});

test('a result returned in memory moves the arguments one register on where its hidden pointer takes the first (x86-64 rdi), not where it has its own (arm64 x8)', () => {
  const int = { n: 'int', k: 'int' as const, s: 4, sg: true };
  const cstr = parseType('const char *')!;
  const params = [{ name: 'name', type: cstr }, { name: 'n', type: int }];
  const str = { n: 'string', k: 'struct' as const, s: 32, nt: true, m: [] }; // not trivially copyable: in memory
  const pair = { n: 'Pair', k: 'struct' as const, s: 8, m: [{ n: 'a', o: 0, t: int }, { n: 'b', o: 4, t: int }] }; // in registers
  const big = { n: 'Box', k: 'struct' as const, s: 32, m: [{ n: 'x', o: 0, t: { n: 'long', k: 'int' as const, s: 8, sg: true } }] }; // in memory by size
  const first = returnAbi.resultShiftsArgs ? 1 : 0;
  for (const ret of [str, big]) {
    expect(returnsInMemory(ret)).toBe(true);
    expect(locateArgs({ params, ret, variadic: false, source: 'dwarf' })).toEqual([[{ src: 'int', reg: first, bytes: 8 }], [{ src: 'int', reg: first + 1, bytes: 4 }]]);
  }
  expect(returnsInMemory(pair)).toBe(false);
  expect(locateArgs({ params, ret: pair, variadic: false, source: 'dwarf' })).toEqual([[{ src: 'int', reg: 0, bytes: 8 }], [{ src: 'int', reg: 1, bytes: 4 }]]);
  expect(returnAbi.resultShiftsArgs).toBe(process.arch === 'x64');
});

test('calls show C++ names without their parameter list', () => {
  expect(callName('Parser::parse_factor(int) const')).toBe('Parser::parse_factor');
  expect(callName('geo::area(int, int)')).toBe('geo::area');
  expect(callName('Functor::operator()(int)')).toBe('Functor::operator()');
  expect(callName('std::vector<int, std::allocator<int> >::push_back(int const&)')).toBe('std::vector<int, std::allocator<int> >::push_back');
  expect(callName('kv_put')).toBe('kv_put');
});

test('Rust symbols are demangled without their hash (legacy and v0), C++ as before', () => {
  expect(demangle(['_ZN4core3fmt5write17h0123456789abcdefE', '_RNvNtCs1234_7mycrate3foo3bar', '_ZN3geo4areaEii', 'plain'])).toEqual([
    'core::fmt::write', 'mycrate::foo::bar', 'geo::area(int, int)', 'plain',
  ]);
});
