// The return ABI of the architecture the addon was built for: the one place
// in lib/ where the architecture is chosen (as binding.gyp chooses native/arch/*.cc).
import { arch } from '../native';
import { arm64NotAFunctionStart, linkRegisterAbi } from './arm64';
import type { ReturnAbi } from './return-abi';
import { stackSlotAbi, x86NotAFunctionStart } from './x86_64';

const byArch: Record<string, ReturnAbi> = { x86_64: stackSlotAbi, arm64: linkRegisterAbi };

export const returnAbi: ReturnAbi = byArch[arch.name];

/** Why code at an address, beginning with the bytes given, cannot be a function's start (null: it can). */
export const notAFunctionStart: (addr: number, bytes: Buffer) => string | null = { x86_64: x86NotAFunctionStart, arm64: arm64NotAFunctionStart }[arch.name]!;
export type { ReturnAbi } from './return-abi';
