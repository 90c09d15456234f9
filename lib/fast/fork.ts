// A fork child we follow, in fast mode. Its memory is a copy of its parent's,
// patches and recorder included, but the arena is MAP_SHARED: left alone, the
// child's recorder would write into the parent's rings. So at the child's
// first stop (before it runs an instruction), a new arena is mapped over the
// old one at the same address (the recorder's arena word stays right), laid
// out as the parent's, with the forking thread's calls in flight copied into
// the child's block and marked inherited, as trap mode copies its nodes.
import type { Proc } from '../tracee/process';
import type { Session } from '../engine/session';
import { fast } from '../native';
import { drainFast, endInFlight } from './drain';
import { FastProc, mapArena } from './fast-proc';

/** At the fork event: what the child's fast mode will start from. */
export function noteFastChild(parent: Proc, forkingTid: number, child: Proc): void {
  const fp = parent.fast;
  const b = fp?.arena.blocks.get(forkingTid);
  if (!fp) return;
  child.fastInherit = {
    parent: fp,
    nodes: b ? fp.arena.nodes(b) : [],
    calls: (fp.inFlight.get(forkingTid) ?? []).map((c) => ({ ...c, data: c.data?.slice() ?? null, inherited: true, info: null })),
  };
}

/** The child's first stop: its own arena, sites and block. */
export function adoptFastChild(s: Session, child: Proc, tid: number): void {
  const from = child.fastInherit;
  child.fastInherit = null;
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
  child.fast = fp;
  const b = fp.registerThread(s, tid);
  if (b) {
    arena.pushNodes(b, from.nodes);
    fp.inFlight.set(tid, from.calls.map((c) => ({ ...c, pid: child.pid, site: fp.sites[c.site.index], info: null })));
  }
}

/** A vfork child runs on the forking thread's block until it execs or exits. */
export function lendToVforkChild(parent: Proc, forkingTid: number, child: number, followed: boolean): void {
  parent.fast?.lent.set(forkingTid, { pid: child, drop: !followed });
}

/**
 * A vfork child execs or exits: what it recorded on its parent's block is
 * delivered as its own, its calls still in flight end, the block is the
 * parent's again. (The nodes it left there are below the parent's frames:
 * the parent's next return pops them, with no event: they were not its.)
 */
export function vforkChildDone(s: Session, child: Proc, reason: 'exec' | 'thread-exit'): void {
  for (const p of s.table.allProcesses()) {
    const fp = p.fast;
    if (!fp) continue;
    for (const [tid, lent] of fp.lent) {
      if (lent.pid !== child.pid) continue;
      drainFast(s, { proc: p, tid });
      fp.lent.delete(tid);
      endInFlight(s, fp, child.pid, reason);
    }
  }
}
