// (Over 400 lines on purpose: one short method per native operation, so the
// whole binding, as lib/native.ts types it, reads in one place.)
//
// The N-API surface, typed 1:1 in lib/native.ts: argument conversion and
// calls into the session (session.h) and the tracee layer (tracee/*.h). No
// ptrace here and no policy: TypeScript decides, the layers below act.
#include <napi.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

#include "addon_debug.h"
#include "addon_fast.h"
#include "addon_record.h"
#include "addon_values.h"
#include "guardian/shared.h"
#include "session.h"
#include "tracee/inject.h"
#include "tracee/spawn.h"
#include "tracee/thread_control.h"

namespace rethook {

namespace {

RemotePtr to_ptr(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return RemotePtr(v.As<Napi::BigInt>().Uint64Value(&lossless));
  }
  return RemotePtr(uint64_t(v.As<Napi::Number>().DoubleValue()));
}

uint64_t to_u64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return uint64_t(int64_t(v.As<Napi::Number>().DoubleValue()));
}

int to_int(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }

std::vector<std::string> to_strings(const Napi::Value& v) {
  std::vector<std::string> out;
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

const char* plan_kind_name(StepKind k) {
  switch (k) {
    case StepKind::Emulate: return "emulate";
    case StepKind::OutOfLine: return "out-of-line";
    case StepKind::Refused: break;
  }
  return "refused";
}

}  // namespace

class NativeTracer : public Napi::ObjectWrap<NativeTracer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "NativeTracer",
        {
            InstanceMethod("spawn", &NativeTracer::Spawn),
            InstanceMethod("seize", &NativeTracer::Seize),
            InstanceMethod("addProcess", &NativeTracer::AddProcess),
            InstanceMethod("dropProcess", &NativeTracer::DropProcess),
            InstanceMethod("execed", &NativeTracer::Execed),
            InstanceMethod("addThread", &NativeTracer::AddThread),
            InstanceMethod("removeThread", &NativeTracer::RemoveThread),
            InstanceMethod("wait", &NativeTracer::Wait),
            InstanceMethod("waitThread", &NativeTracer::WaitThread),
            InstanceMethod("isStopped", &NativeTracer::IsStopped),
            InstanceMethod("loadRegs", &NativeTracer::LoadRegs),
            InstanceMethod("storeRegs", &NativeTracer::StoreRegs),
            InstanceMethod("resume", &NativeTracer::Resume),
            InstanceMethod("listen", &NativeTracer::Listen),
            InstanceMethod("continueFromBreakpoint", &NativeTracer::ContinueFromBreakpoint),
            InstanceMethod("fpRetval", &NativeTracer::FpRetval),
            InstanceMethod("setFpRetval", &NativeTracer::SetFpRetval),
            InstanceMethod("threadPointer", &NativeTracer::ThreadPointer),
            InstanceMethod("read", &NativeTracer::Read),
            InstanceMethod("write", &NativeTracer::Write),
            InstanceMethod("readU64", &NativeTracer::ReadU64),
            InstanceMethod("writeU64", &NativeTracer::WriteU64),
            InstanceMethod("planBreakpoint", &NativeTracer::PlanBreakpoint),
            InstanceMethod("setBreakpoint", &NativeTracer::SetBreakpoint),
            InstanceMethod("removeBreakpoint", &NativeTracer::RemoveBreakpoint),
            InstanceMethod("forgetBreakpoint", &NativeTracer::ForgetBreakpoint),
            InstanceMethod("restoreBreakpoints", &NativeTracer::RestoreBreakpoints),
            InstanceMethod("replantBreakpoints", &NativeTracer::ReplantBreakpoints),
            InstanceMethod("copyBreakpoints", &NativeTracer::CopyBreakpoints),
            InstanceMethod("injectSyscall", &NativeTracer::InjectSyscall),
            InstanceMethod("callFunction", &NativeTracer::CallFunction),
            InstanceMethod("markTrampoline", &NativeTracer::MarkTrampoline),
            InstanceMethod("interrupt", &NativeTracer::Interrupt),
            InstanceMethod("reap", &NativeTracer::Reap),
            InstanceMethod("detach", &NativeTracer::Detach),
            InstanceMethod("kill", &NativeTracer::Kill),
            InstanceMethod("setActive", &NativeTracer::SetActive),
            InstanceMethod("close", &NativeTracer::Close),
            InstanceMethod("fpArgs", &NativeTracer::FpArgsM),
            InstanceMethod("debugSignature", &NativeTracer::DebugSignatureM),
            InstanceMethod("debugSourceLine", &NativeTracer::DebugSourceLineM),
            InstanceMethod("debugMemberOffset", &NativeTracer::DebugMemberOffsetM),
            InstanceMethod("unwind", &NativeTracer::UnwindM),
            InstanceMethod("forgetDebugProcess", &NativeTracer::ForgetDebugProcess),
        });
  }

  explicit NativeTracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTracer>(info) {
    Napi::Env env = info.Env();
    wake_ = Napi::Persistent(info[0].As<Napi::Function>());
    regs_buf_ = Napi::Persistent(Napi::ArrayBuffer::New(env, regs_.words, sizeof regs_.words,
                                                        [](Napi::Env, void*) {}));
    info_buf_ = Napi::Persistent(
        Napi::ArrayBuffer::New(env, info_, sizeof info_, [](Napi::Env, void*) {}));
    Value().Set("regs", Napi::BigUint64Array::New(env, 64, regs_buf_.Value(), 0));
    Value().Set("info", Napi::Float64Array::New(env, 8, info_buf_.Value(), 0));
    // Every ptrace stop sends SIGCHLD to the tracer thread (this one). Waking
    // on it keeps the tracer on Node's own thread: no hand-off between threads.
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    sigchld_ = new uv_signal_t;
    uv_signal_init(loop, sigchld_);
    sigchld_->data = this;
    uv_signal_start(sigchld_, &NativeTracer::OnSigchld, SIGCHLD);
    uv_unref(reinterpret_cast<uv_handle_t*>(sigchld_));
    env_ = env;
  }

  ~NativeTracer() override { CloseHandle(); }

 private:
  static void OnSigchld(uv_signal_t* h, int) {
    auto* self = static_cast<NativeTracer*>(h->data);
    Napi::HandleScope scope(self->env_);
    self->wake_.MakeCallback(self->Value(), {});
  }

  void CloseHandle() {
    session_.shutdown();
    if (!sigchld_) return;
    uv_signal_stop(sigchld_);
    uv_close(reinterpret_cast<uv_handle_t*>(sigchld_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
    sigchld_ = nullptr;
  }

  TracedProcess* proc(const Napi::Value& v) {
    int pid = to_int(v);
    TracedProcess* p = session_.process(pid);
    if (!p) throw Napi::Error::New(v.Env(), "no traced process " + std::to_string(pid));
    return p;
  }

  Napi::Value Bool(const Napi::CallbackInfo& info, bool b) { return Napi::Boolean::New(info.Env(), b); }

  // The stop goes to TypeScript through info_ (indices: lib/native.ts Info).
  Napi::Value Report(Napi::Env env, const Stop& s) {
    info_[0] = s.kind;
    info_[1] = s.tid;
    info_[2] = s.a;
    info_[3] = double(s.msg);
    info_[4] = double(s.addr.as_int());
    info_[5] = s.si_code;
    return Napi::Number::New(env, s.kind);
  }

  // spawn(path, argv, envp, cwd, stdio, ignoredSignals) -> pid. Registers nothing.
  Napi::Value Spawn(const Napi::CallbackInfo& info) {
    std::string err;
    std::vector<int> stdio;
    auto fds = info[4].As<Napi::Array>();
    for (uint32_t i = 0; i < fds.Length(); i++) stdio.push_back(to_int(fds.Get(i)));
    int died_pid = 0, died_status = 0;
    int pid = spawn_seized(info[0].As<Napi::String>(), to_strings(info[1]), to_strings(info[2]),
                           info[3].As<Napi::String>(), stdio,
                           info.Length() > 5 ? to_u64(info[5]) : 0, &err, &died_pid, &died_status);
    if (pid < 0) {
      Napi::Error e = Napi::Error::New(info.Env(), err);
      if (died_pid > 0) {
        // Ended before its exec, not by a failed exec: the error says how (spawn.ts).
        e.Set("diedPid", Napi::Number::New(info.Env(), died_pid));
        e.Set("waitStatus", Napi::Number::New(info.Env(), died_status));
      }
      throw e;
    }
    return Napi::Number::New(info.Env(), pid);
  }

  // seize(tid, exitKill). Registers nothing.
  Napi::Value Seize(const Napi::CallbackInfo& info) {
    std::string err;
    bool exit_kill = info.Length() > 1 && info[1].ToBoolean();
    if (!seize_thread(to_int(info[0]), exit_kill, &err)) throw Napi::Error::New(info.Env(), err);
    return info.Env().Undefined();
  }

  Napi::Value AddProcess(const Napi::CallbackInfo& info) {
    session_.add_process(to_int(info[0]));
    return info.Env().Undefined();
  }

  Napi::Value DropProcess(const Napi::CallbackInfo& info) {
    session_.drop_process(to_int(info[0]));
    return info.Env().Undefined();
  }

  // execed(pid): on PTRACE_EVENT_EXEC.
  Napi::Value Execed(const Napi::CallbackInfo& info) {
    proc(info[0])->execed();
    return info.Env().Undefined();
  }

  // addThread(tid, pid)
  Napi::Value AddThread(const Napi::CallbackInfo& info) {
    session_.add_thread(to_int(info[0]), to_int(info[1]));
    return info.Env().Undefined();
  }

  Napi::Value RemoveThread(const Napi::CallbackInfo& info) {
    session_.remove_thread(to_int(info[0]));
    return info.Env().Undefined();
  }

  // wait(spinNs?)
  Napi::Value Wait(const Napi::CallbackInfo& info) {
    double spin_ns = info.Length() > 0 ? info[0].As<Napi::Number>().DoubleValue() : 0;
    return Report(info.Env(), session_.wait(spin_ns, &regs_));
  }

  // waitThread(tid, timeoutMs, reapExits = true)
  Napi::Value WaitThread(const Napi::CallbackInfo& info) {
    double timeout_ms = info.Length() > 1 ? info[1].As<Napi::Number>().DoubleValue() : 0;
    bool reap_exits = info.Length() < 3 || info[2].ToBoolean();
    return Report(info.Env(), session_.wait_thread(to_int(info[0]), &regs_, timeout_ms * 1e6, reap_exits));
  }

  Napi::Value IsStopped(const Napi::CallbackInfo& info) {
    return Bool(info, thread_is_stopped(to_int(info[0])));
  }

  Napi::Value LoadRegs(const Napi::CallbackInfo& info) {
    return Bool(info, arch_get_regs(to_int(info[0]), &regs_));
  }

  Napi::Value StoreRegs(const Napi::CallbackInfo& info) {
    return Bool(info, arch_set_regs(to_int(info[0]), regs_));
  }

  // resume(tid, sig, storeRegsFirst, untilSyscall)
  Napi::Value Resume(const Napi::CallbackInfo& info) {
    int tid = to_int(info[0]);
    if (info.Length() > 2 && info[2].ToBoolean()) arch_set_regs(tid, regs_);
    bool until_syscall = info.Length() > 3 && info[3].ToBoolean();
    return Bool(info, resume_thread(tid, to_int(info[1]), until_syscall));
  }

  Napi::Value Listen(const Napi::CallbackInfo& info) { return Bool(info, listen_thread(to_int(info[0]))); }

  // continueFromBreakpoint(tid, pid, addr): regs_ hold the thread's registers.
  Napi::Value ContinueFromBreakpoint(const Napi::CallbackInfo& info) {
    bool resumed = false;
    std::string err;
    if (!proc(info[1])->continue_from_breakpoint(to_int(info[0]), to_ptr(info[2]), &regs_, &resumed, &err))
      throw Napi::Error::New(info.Env(), err);
    return Bool(info, resumed);
  }

  Napi::Value FpRetval(const Napi::CallbackInfo& info) {
    uint64_t v = 0;
    arch_get_fp_retval(to_int(info[0]), &v);
    return Napi::BigInt::New(info.Env(), v);
  }

  Napi::Value ThreadPointer(const Napi::CallbackInfo& info) {
    uint64_t v = 0;
    if (!arch_thread_pointer(to_int(info[0]), &v)) return info.Env().Null();
    return Napi::BigInt::New(info.Env(), v);
  }

  Napi::Value SetFpRetval(const Napi::CallbackInfo& info) {
    return Bool(info, arch_set_fp_retval(to_int(info[0]), to_u64(info[1])));
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[0]);
    size_t len = info[2].As<Napi::Number>().Uint32Value();
    auto buf = Napi::Buffer<uint8_t>::New(info.Env(), len);
    if (!p->mem.read(to_ptr(info[1]), buf.Data(), len)) return info.Env().Null();
    return buf;
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[0]);
    auto buf = info[2].As<Napi::Buffer<uint8_t>>();
    return Bool(info, p->mem.write(to_ptr(info[1]), buf.Data(), buf.Length()));
  }

  Napi::Value ReadU64(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[0]);
    uint64_t v;
    if (!p->mem.read(to_ptr(info[1]), &v, 8)) return info.Env().Null();
    return Napi::BigInt::New(info.Env(), v);
  }

  Napi::Value WriteU64(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[0]);
    uint64_t v = to_u64(info[2]);
    return Bool(info, p->mem.write(to_ptr(info[1]), &v, 8));
  }

  Napi::Value PlanBreakpoint(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[0]);
    std::string err;
    StepPlan plan = p->breakpoints.plan(&p->mem, to_ptr(info[1]), &err);
    auto o = Napi::Object::New(info.Env());
    o.Set("kind", plan_kind_name(plan.kind));
    o.Set("length", double(plan.insn_len));
    o.Set("needsSlot", plan.needs_slot);
    o.Set("reason", plan.reason);
    return o;
  }

  Napi::Value SetBreakpoint(const Napi::CallbackInfo& info) {
    std::string err;
    if (!proc(info[0])->set_breakpoint(to_ptr(info[1]), to_ptr(info[2]), &err))
      throw Napi::Error::New(info.Env(), err);
    return info.Env().Undefined();
  }

  Napi::Value RemoveBreakpoint(const Napi::CallbackInfo& info) {
    return Bool(info, proc(info[0])->remove_breakpoint(to_ptr(info[1])));
  }

  // forgetBreakpoint(pid, addr): its object was unmapped; nothing is written.
  Napi::Value ForgetBreakpoint(const Napi::CallbackInfo& info) {
    proc(info[0])->forget_breakpoint(to_ptr(info[1]));
    return info.Env().Undefined();
  }

  // restoreBreakpoints(pid, intoPid): write pid's original bytes into intoPid.
  Napi::Value RestoreBreakpoints(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[0]);
    TracedProcess* into = proc(info[1]);
    return Bool(info, p->breakpoints.restore_all(&into->mem));
  }

  // replantBreakpoints(pid): write pid's breakpoint instructions again (after restoreBreakpoints(pid, pid)).
  Napi::Value ReplantBreakpoints(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[0]);
    return Bool(info, p->breakpoints.replant_all(&p->mem));
  }

  // copyBreakpoints(fromPid, toPid): a forked child has our breakpoints too.
  Napi::Value CopyBreakpoints(const Napi::CallbackInfo& info) {
    TracedProcess* from = proc(info[0]);
    proc(info[1])->copy_from(*from);
    return info.Env().Undefined();
  }

  // injectSyscall(tid, pid, stub, writeStub, nr, args[6]) -> bigint
  Napi::Value InjectSyscall(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[1]);
    uint64_t args[6] = {0, 0, 0, 0, 0, 0};
    auto a = info[5].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length() && i < 6; i++) args[i] = to_u64(a.Get(i));
    uint64_t result;
    std::string err;
    if (!inject_syscall(to_int(info[0]), &p->mem, to_ptr(info[2]), info[3].ToBoolean(),
                        to_int(info[4]), args, &result, &err))
      throw Napi::Error::New(info.Env(), err);
    return Napi::BigInt::New(info.Env(), result);
  }

  // markTrampoline(pid, addr): a trap there is always ours.
  Napi::Value MarkTrampoline(const Napi::CallbackInfo& info) {
    proc(info[0])->mark_trampoline(to_ptr(info[1]));
    return info.Env().Undefined();
  }

  // callFunction(tid, pid, fn, returnTo) -> bigint
  Napi::Value CallFunction(const Napi::CallbackInfo& info) {
    TracedProcess* p = proc(info[1]);
    uint64_t result;
    std::string err;
    if (!inject_call(to_int(info[0]), &p->mem, to_ptr(info[2]), to_ptr(info[3]), &result, &err))
      throw Napi::Error::New(info.Env(), err);
    return Napi::BigInt::New(info.Env(), result);
  }

  // reap(pid) -> -1 still running, -2 gone (status unknown), else the wait status.
  Napi::Value Reap(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), reap_child(to_int(info[0])));
  }

  Napi::Value Interrupt(const Napi::CallbackInfo& info) {
    return Bool(info, interrupt_thread(to_int(info[0])));
  }

  // detach(tid, sig?). Unregisters nothing.
  Napi::Value Detach(const Napi::CallbackInfo& info) {
    int sig = info.Length() > 1 ? to_int(info[1]) : 0;
    return Bool(info, detach_thread(to_int(info[0]), sig));
  }

  Napi::Value Kill(const Napi::CallbackInfo& info) {
    return Bool(info, kill_process(to_int(info[0]), to_int(info[1])));
  }

  // setActive(active): an active tracer keeps Node alive (its SIGCHLD handle
  // is referenced) and may quiet SIGCHLD while it waits.
  Napi::Value SetActive(const Napi::CallbackInfo& info) {
    bool active = info[0].ToBoolean();
    session_.set_active(active);
    if (sigchld_) {
      if (active) uv_ref(reinterpret_cast<uv_handle_t*>(sigchld_));
      else uv_unref(reinterpret_cast<uv_handle_t*>(sigchld_));
    }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseHandle();
    return info.Env().Undefined();
  }

  // Debug information and CFI unwinding (addon_debug.cc).
  Napi::Value FpArgsM(const Napi::CallbackInfo& info) { return FpArgs(info); }
  Napi::Value DebugSignatureM(const Napi::CallbackInfo& info) { return DebugSignature(debug_info(&debug_), info); }
  Napi::Value DebugSourceLineM(const Napi::CallbackInfo& info) { return DebugSourceLine(debug_info(&debug_), info); }
  Napi::Value DebugMemberOffsetM(const Napi::CallbackInfo& info) { return DebugMemberOffset(debug_info(&debug_), info); }
  Napi::Value UnwindM(const Napi::CallbackInfo& info) { return Unwind(debug_info(&debug_), session_, regs_, info); }
  Napi::Value ForgetDebugProcess(const Napi::CallbackInfo& info) {
    if (debug_) debug_->forget_process(to_int(info[0]));
    return info.Env().Undefined();
  }

  Napi::Env env_ = nullptr;
  std::unique_ptr<dwarf::DebugInfo> debug_;
  Napi::FunctionReference wake_;
  Napi::Reference<Napi::ArrayBuffer> regs_buf_, info_buf_;
  ArchRegs regs_{};
  double info_[8] = {};
  uv_signal_t* sigchld_ = nullptr;
  Session session_;
};

// pipe() -> [readFd, writeFd], both close-on-exec: a spawned program's end is
// dup2'ed onto its 0, 1 or 2 (which spawn makes inheritable), ours stays ours.
static Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw Napi::Error::New(info.Env(), std::string("pipe: ") + strerror(errno));
  auto a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  a.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return a;
}

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("NativeTracer", NativeTracer::Init(env));
  exports.Set("demangle", Napi::Function::New(env, Demangle));
  exports.Set("arch", ArchInfo(env));
  exports.Set("createSharedMemory", Napi::Function::New(env, CreateSharedMemory));
  exports.Set("mapSharedFd", Napi::Function::New(env, MapSharedFd));
  exports.Set("adoptTraceeMemfd", Napi::Function::New(env, AdoptTraceeMemfd));
  exports.Set("pidfdAlive", Napi::Function::New(env, PidfdAlive));
  exports.Set("startGuardian", Napi::Function::New(env, StartGuardian));
  exports.Set("reapChild", Napi::Function::New(env, ReapChild));
  exports.Set("fast", FastExports(env));
  exports.Set("CallSummarizer", CallSummarizerClass(env));
  exports.Set("JsonLineWriter", JsonLineWriterClass(env));
  exports.Set("TreeLineWriter", TreeLineWriterClass(env));
  return exports;
}

NODE_API_MODULE(rethook, InitModule)

}  // namespace rethook
