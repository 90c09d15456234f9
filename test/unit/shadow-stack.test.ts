// The shadow stack and node pool on their own: no tracee, no ptrace. Frames
// are stack pointers at function entry; stacks grow down, so an inner
// (callee) frame has a lower address than its caller's.
import { NodePool, RethookNode, RethookOwner, ShadowStack } from '../../lib/rethook';

const OWN: [number, number] = [0x7000_0000, 0x7010_0000]; // the thread's own stack, [lo, hi)
const TRAMPOLINE = 0xdead_0000;

function owner(maxActive = 64): RethookOwner {
  return { pool: new NodePool(maxActive), live: true };
}

/** A node for `name` entered with stack pointer `frame`. */
function node(name: string, frame: number, opts: { chained?: boolean; realRet?: number } = {}): RethookNode {
  const n = new RethookNode();
  n.owner = owner();
  n.fnName = name;
  n.frame = frame;
  n.chained = opts.chained ?? false;
  // A tail-called function's return address is already the trampoline.
  n.realRet = opts.realRet ?? (n.chained ? TRAMPOLINE : 0x40_0000 + frame % 0x1000);
  return n;
}

function stack(nodes: RethookNode[], range: [number, number] | null = OWN): ShadowStack {
  const s = new ShadowStack();
  s.range = range;
  for (const n of nodes) s.push(n);
  return s;
}

const names = (ns: RethookNode[]) => ns.map((n) => n.fnName);

describe('ShadowStack.popReturn', () => {
  // Each case: the nodes pushed (outermost first), the frame returning, and the outcome.
  test.each<[string, [string, number, boolean?][], number, string[], string[], string[]]>([
    ['a plain return pops the one node of its frame', [['f', 0x7008_0000]], 0x7008_0000, [], ['f'], []],
    ['a nested call returns first and leaves its caller in place', [['outer', 0x7008_0000], ['inner', 0x7007_ff00]], 0x7007_ff00, [], ['inner'], ['outer']],
    ['the caller of a nested call returns once its callee has', [['outer', 0x7008_0000]], 0x7008_0000, [], ['outer'], []],
    [
      'a tail-called function\'s node is chained to its caller\'s and both return at once, innermost first',
      [['outer', 0x7008_0000], ['inner', 0x7008_0000, true]], 0x7008_0000, [], ['inner', 'outer'], [],
    ],
    [
      'a chain of two tail calls returns all three nodes at once, innermost first',
      [['main', 0x7009_0000], ['a', 0x7008_0000], ['b', 0x7008_0000, true], ['c', 0x7008_0000, true]], 0x7008_0000, [], ['c', 'b', 'a'], ['main'],
    ],
    [
      'an unchained node at the same frame stops the pop: only the innermost returns',
      [['first', 0x7008_0000], ['second', 0x7008_0000]], 0x7008_0000, [], ['second'], ['first'],
    ],
    [
      'nodes below the returning frame are reported as unwound (a longjmp inside the returning function), innermost first',
      [['outer', 0x7008_0000], ['mid', 0x7007_f000], ['inner', 0x7007_e000]], 0x7008_0000, ['inner', 'mid'], ['outer'], [],
    ],
    [
      'a return from a frame with no node of its own returns nothing and unwinds the nodes below it',
      [['caller', 0x7009_0000], ['stale', 0x7007_0000]], 0x7008_0000, ['stale'], [], ['caller'],
    ],
    [
      'frames above the returning one are untouched',
      [['main', 0x700a_0000], ['caller', 0x7009_0000], ['f', 0x7008_0000]], 0x7008_0000, [], ['f'], ['main', 'caller'],
    ],
  ])('%s', (_name, pushed, frame, unwound, returning, left) => {
    const s = stack(pushed.map(([n, f, chained]) => node(n, f, { chained })));
    const r = s.popReturn(frame);
    expect(names(r.unwound)).toEqual(unwound);
    expect(names(r.returning)).toEqual(returning);
    expect(names(s.nodes)).toEqual(left);
    expect(s.depth).toBe(left.length);
  });

  test('after a tail call the last returning node holds the real return address', () => {
    const outer = node('outer', 0x7008_0000, { realRet: 0x40_1234 });
    const inner = node('inner', 0x7008_0000, { chained: true });
    const s = stack([outer, inner]);
    const { returning } = s.popReturn(0x7008_0000);
    expect(returning).toEqual([inner, outer]);
    expect(returning[0].realRet).toBe(TRAMPOLINE);
    expect(returning[returning.length - 1].realRet).toBe(0x40_1234);
  });

  test('nested calls return one at a time, innermost first, each with its own real return address', () => {
    const ns = [node('f5', 0x7008_0000, { realRet: 0x40_0100 }), node('f4', 0x7007_ff00, { realRet: 0x40_0200 }), node('f3', 0x7007_fe00, { realRet: 0x40_0200 })];
    const s = stack(ns);
    expect(s.top()).toBe(ns[2]);
    const order: [string, number][] = [];
    for (const f of [0x7007_fe00, 0x7007_ff00, 0x7008_0000]) {
      const r = s.popReturn(f);
      expect(r.unwound).toEqual([]);
      expect(r.returning).toHaveLength(1);
      order.push([r.returning[0].fnName, r.returning[0].realRet]);
    }
    expect(order).toEqual([['f3', 0x40_0200], ['f4', 0x40_0200], ['f5', 0x40_0100]]);
    expect(s.depth).toBe(0);
    expect(s.top()).toBeUndefined();
  });
});

describe('ShadowStack.reapAtEntry (longjmp went past hooked frames)', () => {
  const pushed: [string, number][] = [['main', 0x7009_0000], ['deep', 0x7008_0000], ['deeper', 0x7007_f000]];
  test.each<[string, number, boolean, string[], string[]]>([
    ['an entry below every frame reaps nothing (an ordinary nested call)', 0x7007_e000, false, [], ['main', 'deep', 'deeper']],
    ['frames below the entry stack pointer are dead, innermost first', 0x7008_8000, false, ['deeper', 'deep'], ['main']],
    ['the frame at the entry stack pointer is dead too (a new call reuses it)', 0x7008_0000, false, ['deeper', 'deep'], ['main']],
    ['the frame at the entry stack pointer is alive on a tail call (the tail caller shares it)', 0x7008_0000, true, ['deeper'], ['main', 'deep']],
    ['frames above the entry stack pointer survive', 0x7009_0000, true, ['deeper', 'deep'], ['main']],
    ['an entry above every frame reaps them all', 0x700a_0000, false, ['deeper', 'deep', 'main'], []],
  ])('%s', (_name, sp, tailCall, dead, left) => {
    const s = stack(pushed.map(([n, f]) => node(n, f)));
    expect(names(s.reapAtEntry(sp, tailCall))).toEqual(dead);
    expect(names(s.nodes)).toEqual(left);
  });

  test('an empty stack reaps nothing', () => {
    expect(new ShadowStack().reapAtEntry(0x7008_0000, false)).toEqual([]);
  });
});

describe('ShadowStack on a sigaltstack', () => {
  const ALT_HIGH = 0x9000_0000; // an alternate stack above the own one
  const ALT_LOW = 0x5000_0000; // and one below it

  test('the own-stack range is [lo, hi): lo is on it, hi is not; without a range every frame counts as on it', () => {
    const s = stack([]);
    expect([s.onOwnStack(OWN[0]), s.onOwnStack(OWN[1] - 1), s.onOwnStack(OWN[1]), s.onOwnStack(OWN[0] - 1)]).toEqual([true, true, false, false]);
    const unknown = stack([], null);
    expect([unknown.onOwnStack(ALT_HIGH), unknown.onOwnStack(ALT_LOW)]).toEqual([true, true]);
    unknown.push(node('h', ALT_HIGH));
    expect(unknown.nodes[0].altStack).toBe(false);
  });

  test.each([
    ['above', ALT_HIGH],
    ['below', ALT_LOW],
  ])('nodes pushed on an alternate stack %s the own stack are marked, own-stack nodes are not', (_where, alt) => {
    const s = stack([node('outer_work', 0x7008_0000), node('in_handler', alt + 0xff00)]);
    expect(s.nodes.map((n) => [n.fnName, n.altStack])).toEqual([['outer_work', false], ['in_handler', true]]);
  });

  test.each([
    ['above', ALT_HIGH],
    ['below', ALT_LOW],
  ])('a handler on an alternate stack %s the own stack returns without unwinding the interrupted frames', (_where, alt) => {
    const s = stack([node('outer_work', 0x7008_0000), node('inner_own', 0x7007_f000), node('in_handler', alt + 0xff00)]);
    const r = s.popReturn(alt + 0xff00);
    expect(names(r.unwound)).toEqual([]);
    expect(names(r.returning)).toEqual(['in_handler']);
    expect(names(s.nodes)).toEqual(['outer_work', 'inner_own']);
  });

  test.each([
    ['above', ALT_HIGH],
    ['below', ALT_LOW],
  ])('calls nested in a handler on an alternate stack %s the own stack pop in order and the interrupted frames survive entries there', (_where, alt) => {
    const s = stack([node('outer_work', 0x7008_0000), node('h1', alt + 0xff00), node('h2', alt + 0xfe00)]);
    // A new call in the handler, below h2: nothing dies.
    expect(s.reapAtEntry(alt + 0xfd00, false)).toEqual([]);
    // A new call at h1's level after h2 was longjmp'd over: h2 dies, the own-stack frame does not.
    expect(names(s.reapAtEntry(alt + 0xfe80, false))).toEqual(['h2']);
    expect(names(s.nodes)).toEqual(['outer_work', 'h1']);
    expect(names(s.popReturn(alt + 0xff00).returning)).toEqual(['h1']);
    expect(names(s.nodes)).toEqual(['outer_work']);
  });

  test('a handler nested in a handler on the alternate stack returns innermost first', () => {
    const s = stack([node('outer_work', 0x7008_0000), node('h1', ALT_HIGH + 0xff00), node('h1_callee', ALT_HIGH + 0xfe00), node('h2', ALT_HIGH + 0xf000)]);
    expect(names(s.popReturn(ALT_HIGH + 0xf000).returning)).toEqual(['h2']);
    expect(names(s.popReturn(ALT_HIGH + 0xfe00).returning)).toEqual(['h1_callee']);
    expect(names(s.popReturn(ALT_HIGH + 0xff00).returning)).toEqual(['h1']);
    expect(names(s.popReturn(0x7008_0000).returning)).toEqual(['outer_work']);
  });

  test.each([
    ['above', ALT_HIGH],
    ['below', ALT_LOW],
  ])('alternate-stack nodes (%s) are dead once the thread is back on its own stack', (_where, alt) => {
    // At an entry on the own stack.
    const s = stack([node('outer_work', 0x7008_0000), node('in_handler', alt + 0xff00)]);
    expect(names(s.reapAtEntry(0x7007_0000, false))).toEqual(['in_handler']);
    expect(names(s.nodes)).toEqual(['outer_work']);
    // At a return on the own stack: reported as unwound before the returning frame.
    const t = stack([node('outer_work', 0x7008_0000), node('h1', alt + 0xff00), node('h2', alt + 0xfe00)]);
    const r = t.popReturn(0x7008_0000);
    expect(names(r.unwound)).toEqual(['h2', 'h1']);
    expect(names(r.returning)).toEqual(['outer_work']);
    expect(t.depth).toBe(0);
  });
});

describe('ShadowStack.popAtOrBelow and drain', () => {
  const pushed: [string, number][] = [['a', 0x7009_0000], ['b', 0x7008_0000], ['c', 0x7007_0000]];
  test.each<[string, number, string[], string[]]>([
    ['pops the frames strictly below the stack pointer, innermost first', 0x7008_8000, ['c', 'b'], ['a']],
    ['pops the frame exactly at the stack pointer too', 0x7008_0000, ['c', 'b'], ['a']],
    ['pops nothing when every frame is above the stack pointer', 0x7006_0000, [], ['a', 'b', 'c']],
    ['pops everything when every frame is at or below the stack pointer', 0x7009_0000, ['c', 'b', 'a'], []],
  ])('popAtOrBelow %s', (_name, sp, popped, left) => {
    const s = stack(pushed.map(([n, f]) => node(n, f)));
    expect(names(s.popAtOrBelow(sp))).toEqual(popped);
    expect(names(s.nodes)).toEqual(left);
  });

  test('drain returns every node innermost first and leaves the stack empty', () => {
    const s = stack([...pushed.map(([n, f]) => node(n, f)), node('h', 0x9000_ff00)]);
    expect(names(s.drain())).toEqual(['h', 'c', 'b', 'a']);
    expect(s.depth).toBe(0);
    expect(s.drain()).toEqual([]);
  });
});

describe('NodePool', () => {
  test('gives out at most maxActive nodes and counts each refused take as missed', () => {
    const o = owner();
    const pool = new NodePool(2);
    const steps: [number, number, boolean][] = [];
    const taken: (RethookNode | null)[] = [];
    for (let i = 0; i < 4; i++) {
      taken.push(pool.take(o));
      steps.push([pool.active, pool.nmissed, taken[i] !== null]);
    }
    expect(steps).toEqual([[1, 0, true], [2, 0, true], [2, 1, false], [2, 2, false]]);
    expect(taken[0]!.owner).toBe(o);
    expect(taken[0]).not.toBe(taken[1]);
  });

  test('a node given back frees a slot and is reused, with its per-call fields reset and the new owner set', () => {
    const pool = new NodePool(1);
    const first = owner();
    const n = pool.take(first)!;
    n.restored = true;
    n.args = [1n, 2n];
    n.data = { any: 'thing' };
    expect(pool.take(first)).toBeNull();
    pool.give(n);
    expect(pool.active).toBe(0);
    const second = owner();
    const again = pool.take(second);
    expect(again).toBe(n);
    expect(again!.owner).toBe(second);
    expect(again!.restored).toBe(false);
    expect(again!.args).toEqual([]);
    expect(again!.data).toBeUndefined();
    expect([pool.active, pool.nmissed]).toEqual([1, 1]);
  });

  test('nmissed keeps counting across gives', () => {
    const pool = new NodePool(1);
    const o = owner();
    for (let i = 0; i < 3; i++) {
      const n = pool.take(o)!;
      expect(pool.take(o)).toBeNull();
      pool.give(n);
    }
    expect([pool.active, pool.nmissed]).toEqual([0, 3]);
  });
});

describe('ShadowStack.reapAtEntry with evidence (frames ended only when proven gone)', () => {
  const pushed: [string, number][] = [['main', 0x7009_0000], ['deep', 0x7008_0000], ['deeper', 0x7007_f000]];
  // `intact`: the nodes whose return slot still holds what the call left there.
  test.each<[string, number, string[], string[], string[]]>([
    ['a suspect below sp whose slot is intact stays (a coroutine runs above it)', 0x7008_8000, ['deep', 'deeper'], [], ['main', 'deep', 'deeper']],
    ['a suspect whose slot was overwritten is dead, and so are its callees below it', 0x7008_8000, ['deeper'], ['deeper', 'deep'], ['main']],
    ['a frame reused by the new call is dead whatever its slot says, with its callees', 0x7008_0000, ['deep', 'deeper'], ['deeper', 'deep'], ['main']],
    ['an overwritten callee dies alone: its caller with an intact slot stays', 0x7008_8000, ['deep'], ['deeper'], ['main', 'deep']],
  ])('%s', (_name, sp, intact, dead, left) => {
    const s = stack(pushed.map(([n, f]) => node(n, f)));
    expect(names(s.reapAtEntry(sp, false, (n) => !intact.includes(n.fnName)))).toEqual(dead);
    expect(names(s.nodes)).toEqual(left);
  });
});

describe('ShadowStack.popReturn below a suspended coroutine', () => {
  test('the returning frame is found under calls of a suspended coroutine, which stay', () => {
    // run (low frame) switched to a coroutine whose stack is above it; the coroutine's step is suspended.
    const s = stack([node('main', 0x7009_0000), node('run', 0x7008_0000), node('step', 0x7008_8000)]);
    const r = s.popReturn(0x7008_0000);
    expect(names(r.returning)).toEqual(['run']);
    expect(names(r.unwound)).toEqual([]);
    expect(names(s.nodes)).toEqual(['main', 'step']);
  });

  test('callees of the returning frame left above it (frames below it) are unwound, innermost first', () => {
    const s = stack([node('run', 0x7008_0000), node('a', 0x7007_f000), node('co', 0x7008_8000), node('b', 0x7007_e000)]);
    const r = s.popReturn(0x7008_0000);
    expect(names(r.returning)).toEqual(['run']);
    expect(names(r.unwound)).toEqual(['b', 'a']);
    expect(names(s.nodes)).toEqual(['co']);
  });

  test('a return that no node explains leaves the stack as it was but for dead nodes below it', () => {
    const s = stack([node('main', 0x7009_0000), node('f', 0x7008_0000)]);
    const r = s.popReturn(0x7008_8000, (n) => n.fnName === 'nothing');
    expect(names(r.returning)).toEqual([]);
    expect(names(r.unwound)).toEqual(['f']);
    expect(names(s.nodes)).toEqual(['main']);
  });
});

describe('ShadowStack.popByReturnAddress (Go: stacks are copied, stack pointers say nothing)', () => {
  test('the topmost call returning to the address returns; calls above it were left by a panic', () => {
    const s = stack([node('a', 0x7009_0000, { realRet: 0x1000 }), node('b', 0x7008_0000, { realRet: 0x2000 }), node('c', 0x7007_0000, { realRet: 0x3000 })], null);
    const r = s.popByReturnAddress(0x2000);
    expect(names(r.returning)).toEqual(['b']);
    expect(names(r.unwound)).toEqual(['c']);
    expect(names(s.nodes)).toEqual(['a']);
  });

  test('recursive calls returning to the same address return innermost first, one per return', () => {
    const s = stack([node('f1', 0x7009_0000, { realRet: 0x1000 }), node('f2', 0x7008_0000, { realRet: 0x2000 }), node('f3', 0x7007_0000, { realRet: 0x2000 })], null);
    expect(names(s.popByReturnAddress(0x2000).returning)).toEqual(['f3']);
    expect(names(s.popByReturnAddress(0x2000).returning)).toEqual(['f2']);
    expect(names(s.popByReturnAddress(0x3000).returning)).toEqual([]);
    expect(names(s.nodes)).toEqual(['f1']);
  });
});
