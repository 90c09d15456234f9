// Out-of-line slots: where the instruction a breakpoint displaced runs when
// it cannot be emulated, within reach of it (engine/planting.ts, return sites).
import { RethookError } from '../errors';
import type { Proc } from './traced';
import type { Session } from './session';

/**
 * The out-of-line slot of the breakpoint at `addr`: the one it had if it was
 * planted before (return sites come and go), else a new one within reach,
 * mapping a new region there if needed. `what` names it in errors.
 */
export function slotFor(s: Session, proc: Proc, addr: number, what: string): number {
  let slot = proc.slots.get(addr) ?? proc.pages.takeSlot(addr);
  if (!slot) {
    const tid = s.stoppedTid(proc);
    if (!tid) throw new RethookError(`cannot hook ${what}: no out-of-line slot near it, and no stopped thread to map one`, 'EHOOK');
    proc.pages.mapRegion(tid, addr);
    slot = proc.pages.takeSlot(addr);
    if (!slot) throw new RethookError(`cannot hook ${what}: no out-of-line slot near it`, 'EHOOK');
  }
  proc.slots.set(addr, slot);
  return slot;
}
