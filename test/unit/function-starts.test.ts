// Where no function starts: filler between functions is
// refused as a function start on either architecture; ordinary first
// instructions are not. (Moved from hostile-input.test.ts: it needs no program.)
import { arm64NotAFunctionStart } from '../../lib/arch/arm64';
import { x86NotAFunctionStart } from '../../lib/arch/x86_64';

test('filler is no function start on either architecture; ordinary first instructions are', () => {
  const b = (...x: number[]) => Buffer.from(x);
  expect([
    x86NotAFunctionStart(0x1000, b(0xcc, 0xcc, 0xcc, 0xcc)),
    x86NotAFunctionStart(0x1000, b(0x00, 0x00, 0x00, 0x00)),
    x86NotAFunctionStart(0x1000, b(0xf3, 0x0f, 0x1e, 0xfa)), // endbr64
    x86NotAFunctionStart(0x1001, b(0x55, 0x48, 0x89, 0xe5)), // push %rbp; mov %rsp,%rbp (any address)
    arm64NotAFunctionStart(0x1002, b(0xfd, 0x7b, 0xbf, 0xa9)),
    arm64NotAFunctionStart(0x1000, b(0x00, 0x00, 0x00, 0x00)),
    arm64NotAFunctionStart(0x1000, b(0xfd, 0x7b, 0xbf, 0xa9)), // stp x29, x30, [sp, #-16]!
  ]).toEqual([
    expect.stringMatching(/int3/),
    expect.stringMatching(/zeros/),
    null,
    null,
    expect.stringMatching(/not a multiple of 4/),
    expect.stringMatching(/zero \(udf #0/),
    null,
  ]);
});
