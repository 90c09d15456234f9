// -f patterns on their own: parsing `[module:]glob`, glob matching, matching
// against a module's functions, and "did you mean".
import type { FunctionSymbol, Module } from '../../lib/symbols/modules';
import { closeNames, globToRegExp, matchFunctions, moduleMatches, parsePattern } from '../../lib/symbols/patterns';

describe('parsePattern', () => {
  test.each<[string, string | null, string, boolean]>([
    ['add', null, 'add', false],
    ['libz.so.1:crc32', 'libz.so.1', 'crc32', false],
    ['libc.so.6:*', 'libc.so.6', 'anything', true],
    ['ns::f', null, 'ns::f', false],
    ['geo::area(int, int)', null, 'geo::area(int, int)', false],
    ['libgeo.so:geo::area', 'libgeo.so', 'geo::area', false],
    ['kv_*', null, 'kv_get', true],
    ['a?c', null, 'abc', true],
    ['[ab]x', null, 'bx', true],
    ['lib*.so:add', 'lib*.so', 'add', false],
  ])('%s has module %s, names %s, isGlob %s', (text, moduleText, fnName, isGlob) => {
    const p = parsePattern(text);
    expect(p.text).toBe(text);
    expect(p.moduleText).toBe(moduleText);
    expect(p.module === null).toBe(moduleText === null);
    expect(p.fn.test(fnName)).toBe(true);
    expect(p.isGlob).toBe(isGlob);
  });

  test('a C++ name with :: is not taken as a module scope', () => {
    const p = parsePattern('ns::f');
    expect(p.module).toBeNull();
    expect(p.fn.test('ns::f')).toBe(true);
    expect(p.fn.test('f')).toBe(false);
    expect(p.fn.test(':f')).toBe(false);
  });

  test('a module scope matches the module and its versioned names, and the function part alone', () => {
    const p = parsePattern('libz.so.1:crc32');
    expect(p.module!.test('libz.so.1')).toBe(true);
    expect(p.module!.test('libz.so.1.3')).toBe(true);
    expect(p.module!.test('libzz.so.1')).toBe(false);
    expect(p.fn.test('crc32')).toBe(true);
    expect(p.fn.test('libz.so.1:crc32')).toBe(false);
    expect(p.fn.test('crc32_combine')).toBe(false);
  });
});

describe('globToRegExp', () => {
  test.each<[string, boolean, string[], string[]]>([
    ['kv_*', false, ['kv_', 'kv_get', 'kv_put_all'], ['kv', 'xkv_get', 'KV_get']],
    ['*first', false, ['first', 'jmpfirst'], ['firstly', 'firs']],
    ['a?c', false, ['abc', 'a.c', 'a?c'], ['ac', 'abbc']],
    ['[abc]x', false, ['ax', 'bx', 'cx'], ['dx', 'x', 'abx', '[abc]x']],
    ['[!a]x', false, ['bx', 'zx', '!x'], ['ax', 'x']],
    ['f[0-9]', false, ['f0', 'f9'], ['fa', 'f10']],
    ['a[b', false, ['a[b'], ['ab', 'a[bc']],
    ['a.b', false, ['a.b'], ['axb']],
    ['f+', false, ['f+'], ['f', 'ff']],
    ['a|b', false, ['a|b'], ['a', 'b']],
    ['x{2}', false, ['x{2}'], ['xx']],
    ['^f$', false, ['^f$'], ['f']],
    ['operator()', false, ['operator()'], ['operator']],
    ['back\\slash', false, ['back\\slash'], ['backslash']],
    ['libz.so', true, ['libz.so', 'libz.so.1', 'libz.so.1.2.13'], ['libz.sox', 'libzxso', 'xlibz.so', 'libz.s']],
    ['libz.so', false, ['libz.so'], ['libz.so.1']],
    ['lib*.so', true, ['libc.so', 'libm.so.6'], ['ld.so', 'libc.so6']],
  ])('%s (module: %s) matches %j and not %j', (glob, isModule, yes, no) => {
    const re = globToRegExp(glob, isModule);
    for (const s of yes) expect([s, re.test(s)]).toEqual([s, true]);
    for (const s of no) expect([s, re.test(s)]).toEqual([s, false]);
  });
});

describe('matchFunctions', () => {
  /** A stand-in for a Module: a name and its functions. */
  function fakeModule(name: string, fns: [string, string][]): Module {
    const mod = { name, functions: () => list } as unknown as Module;
    const list: FunctionSymbol[] = fns.map(([display, raw], i) => ({ name: display, rawName: raw, address: 0x1000 + i * 0x10, size: 0x10, module: mod }));
    return mod;
  }
  const geo = fakeModule('libgeo.so.2', [
    ['add', 'add'],
    ['geo::area(int, int)', '_ZN3geo4areaEii'],
    ['geo::area(geo::Point const&)', '_ZN3geo4areaERKNS_5PointE'],
    ['geo::perimeter(int, int)', '_ZN3geo9perimeterEii'],
    ['geo::areas()', '_ZN3geo5areasEv'],
    ['memcpy', 'memcpy@@GLIBC_2.14'],
    ['geo::label[abi:cxx11](char const*, int)', '_ZN3geo5labelB5cxx11EPKci'],
    ['geo::Shape::name[abi:cxx11]() const', '_ZNK3geo5Shape4nameB5cxx11Ev'],
  ]);

  test.each<[string, string[]]>([
    ['add', ['add']],
    ['_ZN3geo4areaEii', ['geo::area(int, int)']],
    ['geo::area(int, int)', ['geo::area(int, int)']],
    ['geo::area', ['geo::area(int, int)', 'geo::area(geo::Point const&)']],
    ['geo::area*', ['geo::area(int, int)', 'geo::area(geo::Point const&)', 'geo::areas()']],
    ['geo::*', ['geo::area(int, int)', 'geo::area(geo::Point const&)', 'geo::perimeter(int, int)', 'geo::areas()', 'geo::label[abi:cxx11](char const*, int)', 'geo::Shape::name[abi:cxx11]() const']],
    ['_ZN3geo*', ['geo::area(int, int)', 'geo::area(geo::Point const&)', 'geo::perimeter(int, int)', 'geo::areas()', 'geo::label[abi:cxx11](char const*, int)']],
    ['memcpy', ['memcpy']],
    ['memcpy@@GLIBC_2.14', ['memcpy']],
    ['area', []],
    ['geo::area(int', []],
    // ABI tags are left out unless the pattern gives them; parameters too.
    ['geo::label', ['geo::label[abi:cxx11](char const*, int)']],
    ['geo::label(char const*, int)', ['geo::label[abi:cxx11](char const*, int)']],
    ['geo::label(int)', []],
    ['geo::label[[]abi:cxx11[]]', ['geo::label[abi:cxx11](char const*, int)']],
    ['geo::Shape::name', ['geo::Shape::name[abi:cxx11]() const']],
    ['geo::Shape::name() const', ['geo::Shape::name[abi:cxx11]() const']],
    ['libgeo.so:add', ['add']],
    ['libgeo.so.2:geo::area', ['geo::area(int, int)', 'geo::area(geo::Point const&)']],
    ['libother.so:add', []],
    ['libgeo.so.3:add', []],
  ])('%s matches %j', (pattern, expected) => {
    expect(matchFunctions(parsePattern(pattern), geo).map((f) => f.name)).toEqual(expected);
  });

  test('a plain C name containing a parenthesis is not cut at it (only demangled names are)', () => {
    const c = fakeModule('weird', [['f(x)', 'f(x)']]);
    expect(matchFunctions(parsePattern('f'), c)).toEqual([]);
    expect(matchFunctions(parsePattern('f(x)'), c).map((f) => f.rawName)).toEqual(['f(x)']);
  });

  test('moduleMatches: no scope matches every module, a scope only its own', () => {
    const other = fakeModule('libc.so.6', []);
    expect([moduleMatches(parsePattern('add'), geo), moduleMatches(parsePattern('add'), other)]).toEqual([true, true]);
    expect([moduleMatches(parsePattern('libgeo.so:add'), geo), moduleMatches(parsePattern('libgeo.so:add'), other)]).toEqual([true, false]);
    expect(moduleMatches(parsePattern('libc.so.6:add'), other)).toBe(true);
  });
});

describe('closeNames', () => {
  test.each<[string, string[], string[]]>([
    ['ad', ['add', 'sub', 'mul', 'addr', 'read', 'main'], ['add', 'addr', 'read']],
    // A swap of two neighbours is one edit (optimal string alignment): sprintf is an insertion and a swap.
    ['prinft', ['printf', 'print', 'sprintf', 'puts'], ['print', 'printf', 'sprintf']],
    ['libc.so.6:prinft', ['printf', 'print', 'sprintf', 'puts'], ['print', 'printf', 'sprintf']],
    ['grete', ['free', 'getc', 'gets', 'greet'], ['greet', 'free', 'getc']],
    ['abcd', ['badc'], ['badc']],
    ['ad*', ['add', 'sub'], ['add']],
    ['ad', ['add', 'add', 'add'], ['add']],
    ['geo::aera', ['geo::area', 'geo::perimeter'], ['geo::area']],
    ['frobnicate', ['add', 'main', 'printf'], []],
    ['x', [], []],
  ])('%s among %j suggests %j', (wanted, names, expected) => {
    expect(closeNames(wanted, names)).toEqual(expected);
  });

  test('suggests at most three, nearest first, ties in alphabetical order', () => {
    expect(closeNames('abcd', ['abcx', 'abxd', 'axcd', 'xbcd', 'abcd'])).toEqual(['abcd', 'abcx', 'abxd']);
  });

  test('accepts any iterable of names', () => {
    expect(closeNames('ad', new Set(['add', 'zzz']))).toEqual(['add']);
  });
});
