// libc's string and memory functions in fast mode: the variants its IFUNCs
// pick on this CPU (AVX2, EVEX: VEX- and EVEX-encoded code, decoded whole)
// are patched, none left in trap mode, and their calls are seen exactly, with
// their return values, while the program's output is unchanged
// (libc_strings.c). The IFUNC variants are x86-64 code: skipped elsewhere.
import { fixture, trace, untraced, VARIANTS } from './helpers';

const LIBC = ['strlen', 'memcpy', 'memset', 'strcmp', 'memchr', 'strchr', 'memmove', 'strncmp', 'memcmp', 'strrchr', 'stpcpy'];

interface Call {
  fn: string;
  arg0: bigint;
  ret: bigint | null;
}

const x86 = process.arch === 'x64' ? describe.each(VARIANTS.filter((v) => v.startsWith('O2'))) : describe.skip.each(['O2']);

x86('libc string functions in fast mode (%s)', (v) => {
  test('strlen, memcpy, memset, strcmp, memchr, strchr, memmove, strncmp, memcmp, strrchr and stpcpy are patched, and each call is seen once with its return value', async () => {
    const file = fixture('libc_strings', v);
    const plain = untraced(file);
    expect(plain.status).toBe(0);
    // The compares' values are the implementation's (a byte difference): the untraced run says them.
    const m = /^strlen=71,0,31 memcpy=\+0,\+0 memset=\+100 strcmp=(-\d+),0 memchr=\+37 strchr=\+4\nmemmove=\+1 strncmp=0 memcmp=(-\d+) strrchr=\+56 stpcpy=\+9 buf=fast mode big=tthe quick brown fox jum\|xx\n$/.exec(plain.stdout);
    expect(m).not.toBeNull();
    const [cmp1, mcmp] = [BigInt(m![1]), BigInt(m![2])];

    const calls: Call[] = [];
    const open: Call[] = [];
    const r = await trace(file, ['calls_begin', 'calls_end', ...LIBC.map((f) => `libc.so.6:${f}`)], {
      mode: 'fast',
      handlers: {
        onEntry: (c) => {
          const call = { fn: c.function, arg0: c.args[0], ret: null };
          calls.push(call);
          open.push(call);
        },
        onExit: (c) => void (open.pop()!.ret = c.retval),
      },
    });
    expect(r.hook.fellBack).toEqual([]);
    expect({ code: r.status.code, signal: r.status.signal }).toEqual({ code: 0, signal: null });
    expect(r.stdout).toBe(plain.stdout);
    expect(open).toEqual([]);

    // Functions sharing an implementation (memcpy and memmove, on most
    // machines) are one site: its calls carry the name hooked there first.
    const sites = r.hook.functions;
    const nameOf = (f: string) => {
      const at = sites.find((s) => s.function === f)!.address;
      return sites.find((s) => s.address === at)!.function;
    };
    for (const f of LIBC) expect(sites.some((s) => s.function === f)).toBe(true);

    const begin = calls.findIndex((c) => c.fn === 'calls_begin');
    const end = calls.findIndex((c) => c.fn === 'calls_end');
    expect(begin).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(begin);
    // Integers as the function returned them (int in the low 32 bits); pointers as offsets from the first argument.
    const seen = calls.slice(begin + 1, end).map((c) => {
      const pointer = ['memcpy', 'memset', 'memchr', 'strchr', 'memmove', 'strrchr', 'stpcpy'].some((f) => nameOf(f) === c.fn);
      return `${c.fn} ${pointer ? `+${c.ret! - c.arg0}` : c.fn === nameOf('strlen') ? c.ret : BigInt.asIntN(32, c.ret!)}`;
    });
    expect(seen).toEqual([
      `${nameOf('strlen')} 71`,
      `${nameOf('strlen')} 0`,
      `${nameOf('strlen')} 31`,
      `${nameOf('memcpy')} +0`,
      `${nameOf('memcpy')} +0`,
      `${nameOf('memset')} +0`,
      `${nameOf('strcmp')} ${cmp1}`,
      `${nameOf('strcmp')} 0`,
      `${nameOf('memchr')} +37`,
      `${nameOf('strchr')} +4`,
      `${nameOf('memmove')} +0`,
      `${nameOf('strncmp')} 0`,
      `${nameOf('memcmp')} ${mcmp}`,
      `${nameOf('strrchr')} +56`,
      `${nameOf('stpcpy')} +9`,
    ]);
  });
});
