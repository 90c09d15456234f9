// The N-API surface: a thin, 1:1 binding of process.h and breakpoints.h,
// typed in lib/native.ts. No policy here: TypeScript decides, this acts.
#include <cxxabi.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <napi.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "breakpoints.h"
#include "process.h"

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

struct Process {
  explicit Process(int pid) : mem(pid) {}
  Memory mem;
  BreakpointTable bps;
};

class MemoryAdapter : public MemoryAccess {
 public:
  explicit MemoryAdapter(Memory* m) : m_(m) {}
  bool write_u64(RemotePtr a, uint64_t v) override { return m_->write(a, &v, 8); }
  bool read_u64(RemotePtr a, uint64_t* v) override { return m_->read(a, v, 8); }

 private:
  Memory* m_;
};

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
            InstanceMethod("addThread", &NativeTracer::AddThread),
            InstanceMethod("wait", &NativeTracer::Wait),
            InstanceMethod("waitThread", &NativeTracer::WaitThread),
            InstanceMethod("loadRegs", &NativeTracer::LoadRegs),
            InstanceMethod("storeRegs", &NativeTracer::StoreRegs),
            InstanceMethod("resume", &NativeTracer::Resume),
            InstanceMethod("listen", &NativeTracer::Listen),
            InstanceMethod("continueFromBreakpoint", &NativeTracer::ContinueFromBreakpoint),
            InstanceMethod("fpRetval", &NativeTracer::FpRetval),
            InstanceMethod("setFpRetval", &NativeTracer::SetFpRetval),
            InstanceMethod("read", &NativeTracer::Read),
            InstanceMethod("write", &NativeTracer::Write),
            InstanceMethod("readU64", &NativeTracer::ReadU64),
            InstanceMethod("writeU64", &NativeTracer::WriteU64),
            InstanceMethod("planBreakpoint", &NativeTracer::PlanBreakpoint),
            InstanceMethod("setBreakpoint", &NativeTracer::SetBreakpoint),
            InstanceMethod("removeBreakpoint", &NativeTracer::RemoveBreakpoint),
            InstanceMethod("restoreBreakpoints", &NativeTracer::RestoreBreakpoints),
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
    QuietStops(false);
    if (active_) {
      active_ = false;
      g_active_tracers--;
    }
    if (!sigchld_) return;
    uv_signal_stop(sigchld_);
    uv_close(reinterpret_cast<uv_handle_t*>(sigchld_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
    sigchld_ = nullptr;
  }

  Process* proc(const Napi::Value& v) {
    int pid = v.As<Napi::Number>().Int32Value();
    auto it = procs_.find(pid);
    if (it == procs_.end()) throw Napi::Error::New(v.Env(), "no traced process " + std::to_string(pid));
    return it->second.get();
  }

  static std::vector<std::string> strings(const Napi::Value& v) {
    std::vector<std::string> out;
    auto a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    return out;
  }

  Napi::Value Spawn(const Napi::CallbackInfo& info) {
    std::string err;
    std::vector<int> stdio;
    auto fds = info[4].As<Napi::Array>();
    for (uint32_t i = 0; i < fds.Length(); i++) stdio.push_back(fds.Get(i).As<Napi::Number>().Int32Value());
    int pid = spawn_seized(info[0].As<Napi::String>(), strings(info[1]), strings(info[2]),
                           info[3].As<Napi::String>(), stdio, &err);
    if (pid < 0) throw Napi::Error::New(info.Env(), err);
    procs_[pid] = std::make_unique<Process>(pid);
    tids_.insert(pid);
    return Napi::Number::New(info.Env(), pid);
  }

  Napi::Value Seize(const Napi::CallbackInfo& info) {
    std::string err;
    int tid = info[0].As<Napi::Number>().Int32Value();
    bool exit_kill = info.Length() > 1 && info[1].ToBoolean();
    if (!seize_thread(tid, exit_kill, &err)) throw Napi::Error::New(info.Env(), err);
    tids_.insert(tid);
    return info.Env().Undefined();
  }

  Napi::Value AddProcess(const Napi::CallbackInfo& info) {
    int pid = info[0].As<Napi::Number>().Int32Value();
    auto& p = procs_[pid];
    if (p) p->mem.reopen();
    else p = std::make_unique<Process>(pid);
    tids_.insert(pid);
    return info.Env().Undefined();
  }

  Napi::Value DropProcess(const Napi::CallbackInfo& info) {
    procs_.erase(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  }

  Napi::Value AddThread(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    if (info[1].As<Napi::Boolean>()) tids_.insert(tid);
    else tids_.erase(tid);
    return info.Env().Undefined();
  }

  Napi::Value Report(Napi::Env env, const Stop& s) {
    if (s.kind != kNone) last_tid_ = s.tid;
    info_[0] = s.kind;
    info_[1] = s.tid;
    info_[2] = s.a;
    info_[3] = double(s.msg);
    info_[4] = double(s.addr.as_int());
    info_[5] = s.si_code;
    if (s.kind == kExited || s.kind == kKilled) tids_.erase(s.tid);
    if (s.kind == kEvent && s.a == PTRACE_EVENT_EXEC) {
      auto it = procs_.find(s.tid);
      if (it != procs_.end()) {
        it->second->mem.reopen();
        it->second->bps.clear();
      }
    }
    return Napi::Number::New(env, s.kind);
  }

  // wait(spinNs): the next stop, or kNone. With spinNs > 0, keep asking for
  // that long, yielding the CPU in between: a tracee on this CPU then runs to
  // its next stop at once, and the stop is taken here without a signal and
  // an event-loop wake-up (see README, "How JS and the tracer hand off").
  //
  // While stops are being taken here, they send no SIGCHLD (SA_NOCLDSTOP):
  // a signal, its handler and libuv's pipe cost about as much as a ptrace
  // stop. Before going idle the notification is turned back on, and one last
  // look closes the race with a stop that came in between.
  Napi::Value Wait(const Napi::CallbackInfo& info) {
    double spin_ns = info.Length() > 0 ? info[0].As<Napi::Number>().DoubleValue() : 0;
    QuietStops(true);
    Stop s = wait_any(tids_, last_tid_, &regs_);
    if (s.kind != kNone) return Report(info.Env(), s);
    if (spin_ns > 0) {
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      for (;;) {
        sched_yield();
        s = wait_any(tids_, last_tid_, &regs_);
        if (s.kind != kNone) return Report(info.Env(), s);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec) > spin_ns) break;
      }
    }
    QuietStops(false);
    return Report(info.Env(), wait_any(tids_, last_tid_, &regs_));
  }

  // Toggle SA_NOCLDSTOP on the process's SIGCHLD action (libuv's handler is
  // kept). Only while this is the one active tracer of the process: another
  // one idle at that moment would miss the signal for its own tracee's stop.
  void QuietStops(bool quiet) {
    if (quiet == quiet_) return;
    if (quiet && g_active_tracers != 1) return;
    struct sigaction sa;
    if (sigaction(SIGCHLD, nullptr, &sa) != 0) return;
    if (quiet) sa.sa_flags |= SA_NOCLDSTOP;
    else sa.sa_flags &= ~SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, nullptr) == 0) quiet_ = quiet;
  }

  Napi::Value WaitThread(const Napi::CallbackInfo& info) {
    return Report(info.Env(), wait_thread(info[0].As<Napi::Number>().Int32Value(), &regs_));
  }

  Napi::Value LoadRegs(const Napi::CallbackInfo& info) {
    bool ok = arch_get_regs(info[0].As<Napi::Number>().Int32Value(), &regs_);
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value StoreRegs(const Napi::CallbackInfo& info) {
    bool ok = arch_set_regs(info[0].As<Napi::Number>().Int32Value(), regs_);
    return Napi::Boolean::New(info.Env(), ok);
  }

  // resume(tid, sig, storeRegsFirst, untilSyscall)
  Napi::Value Resume(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    long sig = info[1].As<Napi::Number>().Int32Value();
    if (info.Length() > 2 && info[2].ToBoolean()) arch_set_regs(tid, regs_);
    auto req = info.Length() > 3 && info[3].ToBoolean() ? PTRACE_SYSCALL : PTRACE_CONT;
    bool ok = ptrace(req, tid, nullptr, (void*)sig) == 0;
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value Listen(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    return Napi::Boolean::New(info.Env(), ptrace(PTRACE_LISTEN, tid, nullptr, nullptr) == 0);
  }

  // continueFromBreakpoint(tid, pid, addr): regs_ hold the thread's registers
  // (possibly changed by TS); run the displaced instruction and continue.
  Napi::Value ContinueFromBreakpoint(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    Process* p = proc(info[1]);
    RemotePtr addr = to_ptr(info[2]);
    const Breakpoint* bp = p->bps.find(addr);
    if (bp) {
      MemoryAdapter mem(&p->mem);
      std::string err;
      if (!arch_step_over(bp->plan, addr, bp->slot, &regs_, &mem, &err))
        throw Napi::Error::New(info.Env(), err);
    } else {
      regs_.words[kArch.reg_pc] = addr.as_int();  // removed meanwhile: run the original
    }
    arch_set_regs(tid, regs_);
    bool ok = ptrace(PTRACE_CONT, tid, nullptr, nullptr) == 0;
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value FpRetval(const Napi::CallbackInfo& info) {
    uint64_t v = 0;
    arch_get_fp_retval(info[0].As<Napi::Number>().Int32Value(), &v);
    return Napi::BigInt::New(info.Env(), v);
  }

  Napi::Value SetFpRetval(const Napi::CallbackInfo& info) {
    bool ok = arch_set_fp_retval(info[0].As<Napi::Number>().Int32Value(), to_u64(info[1]));
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    size_t len = info[2].As<Napi::Number>().Uint32Value();
    auto buf = Napi::Buffer<uint8_t>::New(info.Env(), len);
    if (!p->mem.read(to_ptr(info[1]), buf.Data(), len)) return info.Env().Null();
    return buf;
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    auto buf = info[2].As<Napi::Buffer<uint8_t>>();
    return Napi::Boolean::New(info.Env(), p->mem.write(to_ptr(info[1]), buf.Data(), buf.Length()));
  }

  Napi::Value ReadU64(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    uint64_t v;
    if (!p->mem.read(to_ptr(info[1]), &v, 8)) return info.Env().Null();
    return Napi::BigInt::New(info.Env(), v);
  }

  Napi::Value WriteU64(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    uint64_t v = to_u64(info[2]);
    return Napi::Boolean::New(info.Env(), p->mem.write(to_ptr(info[1]), &v, 8));
  }

  Napi::Value PlanBreakpoint(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    std::string err;
    StepPlan plan = p->bps.plan(&p->mem, to_ptr(info[1]), &err);
    auto o = Napi::Object::New(info.Env());
    o.Set("kind", plan.kind == StepKind::Emulate     ? "emulate"
                  : plan.kind == StepKind::OutOfLine ? "out-of-line"
                                                     : "refused");
    o.Set("length", double(plan.insn_len));
    o.Set("needsSlot", plan.needs_slot);
    o.Set("reason", plan.reason);
    return o;
  }

  Napi::Value SetBreakpoint(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    std::string err;
    if (!p->bps.set(&p->mem, to_ptr(info[1]), to_ptr(info[2]), &err))
      throw Napi::Error::New(info.Env(), err);
    return info.Env().Undefined();
  }

  Napi::Value RemoveBreakpoint(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    return Napi::Boolean::New(info.Env(), p->bps.remove(&p->mem, to_ptr(info[1])));
  }

  // restoreBreakpoints(pid, intoPid): write pid's original bytes into intoPid.
  Napi::Value RestoreBreakpoints(const Napi::CallbackInfo& info) {
    Process* p = proc(info[0]);
    Process* into = proc(info[1]);
    return Napi::Boolean::New(info.Env(), p->bps.restore_all(&into->mem));
  }

  // copyBreakpoints(fromPid, toPid): a forked child has our breakpoints too.
  Napi::Value CopyBreakpoints(const Napi::CallbackInfo& info) {
    Process* from = proc(info[0]);
    Process* to = proc(info[1]);
    to->bps = from->bps;
    return info.Env().Undefined();
  }

  // injectSyscall(tid, pid, stub, writeStub, nr, args[6]) -> bigint
  Napi::Value InjectSyscall(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    Process* p = proc(info[1]);
    uint64_t args[6] = {0, 0, 0, 0, 0, 0};
    auto a = info[5].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length() && i < 6; i++) args[i] = to_u64(a.Get(i));
    uint64_t result;
    std::string err;
    if (!inject_syscall(tid, &p->mem, to_ptr(info[2]), info[3].ToBoolean(),
                        info[4].As<Napi::Number>().Int32Value(), args, &result, &err))
      throw Napi::Error::New(info.Env(), err);
    return Napi::BigInt::New(info.Env(), result);
  }

  // markTrampoline(addr): a trap there is always ours.
  Napi::Value MarkTrampoline(const Napi::CallbackInfo& info) {
    set_unambiguous_trap(to_ptr(info[0]), true);
    return info.Env().Undefined();
  }

  // callFunction(tid, pid, fn, returnTo) -> bigint
  Napi::Value CallFunction(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    Process* p = proc(info[1]);
    uint64_t result;
    std::string err;
    if (!inject_call(tid, &p->mem, to_ptr(info[2]), to_ptr(info[3]), &result, &err))
      throw Napi::Error::New(info.Env(), err);
    return Napi::BigInt::New(info.Env(), result);
  }

  // reap(pid): a detached child of ours that has exited is waited for (no
  // zombie left behind). True once it is gone.
  Napi::Value Reap(const Napi::CallbackInfo& info) {
    int pid = info[0].As<Napi::Number>().Int32Value();
    int status;
    int r = waitpid(pid, &status, WNOHANG | __WALL);
    return Napi::Boolean::New(info.Env(), r == pid || (r < 0 && errno == ECHILD));
  }

  Napi::Value Interrupt(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    return Napi::Boolean::New(info.Env(), ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) == 0);
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    int tid = info[0].As<Napi::Number>().Int32Value();
    long sig = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
    bool ok = ptrace(PTRACE_DETACH, tid, nullptr, (void*)sig) == 0;
    tids_.erase(tid);
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value Kill(const Napi::CallbackInfo& info) {
    int pid = info[0].As<Napi::Number>().Int32Value();
    int sig = info[1].As<Napi::Number>().Int32Value();
    return Napi::Boolean::New(info.Env(), ::kill(pid, sig) == 0);
  }

  Napi::Value SetActive(const Napi::CallbackInfo& info) {
    bool active = info[0].ToBoolean();
    if (active != active_) {
      active_ = active;
      g_active_tracers += active ? 1 : -1;
      if (!active) QuietStops(false);
    }
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

  Napi::Env env_ = nullptr;
  Napi::FunctionReference wake_;
  Napi::Reference<Napi::ArrayBuffer> regs_buf_, info_buf_;
  ArchRegs regs_{};
  double info_[8] = {};
  uv_signal_t* sigchld_ = nullptr;
  std::unordered_map<int, std::unique_ptr<Process>> procs_;
  std::unordered_set<int> tids_;
  int last_tid_ = 0;
  bool quiet_ = false;
  bool active_ = false;
  static int g_active_tracers;
};

int NativeTracer::g_active_tracers = 0;

static Napi::Value Demangle(const Napi::CallbackInfo& info) {
  auto in = info[0].As<Napi::Array>();
  auto out = Napi::Array::New(info.Env(), in.Length());
  for (uint32_t i = 0; i < in.Length(); i++) {
    std::string s = in.Get(i).As<Napi::String>();
    int status = 0;
    char* d = abi::__cxa_demangle(s.c_str(), nullptr, nullptr, &status);
    out.Set(i, status == 0 && d ? Napi::String::New(info.Env(), d) : Napi::String::New(info.Env(), s));
    free(d);
  }
  return out;
}

static Napi::Object ArchInfo(Napi::Env env) {
  auto o = Napi::Object::New(env);
  o.Set("name", kArch.name);
  o.Set("pc", kArch.reg_pc);
  o.Set("sp", kArch.reg_sp);
  o.Set("retval", kArch.reg_retval);
  auto args = Napi::Array::New(env, kArch.nargs);
  for (int i = 0; i < kArch.nargs; i++) args.Set(i, kArch.reg_args[i]);
  o.Set("args", args);
  o.Set("returnAddressReg", kArch.reg_return_address);
  o.Set("framePointer", kArch.reg_frame_pointer);
  o.Set("returnPops", kArch.return_pops);
  o.Set("trapSiCode", kArch.trap_si_code);
  o.Set("slotSize", double(kArch.slot_size));
  o.Set("slotReach", double(kArch.slot_reach));
  auto names = Napi::Array::New(env, kArch.reg_names.size());
  for (size_t i = 0; i < kArch.reg_names.size(); i++) names.Set(i, kArch.reg_names[i]);
  o.Set("regNames", names);
  auto stub = arch_syscall_stub();
  o.Set("syscallStub", Napi::Buffer<uint8_t>::Copy(env, stub.data(), stub.size()));
  auto tramp = arch_trampoline_code();
  o.Set("trampolineCode", Napi::Buffer<uint8_t>::Copy(env, tramp.data(), tramp.size()));
  auto nr = Napi::Object::New(env);
  nr.Set("mmap", kArch.nr_mmap);
  nr.Set("munmap", kArch.nr_munmap);
  nr.Set("prctl", SYS_prctl);
  o.Set("syscalls", nr);
  return o;
}

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTracer", NativeTracer::Init(env));
  exports.Set("demangle", Napi::Function::New(env, Demangle));
  exports.Set("arch", ArchInfo(env));
  return exports;
}

NODE_API_MODULE(rethook, InitModule)

}  // namespace rethook
