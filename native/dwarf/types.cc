// Function signatures from DWARF: the parameters (names, types) and return
// type of the function starting at an address, as JSON for lib/types/dwarf.ts.
//
// A type is {"n": C name, "k": kind, "s": size, ...} with kind one of
//   void; int ("sg": signed, "c": a character type); bool; float;
//   enum ("sg", "e": [[name, value], ...]); ptr ("to": the pointee, shallow);
//   struct / union ("m": [{"n", "o": offset, "t"}, ...], first level only);
//   array ("t": element, "c": count); fn (a function type).
// A signature is {"name", "params": [{"n", "t", "a": artificial}], "ret", "va"}.
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dwarf.h"
#include "internal.h"

namespace rethook::dwarf {

namespace {

void json_string(std::string* out, const char* s) {
  out->push_back('"');
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') {
      out->push_back('\\');
      out->push_back(char(*p));
    } else if (*p < 0x20) {
      char b[8];
      snprintf(b, sizeof b, "\\u%04x", *p);
      *out += b;
    } else {
      out->push_back(char(*p));
    }
  }
  out->push_back('"');
}

const char* die_name(Dwarf_Die* d) {
  Dwarf_Attribute a;
  return dwarf_formstring(dwarf_attr_integrate(d, DW_AT_name, &a));
}

// The DIE a DW_AT_type of `d` points to, or null (void).
Dwarf_Die* type_of(Dwarf_Die* d, Dwarf_Die* mem) {
  Dwarf_Attribute a;
  if (!dwarf_attr_integrate(d, DW_AT_type, &a)) return nullptr;
  return dwarf_formref_die(&a, mem);
}

int64_t die_size(Dwarf_Die* d) {
  Dwarf_Word sz;
  Dwarf_Attribute a;
  if (dwarf_attr_integrate(d, DW_AT_byte_size, &a) && dwarf_formudata(&a, &sz) == 0) return int64_t(sz);
  return -1;
}

bool is_c(Dwarf_Die* d) {
  Dwarf_Die cu;
  if (!dwarf_diecu(d, &cu, nullptr, nullptr)) return false;
  int lang = dwarf_srclang(&cu);
  return lang == DW_LANG_C89 || lang == DW_LANG_C || lang == DW_LANG_C99 || lang == DW_LANG_C11;
}

// The C spelling of a type.
std::string type_name(Dwarf_Die* t, int depth = 0) {
  if (!t) return "void";
  if (depth > 8) return "...";
  Dwarf_Die mem;
  const char* n = die_name(t);
  switch (dwarf_tag(t)) {
    case DW_TAG_base_type:
    case DW_TAG_typedef:
    case DW_TAG_unspecified_type:
      return n ? n : "?";
    case DW_TAG_structure_type:
    case DW_TAG_class_type:
    case DW_TAG_union_type:
    case DW_TAG_enumeration_type: {
      const char* kw = dwarf_tag(t) == DW_TAG_union_type ? "union " : dwarf_tag(t) == DW_TAG_enumeration_type ? "enum " : "struct ";
      if (!n) return std::string(kw) + "{...}";
      return is_c(t) ? std::string(kw) + n : std::string(n);
    }
    case DW_TAG_pointer_type:
    case DW_TAG_reference_type:
    case DW_TAG_rvalue_reference_type: {
      const char* suffix = dwarf_tag(t) == DW_TAG_pointer_type ? "*" : dwarf_tag(t) == DW_TAG_reference_type ? "&" : "&&";
      Dwarf_Die* to = type_of(t, &mem);
      if (to && dwarf_tag(to) == DW_TAG_subroutine_type) {
        std::string s = type_name(type_of(to, &mem), depth + 1) + " (" + suffix + ")(";
        Dwarf_Die child;
        bool first = true;
        if (dwarf_child(to, &child) == 0) do {
            if (dwarf_tag(&child) == DW_TAG_formal_parameter) {
              Dwarf_Die pm;
              s += (first ? "" : ", ") + type_name(type_of(&child, &pm), depth + 1);
              first = false;
            } else if (dwarf_tag(&child) == DW_TAG_unspecified_parameters) {
              s += first ? "..." : ", ...";
              first = false;
            }
          } while (dwarf_siblingof(&child, &child) == 0);
        return s + ")";
      }
      std::string inner = type_name(to, depth + 1);
      return inner + (inner.back() == '*' ? "" : " ") + suffix;
    }
    case DW_TAG_const_type:
    case DW_TAG_volatile_type:
    case DW_TAG_restrict_type:
    case DW_TAG_atomic_type: {
      const char* q = dwarf_tag(t) == DW_TAG_const_type ? "const" : dwarf_tag(t) == DW_TAG_volatile_type ? "volatile"
                      : dwarf_tag(t) == DW_TAG_restrict_type ? "restrict" : "_Atomic";
      Dwarf_Die* to = type_of(t, &mem);
      std::string inner = type_name(to, depth + 1);
      if (to && dwarf_tag(to) == DW_TAG_pointer_type) return inner + " " + q;
      return std::string(q) + " " + inner;
    }
    case DW_TAG_array_type: {
      std::string s = type_name(type_of(t, &mem), depth + 1) + " [";
      Dwarf_Die child;
      if (dwarf_child(t, &child) == 0 && dwarf_tag(&child) == DW_TAG_subrange_type) {
        Dwarf_Word count;
        Dwarf_Attribute a;
        if (dwarf_attr(&child, DW_AT_count, &a) && dwarf_formudata(&a, &count) == 0) s += std::to_string(count);
        else if (dwarf_attr(&child, DW_AT_upper_bound, &a) && dwarf_formudata(&a, &count) == 0) s += std::to_string(count + 1);
      }
      return s + "]";
    }
    case DW_TAG_subroutine_type:
      return "function";
    default:
      return n ? n : "?";
  }
}

// Strip typedefs and qualifiers: the type that decides how a value is shown.
Dwarf_Die* resolve(Dwarf_Die* t, Dwarf_Die* mem) {
  for (int i = 0; t && i < 16; i++) {
    int tag = dwarf_tag(t);
    if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
        tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type)
      return t;
    Dwarf_Die next;
    Dwarf_Die* n = type_of(t, &next);
    if (!n) return nullptr;
    *mem = next;
    t = mem;
  }
  return t;
}

void describe(std::string* out, Dwarf_Die* declared, int depth);

bool die_flag(Dwarf_Die* d, unsigned attr) {
  Dwarf_Attribute a;
  bool v = false;
  if (dwarf_attr_integrate(d, attr, &a)) dwarf_formflag(&a, &v);
  return v;
}

// The class a parameter refers to (`const X&`, `X&&`), or null.
bool refers_to(Dwarf_Die* param, Dwarf_Die* cls) {
  Dwarf_Die m1, m2;
  Dwarf_Die* r = type_of(param, &m1);
  if (!r || (dwarf_tag(r) != DW_TAG_reference_type && dwarf_tag(r) != DW_TAG_rvalue_reference_type)) return false;
  Dwarf_Die* to = resolve(type_of(r, &m2), &m2);
  return to && dwarf_dieoffset(to) == dwarf_dieoffset(cls);
}

// A C++ class "non-trivial for the purposes of calls" (Itanium C++ ABI
// 3.1.1.1): it has a user-provided copy or move constructor or destructor,
// virtual functions or bases, or a member or base that is such a class. It is
// passed and returned through memory (a hidden pointer), whatever its size.
// Clang says so itself (DW_AT_calling_convention, DWARF 5); GCC does not, so
// the class's declared special members are looked at: those GCC lists as
// artificial (implicit) or defaulted in the class are trivial unless a member
// or base makes them not, which the recursion finds.
bool passed_by_reference(Dwarf_Die* cls, int depth) {
  if (depth > 8 || is_c(cls)) return false;
  Dwarf_Attribute a;
  Dwarf_Word cc;
  if (dwarf_attr(cls, DW_AT_calling_convention, &a) && dwarf_formudata(&a, &cc) == 0)
    return cc == DW_CC_pass_by_reference;
  const char* cname = die_name(cls);
  size_t clen = cname ? strcspn(cname, "<") : 0;
  Dwarf_Die child;
  if (dwarf_child(cls, &child) != 0) return false;
  do {
    int tag = dwarf_tag(&child);
    if (tag == DW_TAG_member || tag == DW_TAG_inheritance) {
      if (tag == DW_TAG_member && die_flag(&child, DW_AT_declaration)) continue;  // static (DWARF 4)
      if (tag == DW_TAG_inheritance && dwarf_attr(&child, DW_AT_virtuality, &a)) return true;
      const char* n = die_name(&child);
      if (n && strncmp(n, "_vptr", 5) == 0) return true;
      Dwarf_Die tm;
      Dwarf_Die* t = resolve(type_of(&child, &tm), &tm);
      for (int i = 0; t && dwarf_tag(t) == DW_TAG_array_type && i < 4; i++) t = resolve(type_of(t, &tm), &tm);
      if (t && (dwarf_tag(t) == DW_TAG_structure_type || dwarf_tag(t) == DW_TAG_class_type || dwarf_tag(t) == DW_TAG_union_type)) {
        Dwarf_Die copy = *t;
        if (passed_by_reference(&copy, depth + 1)) return true;
      }
    } else if (tag == DW_TAG_subprogram) {
      if (dwarf_attr(&child, DW_AT_virtuality, &a)) return true;
      if (die_flag(&child, DW_AT_artificial) || die_flag(&child, DW_AT_deleted)) continue;
      Dwarf_Word dflt = 0;
      if (dwarf_attr(&child, DW_AT_defaulted, &a) && dwarf_formudata(&a, &dflt) == 0 && dflt == DW_DEFAULTED_in_class) continue;
      const char* n = die_name(&child);
      if (!n || !cname) continue;
      if (n[0] == '~' && strncmp(n + 1, cname, clen) == 0 && (n[1 + clen] == 0 || n[1 + clen] == '<')) return true;
      if (strncmp(n, cname, clen) != 0 || (n[clen] != 0 && n[clen] != '<')) continue;
      // A constructor: a copy or move one takes (a reference to) its class first, after `this`.
      Dwarf_Die p;
      if (dwarf_child(&child, &p) != 0) continue;
      int seen = 0;
      do {
        if (dwarf_tag(&p) != DW_TAG_formal_parameter) continue;
        if (die_flag(&p, DW_AT_artificial)) continue;
        if (seen++ == 0 && refers_to(&p, cls)) {
          // Only a constructor whose other parameters have defaults would be one; DWARF does not say: take it.
          return true;
        }
        break;
      } while (dwarf_siblingof(&p, &p) == 0);
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

void describe_members(std::string* out, Dwarf_Die* t, int depth) {
  *out += ",\"m\":[";
  Dwarf_Die child;
  int n = 0;
  if (dwarf_child(t, &child) == 0) do {
      if (dwarf_tag(&child) != DW_TAG_member || n >= 16) continue;
      if (die_flag(&child, DW_AT_declaration)) continue;  // a static member (DWARF 4)
      Dwarf_Attribute a;
      if (dwarf_attr_integrate(&child, DW_AT_bit_size, &a)) continue;  // bit-fields are not shown
      Dwarf_Word off = 0;
      if (dwarf_attr_integrate(&child, DW_AT_data_member_location, &a)) dwarf_formudata(&a, &off);
      if (n++) out->push_back(',');
      *out += "{\"n\":";
      json_string(out, die_name(&child));
      *out += ",\"o\":" + std::to_string(off) + ",\"t\":";
      Dwarf_Die mt;
      describe(out, type_of(&child, &mt), depth + 1);
      out->push_back('}');
    } while (dwarf_siblingof(&child, &child) == 0);
  out->push_back(']');
}

void describe(std::string* out, Dwarf_Die* declared, int depth) {
  *out += "{\"n\":";
  json_string(out, type_name(declared).c_str());
  Dwarf_Die mem;
  Dwarf_Die* t = resolve(declared, &mem);
  if (!t) {
    *out += ",\"k\":\"void\",\"s\":0}";
    return;
  }
  int64_t size = die_size(t);
  const char* kind = "other";
  std::string extra;
  switch (dwarf_tag(t)) {
    case DW_TAG_base_type: {
      Dwarf_Word enc = 0;
      Dwarf_Attribute a;
      if (dwarf_attr(t, DW_AT_encoding, &a)) dwarf_formudata(&a, &enc);
      if (enc == DW_ATE_boolean) kind = "bool";
      else if (enc == DW_ATE_float) kind = "float";
      else if (enc == DW_ATE_signed || enc == DW_ATE_signed_char || enc == DW_ATE_unsigned ||
               enc == DW_ATE_unsigned_char || enc == DW_ATE_UTF) {
        kind = "int";
        bool sg = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
        extra = std::string(",\"sg\":") + (sg ? "true" : "false");
        const char* bn = die_name(t);
        if ((enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char) && size == 1 && bn && strcmp(bn, "char") == 0)
          extra += ",\"c\":true";  // plain char: a character (signed/unsigned char are small integers)
      }
      break;
    }
    case DW_TAG_enumeration_type: {
      kind = "enum";
      Dwarf_Die base;
      Dwarf_Die* bt = resolve(type_of(t, &base), &base);
      Dwarf_Word enc = DW_ATE_unsigned;
      Dwarf_Attribute a;
      if (bt && dwarf_attr(bt, DW_AT_encoding, &a)) dwarf_formudata(&a, &enc);
      extra = std::string(",\"sg\":") + (enc == DW_ATE_signed ? "true" : "false") + ",\"e\":[";
      Dwarf_Die child;
      int n = 0;
      if (dwarf_child(t, &child) == 0) do {
          if (dwarf_tag(&child) != DW_TAG_enumerator || n >= 256) continue;
          Dwarf_Sword v = 0;
          if (dwarf_attr(&child, DW_AT_const_value, &a)) dwarf_formsdata(&a, &v);
          if (n++) extra += ",";
          extra += "[";
          json_string(&extra, die_name(&child));
          extra += "," + std::to_string(v) + "]";
        } while (dwarf_siblingof(&child, &child) == 0);
      extra += "]";
      break;
    }
    case DW_TAG_pointer_type:
    case DW_TAG_reference_type:
    case DW_TAG_rvalue_reference_type: {
      kind = "ptr";
      if (size < 0) size = 8;
      if (depth < 2) {
        extra = ",\"to\":";
        Dwarf_Die pm;
        describe(&extra, type_of(t, &pm), depth + 1);
      }
      break;
    }
    case DW_TAG_structure_type:
    case DW_TAG_class_type:
    case DW_TAG_union_type:
      kind = dwarf_tag(t) == DW_TAG_union_type ? "union" : "struct";
      if (passed_by_reference(t, 0)) extra += ",\"nt\":true";
      if (depth < 2) describe_members(&extra, t, depth);
      break;
    case DW_TAG_array_type: {
      kind = "array";
      break;
    }
    case DW_TAG_subroutine_type:
      kind = "fn";
      break;
    default:
      break;
  }
  *out += ",\"k\":\"";
  *out += kind;
  *out += "\",\"s\":" + std::to_string(size) + extra + "}";
}

// The subprogram DIE whose entry is `pc` (a DWARF address) in the CU `cu`.
bool find_subprogram(Dwarf_Die* cu, Dwarf_Addr pc, Dwarf_Die* out) {
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes(cu, pc, &scopes);
  bool found = false;
  for (int i = 0; i < n && !found; i++) {
    if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram) continue;
    Dwarf_Addr entry;
    if (dwarf_entrypc(&scopes[i], &entry) != 0) {
      // A function split into parts (GCC's hot/cold partitioning: `f` and
      // `f [clone .cold]`) has DW_AT_ranges and no low_pc: it is entered at
      // the start of its first range.
      Dwarf_Addr base, start, end;
      if (dwarf_ranges(&scopes[i], 0, &base, &start, &end) <= 0) continue;
      entry = start;
    }
    if (entry == pc) {
      *out = scopes[i];
      found = true;
    }
  }
  free(scopes);
  return found;
}

// The DIE that lists the declared parameters: the abstract origin of a
// concrete out-of-line instance (whose own list may lack parameters optimized
// away), else the declaration (DW_AT_specification) when the definition has none.
Dwarf_Die declared_params_die(Dwarf_Die* fn, Dwarf_Die* mem) {
  Dwarf_Attribute a;
  Dwarf_Die cur = *fn;
  for (int i = 0; i < 4 && dwarf_attr(&cur, DW_AT_abstract_origin, &a); i++) {
    if (!dwarf_formref_die(&a, mem)) break;
    cur = *mem;
  }
  Dwarf_Die child;
  if (dwarf_child(&cur, &child) == 0) do {
      int tag = dwarf_tag(&child);
      if (tag == DW_TAG_formal_parameter || tag == DW_TAG_unspecified_parameters) return cur;
    } while (dwarf_siblingof(&child, &child) == 0);
  if (dwarf_attr(&cur, DW_AT_specification, &a) && dwarf_formref_die(&a, mem)) return *mem;
  return cur;
}

}  // namespace

std::string signature_json(Dwfl_Module* mod, uint64_t link_addr) {
  Dwarf_Addr elf_bias = 0;
  if (!dwfl_module_getelf(mod, &elf_bias)) return "";
  Dwarf_Addr dw_bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(mod, link_addr + elf_bias, &dw_bias);
  if (!cu) return "";
  // Assembly has no types to show (glibc's string functions are assembly).
  if (dwarf_srclang(cu) == DW_LANG_Mips_Assembler) return "";
  Dwarf_Addr pc = link_addr + elf_bias - dw_bias;
  Dwarf_Die fn;
  if (!find_subprogram(cu, pc, &fn)) return "";
  Dwarf_Die pmem;
  Dwarf_Die params = declared_params_die(&fn, &pmem);
  std::string out = "{\"name\":";
  json_string(&out, die_name(&fn));
  out += ",\"params\":[";
  bool variadic = false;
  int n = 0;
  Dwarf_Die child;
  if (dwarf_child(&params, &child) == 0) do {
      int tag = dwarf_tag(&child);
      if (tag == DW_TAG_unspecified_parameters) variadic = true;
      if (tag != DW_TAG_formal_parameter) continue;
      if (n++) out += ",";
      out += "{\"n\":";
      json_string(&out, die_name(&child));
      Dwarf_Attribute a;
      bool art = false;
      if (dwarf_attr_integrate(&child, DW_AT_artificial, &a)) dwarf_formflag(&a, &art);
      if (art) out += ",\"a\":true";
      out += ",\"t\":";
      Dwarf_Die tm;
      describe(&out, type_of(&child, &tm), 0);
      out += "}";
    } while (dwarf_siblingof(&child, &child) == 0);
  out += "],\"ret\":";
  Dwarf_Die rm;
  describe(&out, type_of(&fn, &rm), 0);
  out += std::string(",\"va\":") + (variadic ? "true" : "false") + "}";
  return out;
}

std::string line_of(Dwfl_Module* mod, uint64_t dwfl_addr) {
  Dwfl_Line* line = dwfl_module_getsrc(mod, dwfl_addr);
  if (!line) return "";
  int lineno = 0;
  const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
  if (!file || lineno <= 0) return "";
  const char* slash = strrchr(file, '/');
  return std::string(slash ? slash + 1 : file) + ":" + std::to_string(lineno);
}

DebugInfo::Offline* DebugInfo::offline(const std::string& file) {
  struct stat st;
  if (stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  auto it = files_.find(file);
  if (it != files_.end() && it->second->mtime == int64_t(st.st_mtime) && it->second->size == int64_t(st.st_size))
    return it->second.get();
  auto o = std::make_unique<Offline>();
  o->mtime = st.st_mtime;
  o->size = st.st_size;
  o->dwfl = dwfl_begin(offline_cb_.get());
  if (o->dwfl) {
    dwfl_report_begin(o->dwfl);
    o->mod = dwfl_report_offline(o->dwfl, file.c_str(), file.c_str(), -1);
    dwfl_report_end(o->dwfl, nullptr, nullptr);
  }
  Offline* raw = o.get();
  files_[file] = std::move(o);
  return raw;
}

std::string DebugInfo::signature(const std::string& file, uint64_t addr) {
  Offline* o = offline(file);
  if (!o || !o->mod) return "";
  return signature_json(o->mod, addr);
}

std::string DebugInfo::source_line(const std::string& file, uint64_t addr) {
  Offline* o = offline(file);
  if (!o || !o->mod) return "";
  Dwarf_Addr bias = 0;
  if (!dwfl_module_getelf(o->mod, &bias)) return "";
  return line_of(o->mod, addr + bias);
}

int64_t DebugInfo::member_offset(const std::string& file, const std::string& type, const std::string& member) {
  Offline* o = offline(file);
  if (!o || !o->mod) return -1;
  Dwarf_Addr bias = 0;
  Dwarf* dw = dwfl_module_getdwarf(o->mod, &bias);
  if (!dw) return -1;
  // The type's DIE is a child of some compilation unit (Go: the runtime's).
  Dwarf_Off off = 0, next = 0;
  size_t header = 0;
  while (dwarf_nextcu(dw, off, &next, &header, nullptr, nullptr, nullptr) == 0) {
    Dwarf_Die cu, die;
    if (dwarf_offdie(dw, off + header, &cu) && dwarf_child(&cu, &die) == 0) do {
        if (dwarf_tag(&die) != DW_TAG_structure_type) continue;
        const char* name = die_name(&die);
        if (!name || type != name) continue;
        Dwarf_Die child;
        if (dwarf_child(&die, &child) == 0) do {
            const char* mn = die_name(&child);
            if (dwarf_tag(&child) != DW_TAG_member || !mn || member != mn) continue;
            Dwarf_Attribute a;
            Dwarf_Word at = 0;
            if (!dwarf_attr_integrate(&child, DW_AT_data_member_location, &a) || dwarf_formudata(&a, &at) != 0) return -1;
            return int64_t(at);
          } while (dwarf_siblingof(&child, &child) == 0);
        return -1;
      } while (dwarf_siblingof(&die, &die) == 0);
    off = next;
  }
  return -1;
}

}  // namespace rethook::dwarf
