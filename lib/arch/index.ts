// The return ABI of the architecture the addon was built for: the one place
// in lib/ where the architecture is chosen (as binding.gyp chooses native/arch/*.cc).
import { arch } from '../native';
import { arm64CalibrationCode, arm64NotAFunctionStart, linkRegisterAbi } from './arm64';
import type { CalibrationCode, ReturnAbi } from './return-abi';
import type { CallAbi } from './call-abi';
import { aapcs64Calls } from './arm64-calls';
import { sysvCalls } from './x86_64-calls';
import { stackSlotAbi, x86CalibrationCode, x86NotAFunctionStart } from './x86_64';

const byArch: Record<string, ReturnAbi> = { x86_64: stackSlotAbi, arm64: linkRegisterAbi };

export const returnAbi: ReturnAbi = byArch[arch.name];

/** Why code at an address, beginning with the bytes given, cannot be a function's start (null: it can). */
export const notAFunctionStart: (addr: number, bytes: Buffer) => string | null = { x86_64: x86NotAFunctionStart, arm64: arm64NotAFunctionStart }[arch.name]!;
export type { ReturnAbi } from './return-abi';

/** Where arguments and return values are (aggregates, registers, the stack). */
export const callAbi: CallAbi = ({ x86_64: sysvCalls, arm64: aapcs64Calls } as Record<string, CallAbi>)[arch.name];
export type { CallAbi, Location, Part } from './call-abi';

/** The program that measures the tracer's round trip, in this architecture's machine code. */
export const calibrationCode: (n: number) => CalibrationCode = { x86_64: x86CalibrationCode, arm64: arm64CalibrationCode }[arch.name]!;
