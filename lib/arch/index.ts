// The return ABI of the architecture the addon was built for: the one place
// in lib/ where the architecture is chosen (as binding.gyp chooses native/arch/*.cc).
import { arch } from '../native';
import { linkRegisterAbi } from './arm64';
import type { ReturnAbi } from './return-abi';
import { stackSlotAbi } from './x86_64';

const byArch: Record<string, ReturnAbi> = { x86_64: stackSlotAbi, arm64: linkRegisterAbi };

export const returnAbi: ReturnAbi = byArch[arch.name];
export type { ReturnAbi } from './return-abi';
