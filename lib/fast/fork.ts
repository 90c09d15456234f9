// A fork child we follow, in fast mode. Its memory is a copy of its parent's,
// patches and recorder included, but the arena is MAP_SHARED: left alone, the
// child's recorder would write into the parent's rings. So at the child's
// first stop (before it runs an instruction), a new arena is mapped over the
// old one at the same address (the recorder's arena word stays right), laid
// out as the parent's, with the forking thread's calls in flight copied into
// the child's block and marked inherited, as trap mode copies its nodes.
import type { Proc } from '../engine/traced';
import type { Session } from '../engine/session';
import { fast } from '../native';
import { drainFast, endInFlight } from './drain';
import { fastOf, FastProc, inheritOf, mapArena, setFastOf, setInheritOf } from './fast-proc';

/** At the fork event: what the child's fast mode will start from. */
export function noteFastChild(parent: Proc, forkingTid: number, child: Proc): void {
  const fp = fastOf(parent);
  const b = fp?.arena.blocks.get(forkingTid);
  if (!fp) return;
  setInheritOf(child, {
    parent: fp,
    nodes: b ? fp.arena.nodes(b) : [],
    calls: (fp.inFlight.get(forkingTid) ?? []).map((c) => ({ ...c, data: c.data?.slice() ?? null, inherited: true, info: null })),
  });
}

/** The child's first stop: its own arena, sites and block. */
export function adoptFastChild(s: Session, child: Proc, tid: number): void {
  const from = inheritOf(child);
  setInheritOf(child, null);
  if (!from) return;
  const parent = from.parent;
  const arena = mapArena(s, child, tid, parent.recorder + fast.recorder.code.length, parent.arena.base);
  arena.adoptLayout(parent.arena, parent.sites.length);
  const fp = new FastProc(child, arena, parent.recorder, parent.clock);
  for (const [hook, pool] of parent.pools) fp.pools.set(hook, pool);
  for (const site of parent.sites) {
    const copy = { ...site, hooks: [...site.hooks], sigs: new Map(site.sigs) };
    fp.sites.push(copy);
    if (parent.byAddress.get(site.fn.address) === site) fp.byAddress.set(site.fn.address, copy);
    if (site.fallback) fp.fallbacks.set(site.fn.address, copy);
    else for (const h of copy.hooks) h.sites.push({ pid: child.pid, address: site.fn.address, function: site.fn.name });
  }
  setFastOf(child, fp);
  const b = fp.registerThread(s, tid);
  if (b) {
    arena.pushNodes(b, from.nodes);
    fp.inFlight.set(tid, from.calls.map((c) => ({ ...c, pid: child.pid, site: fp.sites[c.site.index], info: null })));
  }
}

/**
 * A vfork child runs on the forking thread's block (the same thread
 * pointer) until the vfork is done. What the parent recorded before is
 * delivered as its own first; its node stack is kept, to be put back at the
 * cut (the child's nodes left on it, and any it popped, are not the
 * parent's). A followed child gets copies of the forking thread's calls in
 * flight, marked inherited, as trap mode copies its nodes.
 */
export function lendToVforkChild(s: Session, parent: Proc, forkingTid: number, child: number, followed: boolean): void {
  const fp = fastOf(parent);
  if (!fp) return;
  drainFast(s, { proc: parent, tid: forkingTid });
  const b = fp.arena.blocks.get(forkingTid);
  fp.lent.set(forkingTid, { pid: child, drop: !followed, nodes: b ? fp.arena.nodes(b) : null });
  if (followed) fp.inFlight.set(child, (fp.inFlight.get(forkingTid) ?? []).map((c) => ({ ...c, pid: child, data: c.data?.slice() ?? null, inherited: true, info: null })));
}

/**
 * A followed vfork child execs or exits: what it recorded on its parent's
 * block is delivered as its own, and its calls still in flight end. The
 * block stays lent until the parent's vfork-done stop (vforkDoneFast).
 */
export function vforkChildDone(s: Session, child: Proc, reason: 'exec' | 'thread-exit'): void {
  for (const p of s.table.allProcesses()) {
    const fp = fastOf(p);
    if (!fp) continue;
    for (const [tid, lent] of fp.lent) if (lent.pid === child.pid) drainFast(s, { proc: p, tid });
    if (fp.inFlight.has(child.pid)) endInFlight(s, fp, child.pid, reason);
  }
}

/**
 * The forking thread's vfork-done stop, before it runs any code: the child
 * no longer shares the memory, and has written all it will on the block.
 * Its last records are delivered (or dropped), the parent's node stack is
 * put back as it was at the vfork, and the block is the parent's again.
 */
export function vforkDoneFast(s: Session, parent: Proc, tid: number): void {
  const fp = fastOf(parent);
  const lent = fp?.lent.get(tid);
  if (!fp || !lent) return;
  drainFast(s, { proc: parent, tid });
  fp.lent.delete(tid);
  if (lent.drop) fp.inFlight.delete(lent.pid);
  const b = fp.arena.blocks.get(tid);
  if (b && lent.nodes) {
    fp.arena.dropNodes(b);
    fp.arena.pushNodes(b, lent.nodes);
  }
}
