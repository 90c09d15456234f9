export declare function signalName(n: number): string;
/** The executable `file` names (a path, or a name looked up in PATH), checked to be one we can trace. */
export declare function resolveProgram(file: string, envPath?: string): string;
