// Fast mode as the engine sees it (engine/modes.ts): each point of a
// process's life, mapped to the file of lib/fast that handles it.
import type { CallMode } from '../engine/modes';
import type { Session } from '../engine/session';
import { drainFast, startDraining } from './drain';
import { fastAfterBacktrace, fastAtCatch, fastBeforeUnwind, fastReapDead } from './exceptions';
import { fallbackEntry, sharesFastStack } from './fallback';
import { fastOf, inheritOf } from './fast-proc';
import { adoptFastChild, lendToVforkChild, noteFastChild, vforkChildDone, vforkDoneFast } from './fork';
import { onRecorderTrap } from './nomatch';
import { plantFast, unplantFast } from './patch';
import { fastBeforeStop, fastExec, fastThreadGone, fastThreadStart } from './threads';
import { FastNodes, fastNodesOf, undoFast } from './undo';

export const fastMode: CallMode<Session> = {
  name: 'fast',

  plant(s, proc, hook, fn, fresh, whyNot) {
    const r = plantFast(s, proc, hook, fn, fresh, whyNot);
    if (r === true) startDraining(s);
    return r;
  },
  has: (proc, address) => fastOf(proc)?.byAddress.has(address) ?? false,
  unplant(proc, address, hook) {
    const site = fastOf(proc)?.byAddress.get(address);
    if (!site) return false;
    unplantFast(proc, site, hook);
    return true;
  },
  forgetCode(proc, inside) {
    // The patches went with the code; their stubs stay (a thread may be in one).
    const fp = fastOf(proc);
    for (const site of fp?.sites ?? []) {
      if (!inside(site.fn.address)) continue;
      site.patched = false;
      fp!.byAddress.delete(site.fn.address);
      fp!.fallbacks.delete(site.fn.address);
    }
  },

  beforeStop: fastBeforeStop,
  ownTrap(s, th, addr) {
    if (addr !== fastOf(th.proc)?.nomatchTrap) return false;
    onRecorderTrap(s, th);
    return true;
  },
  reapDead(s, th, sp, ret) {
    if (fastOf(th.proc)) fastReapDead(s, th, sp, ret);
  },
  callsInFlight(proc, tid) {
    const fp = fastOf(proc);
    const b = fp?.arena.blocks.get(tid);
    return b ? fp!.arena.nodes(b).length : 0;
  },
  takesFallback: sharesFastStack,
  fallbackEntry,

  threadStart(s, th) {
    if (inheritOf(th.proc)) adoptFastChild(s, th.proc, th.tid);
    else fastThreadStart(s, th);
  },
  threadGone: fastThreadGone,
  exec: fastExec,
  childFollowed(s, parent, child, vfork) {
    // The child gets an arena of its own at its first stop (a vfork child runs on its parent's).
    if (vfork) lendToVforkChild(s, parent.proc, parent.tid, child.pid, true);
    else noteFastChild(parent.proc, parent.tid, child);
  },
  vforkChildReleased: (s, parent, child) => lendToVforkChild(s, parent.proc, parent.tid, child, false),
  vforkChildDone,
  vforkDone: vforkDoneFast,

  nodesOf: fastNodesOf,
  undo: (s, from, into, threads, leaving) => undoFast(s, from, into, threads as readonly { tid: number; nodes: FastNodes; stopped: boolean }[], leaving),
  drain(s) {
    drainFast(s);
  },

  beforeUnwind: fastBeforeUnwind,
  afterBacktrace: fastAfterBacktrace,
  atCatch: fastAtCatch,
};
