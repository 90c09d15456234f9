// The record's part of the binding, typed in lib/native.ts as
// NativeCallSummarizer, NativeJsonLineWriter and NativeTreeLineWriter:
// native/record/summarize.h, json_lines.h and tree_lines.h behind objects.
// Marshalling only.
#include "addon_record.h"

#include "record/json_lines.h"
#include "record/summarize.h"
#include "record/tree_lines.h"

namespace rethook {

namespace {

double number_or_zero(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0; }

/** A thread's open calls from CallEvents' Open arrays at info[at..at+3]: depth, site, ts, n. */
OpenCalls open_calls_of(const Napi::CallbackInfo& info, size_t at) {
  auto depth = info[at].As<Napi::Uint32Array>();
  auto site = info[at + 1].As<Napi::Uint32Array>();
  auto ts = info[at + 2].As<Napi::Float64Array>();
  return OpenCalls{depth.Data(), site.Data(), ts.Data(), size_t(info[at + 3].As<Napi::Number>().Int64Value()),
                   std::min(depth.ElementLength(), std::min(site.ElementLength(), ts.ElementLength()))};
}

std::string bytes_of(const Napi::Value& v) {
  auto b = v.As<Napi::Uint8Array>();
  return std::string(reinterpret_cast<const char*>(b.Data()), b.ByteLength());
}

/** A line writer's site(id, args, ret, fp, plain, first bytes, second bytes, typed | undefined), on `w`. */
template <class Writer>
Napi::Value site_of(Writer& w, const Napi::CallbackInfo& info) {
  w.site(info[0].As<Napi::Number>().Uint32Value(), uint8_t(info[1].As<Napi::Number>().Uint32Value()), info[2].ToBoolean(), info[3].ToBoolean(),
         info[4].ToBoolean(), bytes_of(info[5]), bytes_of(info[6]), info[7].IsTypedArray() ? bytes_of(info[7]) : std::string());
  return info.Env().Undefined();
}

class CallSummarizer : public Napi::ObjectWrap<CallSummarizer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "CallSummarizer",
                       {InstanceMethod("site", &CallSummarizer::Site), InstanceMethod("chunk", &CallSummarizer::Chunk),
                        InstanceMethod("extras", &CallSummarizer::Extras),
                        InstanceMethod("batch", &CallSummarizer::Batch), InstanceMethod("endOpen", &CallSummarizer::EndOpen),
                        InstanceMethod("take", &CallSummarizer::Take), InstanceMethod("open", &CallSummarizer::Open),
                        InstanceMethod("dropped", &CallSummarizer::Dropped)});
  }

  // new CallSummarizer(overheadNs | null, nestedNs | null, maxOpen, perThread)
  explicit CallSummarizer(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<CallSummarizer>(info),
        s_(number_or_zero(info[0]), number_or_zero(info[1]), info[2].As<Napi::Number>().Uint32Value(), info[3].ToBoolean()) {}

 private:
  // site(id, args, ret, fp)
  Napi::Value Site(const Napi::CallbackInfo& info) {
    SiteShape s;
    s.args = uint8_t(info[1].As<Napi::Number>().Uint32Value());
    s.ret = info[2].ToBoolean();
    s.fp = info[3].ToBoolean();
    s_.site(info[0].As<Napi::Number>().Uint32Value(), s);
    return info.Env().Undefined();
  }

  // chunk(buf, start, end, tid, baseTs, aggregate, out) -> read whole: out = [rows, entries, orphans, last ts (-1: none), EXTRA records]
  Napi::Value Chunk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto buf = info[0].As<Napi::Uint8Array>();
    const size_t start = size_t(info[1].As<Napi::Number>().Int64Value()), end = size_t(info[2].As<Napi::Number>().Int64Value());
    auto out = info[6].As<Napi::Float64Array>();
    if (start > end || end > buf.ByteLength() || out.ElementLength() < 5) {
      Napi::RangeError::New(env, "CallSummarizer.chunk: a payload outside its buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ChunkCounts c;
    const bool taken = s_.chunk(buf.Data() + start, end - start, info[3].As<Napi::Number>().Uint32Value(),
                                info[4].As<Napi::Number>().DoubleValue(), info[5].ToBoolean(), &c);
    out[0] = c.rows, out[1] = c.entries, out[2] = c.orphans, out[3] = c.last_ts, out[4] = double(s_.extras().size());
    return Napi::Boolean::New(env, taken);
  }

  // extras() -> Float64Array: the last chunk's EXTRA records, [at, json, len, on an ENTRY (0/1)]... (payload offsets)
  Napi::Value Extras(const Napi::CallbackInfo& info) {
    const auto& x = s_.extras();
    auto out = Napi::Float64Array::New(info.Env(), x.size() * 4);
    for (size_t i = 0; i < x.size(); i++)
      out[4 * i] = double(x[i].at), out[4 * i + 1] = double(x[i].json), out[4 * i + 2] = double(x[i].len), out[4 * i + 3] = x[i].on_entry;
    return out;
  }

  // batch(tid, kind, site, ts, depth, held | null, length)
  Napi::Value Batch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto kind = info[1].As<Napi::Uint8Array>();
    auto site = info[2].As<Napi::Uint32Array>();
    auto ts = info[3].As<Napi::Float64Array>();
    auto depth = info[4].As<Napi::Uint32Array>();
    const size_t n = size_t(info[6].As<Napi::Number>().Int64Value());
    const double* held = nullptr;
    size_t held_len = n;
    if (info[5].IsTypedArray()) {
      auto h = info[5].As<Napi::Float64Array>();
      held = h.Data(), held_len = h.ElementLength();
    }
    if (held_len < n || kind.ElementLength() < n || site.ElementLength() < n || ts.ElementLength() < n || depth.ElementLength() < n) {
      Napi::RangeError::New(env, "CallSummarizer.batch: columns shorter than the length").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    s_.batch(info[0].As<Napi::Number>().Uint32Value(), kind.Data(), site.Data(), ts.Data(), depth.Data(), held, n);
    return env.Undefined();
  }

  Napi::Value EndOpen(const Napi::CallbackInfo& info) {
    s_.end_open(info[0].As<Napi::Number>().DoubleValue());
    return info.Env().Undefined();
  }

  // take() -> Float64Array: per accumulator [site, tid, count, sum, self, min, max, unwound, base, n, ...n counts]
  Napi::Value Take(const Napi::CallbackInfo& info) {
    std::vector<CallAcc> accs = s_.take();
    size_t len = 0;
    for (const auto& a : accs) len += 10 + a.counts.size();
    auto out = Napi::Float64Array::New(info.Env(), len);
    double* p = out.Data();
    for (const auto& a : accs) {
      const double head[10] = {double(a.site), double(a.tid), a.count, a.sum, a.self, a.min, a.max, a.unwound, double(a.base), double(a.counts.size())};
      std::copy(head, head + 10, p);
      p = std::copy(a.counts.begin(), a.counts.end(), p + 10);
    }
    return out;
  }

  Napi::Value Open(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(s_.open())); }
  Napi::Value Dropped(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(s_.dropped())); }

  CallSummary s_;
};

class JsonLineWriter : public Napi::ObjectWrap<JsonLineWriter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "JsonLineWriter", {InstanceMethod("site", &JsonLineWriter::Site), InstanceMethod("chunk", &JsonLineWriter::Chunk)});
  }
  // new JsonLineWriter(xorWords)
  explicit JsonLineWriter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsonLineWriter>(info), w_(info[0].ToBoolean()) {}

 private:
  // site(id, args, ret, fp, plain, entryTail, exitTail, typed | undefined)
  Napi::Value Site(const Napi::CallbackInfo& info) {
    return site_of(w_, info);
  }

  // chunk(buf, start, end, pid, tid, baseTs, openDepth, openSite, openTs, openN, out, outPos, lineEnds | null, lineTs | null, result) -> status
  // result: [rows, entries, lines, unmatched, last ts, out pos, open n, need open, need bytes, need lines]
  Napi::Value Chunk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto buf = info[0].As<Napi::Uint8Array>();
    const size_t start = size_t(info[1].As<Napi::Number>().Int64Value()), end = size_t(info[2].As<Napi::Number>().Int64Value());
    auto out = info[10].As<Napi::Uint8Array>();
    auto result = info[14].As<Napi::Float64Array>();
    OpenCalls open = open_calls_of(info, 6);
    LinesOut lines{out.Data(), size_t(info[11].As<Napi::Number>().Int64Value()), out.ByteLength()};
    if (info[12].IsTypedArray() && info[13].IsTypedArray()) {
      auto e = info[12].As<Napi::Uint32Array>();
      auto t = info[13].As<Napi::Float64Array>();
      lines.ends = e.Data(), lines.ts = t.Data(), lines.lines_cap = std::min(e.ElementLength(), t.ElementLength());
    }
    if (start > end || end > buf.ByteLength() || open.n > open.cap || lines.pos > lines.cap || result.ElementLength() < 10) {
      Napi::RangeError::New(env, "JsonLineWriter.chunk: a payload, a stack or an output outside its memory").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    LinesResult r = w_.chunk(buf.Data() + start, end - start, info[3].As<Napi::Number>().Uint32Value(), info[4].As<Napi::Number>().Uint32Value(),
                                 info[5].As<Napi::Number>().DoubleValue(), open, lines);
    const double vals[10] = {r.rows, r.entries, r.lines, r.unmatched, r.last_ts, double(lines.pos), double(open.n),
                             double(r.need_open), double(r.need_bytes), double(r.need_lines)};
    std::copy(vals, vals + 10, result.Data());
    return Napi::Number::New(env, double(r.status));
  }

  JsonLines w_;
};

class TreeLineWriter : public Napi::ObjectWrap<TreeLineWriter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TreeLineWriter", {InstanceMethod("site", &TreeLineWriter::Site), InstanceMethod("chunk", &TreeLineWriter::Chunk)});
  }
  // new TreeLineWriter(xorWords, nargs)
  explicit TreeLineWriter(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<TreeLineWriter>(info), w_(info[0].ToBoolean(), info[1].As<Napi::Number>().Uint32Value()) {}

 private:
  // site(id, args, ret, fp, plain, callName, blockName, typed | undefined)
  Napi::Value Site(const Napi::CallbackInfo& info) {
    return site_of(w_, info);
  }

  // chunk(buf, start, end, tid, baseTs, head | null, headDepth, openDepth, openSite, openTs, openN, out, outPos, result, maxOpen) -> status
  // result: [rows, entries, lines, unmatched, last ts, out pos, open n, need open, need bytes, pending start (-1: none), pending depth]
  Napi::Value Chunk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto buf = info[0].As<Napi::Uint8Array>();
    const size_t start = size_t(info[1].As<Napi::Number>().Int64Value()), end = size_t(info[2].As<Napi::Number>().Int64Value());
    const std::string head = info[5].IsTypedArray() ? bytes_of(info[5]) : std::string();
    auto out = info[11].As<Napi::Uint8Array>();
    auto result = info[13].As<Napi::Float64Array>();
    OpenCalls open = open_calls_of(info, 7);
    LinesOut lines{out.Data(), size_t(info[12].As<Napi::Number>().Int64Value()), out.ByteLength()};
    if (start > end || end > buf.ByteLength() || open.n > open.cap || lines.pos > lines.cap || result.ElementLength() < 11) {
      Napi::RangeError::New(env, "TreeLineWriter.chunk: a payload, a stack or an output outside its memory").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    TreeChunkResult r = w_.chunk(buf.Data() + start, end - start, info[3].As<Napi::Number>().Uint32Value(), info[4].As<Napi::Number>().DoubleValue(),
                                 head, info[6].As<Napi::Number>().Uint32Value(), open, lines,
                                 info[14].IsNumber() ? size_t(info[14].As<Napi::Number>().Int64Value()) : 0);
    const double vals[11] = {r.rows, r.entries, r.lines, r.unmatched, r.last_ts, double(lines.pos), double(open.n),
                             double(r.need_open), double(r.need_bytes), r.pending_start, r.pending_depth};
    std::copy(vals, vals + 11, result.Data());
    return Napi::Number::New(env, double(r.status));
  }

  TreeLines w_;
};

}  // namespace

Napi::Function JsonLineWriterClass(Napi::Env env) { return JsonLineWriter::Init(env); }

Napi::Function CallSummarizerClass(Napi::Env env) { return CallSummarizer::Init(env); }

Napi::Function TreeLineWriterClass(Napi::Env env) { return TreeLineWriter::Init(env); }

}  // namespace rethook
