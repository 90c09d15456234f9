// The register file of the thread whose stop is being handled, as the addon
// shares it (one BigUint64Array, laid out by the architecture's table). A
// view with names, after rr's Registers: generic code never indexes it.
import { arch, NativeTracer } from '../native';

export class Registers {
  constructor(readonly words: BigUint64Array) {}

  get pc(): number {
    return Number(this.words[arch.pc]);
  }
  set pc(v: number) {
    this.words[arch.pc] = BigInt(v);
  }

  get sp(): number {
    return Number(this.words[arch.sp]);
  }
  set sp(v: number) {
    this.words[arch.sp] = BigInt(v);
  }

  /** The integer return value register (rax / x0). */
  get retval(): bigint {
    return this.words[arch.retval];
  }
  set retval(v: bigint) {
    this.words[arch.retval] = v;
  }

  get framePointer(): number {
    return Number(this.words[arch.framePointer]);
  }

  /** The integer argument registers, in calling-convention order. */
  args(): bigint[] {
    const out = new Array<bigint>(arch.args.length);
    for (let i = 0; i < out.length; i++) out[i] = this.words[arch.args[i]];
    return out;
  }
}

/**
 * A stopped thread whose registers and memory a return ABI may change (on
 * detach, in a fork child, around an unwinder). `load` fills `regs` with its
 * registers; `store` writes them back.
 */
export interface StoppedThread {
  readonly tid: number;
  readonly regs: Registers;
  load(): boolean;
  store(): boolean;
}

export function stoppedThread(nat: NativeTracer, regs: Registers, tid: number): StoppedThread {
  return { tid, regs, load: () => nat.loadRegs(tid), store: () => nat.storeRegs(tid) };
}
