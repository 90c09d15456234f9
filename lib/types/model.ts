// The type model: what a function's parameters and return value are, from
// DWARF (native/dwarf/types.cc gives the same shape), the built-in
// prototypes or a user's spec; and the typed values read from a call.

/** Bytes of a string read at most by default (the text shows `"..."...` past them). */
export const STRING_MAX = 64;
/** The most a hook's stringMax (--string-max) may ask for. */
export const STRING_MAX_LIMIT = 65536;

/**
 * A C type, as far as showing a value needs it. `n` is its C spelling; `k`
 * decides how a value is read and shown.
 */
export interface CType {
  n: string;
  k: 'void' | 'int' | 'bool' | 'float' | 'enum' | 'ptr' | 'struct' | 'union' | 'array' | 'fn' | 'other';
  /** Size in bytes (-1 when unknown). */
  s: number;
  /** int, enum: signed. */
  sg?: boolean;
  /** int: a character type (char, signed char, unsigned char). */
  c?: boolean;
  /** enum: its enumerators. */
  e?: [string, number][];
  /** ptr: what it points to (shallow). */
  to?: CType;
  /**
   * struct, union: a C++ class not trivially copyable for calls (a copy or
   * move constructor or destructor of its own, virtual functions, or a member
   * or base that has them): passed and returned through memory, by a pointer.
   */
  nt?: boolean;
  /** struct, union: the first members. */
  m?: { n: string | null; o: number; t: CType }[];
  /** int: shown in hex (flags, addresses) or octal (modes). */
  fmt?: 'hex' | 'oct';
}

export interface Param {
  name: string | null;
  type: CType;
  /** `this` of a C++ method (DWARF). */
  artificial?: boolean;
}

export interface Signature {
  params: Param[];
  /** null: not known (a spec that gave only the arguments). */
  ret: CType | null;
  variadic: boolean;
  /** Where it came from: debug information, the built-in prototypes, or a user's spec. */
  source: 'dwarf' | 'prototype' | 'spec';
  /** Bytes of a string read at most, when the hook sets it (stringMax): its own copy of the signature. */
  stringMax?: number;
}

/** One argument or a return value, read and shown by its type. */
export interface TypedValue {
  /** The parameter's name, or null (a spec without names, a return value). */
  name: string | null;
  /** Its C type, as written (`const char *`, `size_t`, `enum color`). */
  type: string;
  /** How it was read: decides what `value` holds. */
  kind: 'int' | 'char' | 'bool' | 'enum' | 'float' | 'ptr' | 'str' | 'struct' | 'void' | 'other';
  /**
   * The value: a number (integers that fit exactly, doubles, pointers), a
   * bigint (integers that do not fit a double exactly), a string (`char *`
   * read from the tracee, an enumerator's name), a boolean, null (a NULL
   * string, a struct not readable), an object of member values (a struct
   * passed by value), undefined (void).
   */
  value: number | bigint | string | boolean | null | undefined | { [member: string]: unknown };
  /** As the text output shows it: `"alpha"`, `5`, `RED`, `1.5`, `0x7ffc...`, `{x=1, y=2}`. */
  text: string;
  /** Set when the value could not be read (a bad pointer): `value` is then the address. */
  error?: 'unreadable';
  /** A string longer than what is read (64 bytes, or the hook's stringMax): `value` holds its start. */
  truncated?: boolean;
}

/** What a call's typed view keeps between its entry and its exit (in its rethook node). */
export interface TypedCall {
  sig: Signature | null;
  /** The arguments, read at entry when first asked for. */
  values?: TypedValue[];
  /** The floating-point argument registers at entry, when the signature has such arguments. */
  fp?: Buffer | null;
  /**
   * Where a result returned in memory goes: the address its caller passed
   * in the hidden result register, taken at entry (trap mode). Absent: not
   * known, and such a result is not read.
   */
  result?: bigint;
}
