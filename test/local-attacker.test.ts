// A local user against a root tracer (issue: "nobody gets in through the
// tracer"). The tracer creates nothing with a name in a shared place, takes
// the tracee's memory by descriptor (never by path) and checks it, and its
// guardian names the process by a pidfd, so a reused pid is never touched.
// The attacker is a throwaway unprivileged user: a uid with no account (so
// there is nothing to create or remove), running the attacking program.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { adoptTraceeMemfd } from '../lib/native';
import { CLI, fixture, MODES, scratchDir, timeBound, waitForState } from './helpers';

/** An unused uid and gid: the attacker. */
const ATTACKER = 40000 + (process.pid % 20000);

/** Names in the shared directories right now. */
function sharedNames(): Set<string> {
  const out = new Set<string>();
  for (const dir of ['/dev/shm', os.tmpdir()]) {
    try {
      for (const n of fs.readdirSync(dir)) out.add(path.join(dir, n));
    } catch {
      /* no such directory */
    }
  }
  return out;
}

/** Text of a child's stream so far, and a promise for the moment it holds something. */
function watch(child: ChildProcess, stream: 'stdout' | 'stderr') {
  let text = '';
  let wake: () => void = () => undefined;
  child[stream]!.on('data', (d) => {
    text += d;
    wake();
  });
  return {
    get text() {
      return text;
    },
    until: async (want: (t: string) => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!want(text)) {
        if (Date.now() > end) throw new Error(`waited ${ms} ms for ${stream}; it holds: ${text.slice(-500)}`);
        await Promise.race([new Promise<void>((r) => (wake = r)), new Promise((r) => setTimeout(r, 50))]);
      }
    },
  };
}

/** A root-only file (0600) with known content, in a folder others may pass through. */
function rootOnlyFile(): { file: string; content: Buffer; check: () => void } {
  const dir = fs.mkdtempSync(path.join(scratchDir(), 'root-'));
  fs.chmodSync(scratchDir(), 0o711);
  fs.chmodSync(dir, 0o711);
  const file = path.join(dir, 'secret');
  const content = Buffer.from('root only\n');
  fs.writeFileSync(file, content, { mode: 0o600 });
  const before = fs.statSync(file);
  return {
    file,
    content,
    check: () => {
      const now = fs.statSync(file);
      expect({ size: now.size, mode: now.mode, mtime: now.mtimeMs }).toEqual({ size: before.size, mode: before.mode, mtime: before.mtimeMs });
      expect(fs.readFileSync(file)).toEqual(content);
    },
  };
}

describe.each(MODES)('%s mode', (mode) => {
  test('an attached session creates no file in /dev/shm or the temporary folder, and leaves none behind', async () => {
    const before = sharedNames();
    const prog = spawn(fixture('slow_calls', 'O2'), ['20'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(prog, 'exit');
    await watch(prog, 'stdout').until((t) => t.includes('ready\n'), timeBound(10000));
    const tracer = spawn(process.execPath, [CLI, 'trace', '--mode', mode, '--format', 'json', '-p', String(prog.pid), '-f', 'slow'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err = watch(tracer, 'stderr');
    try {
      await err.until((t) => t.split('"type":"exit"').length > 2, timeBound(30000));
      // (gcc's temporaries, /tmp/ccXXXXXX.*, are other programs' on a shared machine: compilers running beside the suite)
      const during = [...sharedNames()].filter((n) => !before.has(n) && !n.includes('rethook-test-') && !n.startsWith('/tmp/jest') && !/^\/tmp\/cc[A-Za-z0-9]{6}\./.test(n));
      expect(during).toEqual([]);
      tracer.kill('SIGINT');
      await once(tracer, 'exit');
    } finally {
      tracer.kill('SIGKILL');
      prog.kill('SIGUSR1');
    }
    expect(await exited).toEqual([0, null]);
    const after = [...sharedNames()].filter((n) => !before.has(n) && !n.includes('rethook-test-') && !n.startsWith('/tmp/jest'));
    expect(after).toEqual([]);
  }, timeBound(60000));
});

describe("fast mode takes the tracee's arena memory by descriptor and checks it", () => {
  const SIZE = 1 << 20;
  /** A python program run as the attacker: it opens what `code` says at a descriptor, prints its number, and waits. */
  async function holder(code: string, asAttacker: boolean): Promise<{ pid: number; fd: number; stop: () => void }> {
    const p = spawn('python3', ['-c', `import os, sys\n${code}\nprint(fd, flush=True)\nsys.stdin.read()`], {
      stdio: ['pipe', 'pipe', 'inherit'],
      ...(asAttacker ? { uid: ATTACKER, gid: ATTACKER } : {}),
    });
    const out = watch(p, 'stdout');
    await out.until((t) => t.includes('\n'), timeBound(10000));
    return { pid: p.pid!, fd: Number(out.text.trim()), stop: () => p.kill('SIGKILL') };
  }

  test('a root-only file swapped in as an O_PATH descriptor is refused and left unchanged', async () => {
    const secret = rootOnlyFile();
    const h = await holder(`fd = os.open(${JSON.stringify(secret.file)}, os.O_PATH)`, true);
    try {
      expect(() => adoptTraceeMemfd(h.pid, h.fd, 'rethook-fast', SIZE)).toThrow(/is not the memory fast mode created/);
    } finally {
      h.stop();
    }
    secret.check();
  });

  test("a file of the attacker's, opened read-write in /dev/shm, is refused and not grown", async () => {
    const name = `/dev/shm/rethook-attacker-${process.pid}`;
    const h = await holder(`fd = os.open(${JSON.stringify(name)}, os.O_RDWR | os.O_CREAT, 0o666)`, true);
    try {
      expect(() => adoptTraceeMemfd(h.pid, h.fd, 'rethook-fast', SIZE)).toThrow(/is not the memory fast mode created/);
      expect(fs.statSync(name).size).toBe(0);
    } finally {
      h.stop();
      fs.rmSync(name, { force: true });
    }
  });

  test('a memfd of the right name that already holds data is refused', async () => {
    const h = await holder(`fd = os.memfd_create('rethook-fast', os.MFD_ALLOW_SEALING)\nos.write(fd, b'planted')`, true);
    try {
      expect(() => adoptTraceeMemfd(h.pid, h.fd, 'rethook-fast', SIZE)).toThrow(/is not the memory fast mode created/);
    } finally {
      h.stop();
    }
  });

  test('the fresh memfd it made is taken, sized and sealed against growing and shrinking', async () => {
    const h = await holder(`fd = os.memfd_create('rethook-fast', os.MFD_ALLOW_SEALING)`, false);
    try {
      const mem = adoptTraceeMemfd(h.pid, h.fd, 'rethook-fast', SIZE);
      expect(mem.byteLength).toBe(SIZE);
      const seals = spawnSync('python3', ['-c', `import fcntl, os; fd = os.open('/proc/${h.pid}/fd/${h.fd}', os.O_RDWR); print(fcntl.fcntl(fd, 1034), os.fstat(fd).st_size)`], { encoding: 'utf8' });
      // F_GET_SEALS (1034): F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW = 7.
      expect(seals.stdout.trim()).toBe(`7 ${SIZE}`);
    } finally {
      h.stop();
    }
  });
});

describe('the guardian names its process by a pidfd', () => {
  /** A program at exactly pid `pid` (/proc/sys/kernel/ns_last_pid), or null if other forks kept taking it. */
  async function spawnAtPid(pid: number, file: string, args: string[]): Promise<ChildProcess | null> {
    for (let i = 0; i < 200; i++) {
      fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
      const p = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      if (p.pid === pid) return p;
      p.kill('SIGKILL');
      await once(p, 'exit');
    }
    return null;
  }

  test('after its process exits and the pid is reused, the tracer\'s SIGKILL makes the guardian touch nothing', async () => {
    // A tracer standing in for a hung one: it starts a guardian over `first`,
    // mirrors a breakpoint over the entry of `slow` there, and waits.
    // Not position-independent: `slow` is at the same address in both programs.
    const program = fixture('slow_calls', 'O0-nopie');
    const slow = parseInt(spawnSync('nm', [program], { encoding: 'utf8' }).stdout.split('\n').find((l) => / T slow$/.test(l))!, 16);
    const first = spawn(program, ['5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await watch(first, 'stdout').until((t) => t.includes('ready\n'), timeBound(10000));
    const pid = first.pid!;
    const dist = path.join(__dirname, '..', 'dist', 'engine', 'guardian.js');
    const script = `
      const { startGuardian } = require(${JSON.stringify(dist)});
      const g = startGuardian(${pid});
      if (!g) { console.log('none'); process.exit(1); }
      // A breakpoint over slow's entry: the guardian would put back these (trap) bytes.
      g.mirror.addBreakpoint(${slow}, 0xcccccccc);
      console.log('guardian ' + g.pid);
      setInterval(() => undefined, 1000);`;
    const tracer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const tout = watch(tracer, 'stdout');
    await tout.until((t) => t.includes('guardian '), timeBound(20000));
    const guardian = Number(/guardian (\d+)/.exec(tout.text)![1]);
    // The program exits and is reaped; another program takes its pid.
    first.kill('SIGUSR1');
    await once(first, 'exit');
    const second = await spawnAtPid(pid, program, ['5']);
    if (!second) throw new Error(`pid ${pid} could not be taken again`);
    try {
      const out = watch(second, 'stdout');
      await out.until((t) => t.includes('ready\n'), timeBound(10000));
      const exited = once(second, 'exit');
      tracer.kill('SIGKILL');
      await once(tracer, 'exit');
      // The guardian acts at its parent's death, then exits: wait for that.
      await waitForState(guardian, 'Z', timeBound(10000));
      expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/TracerPid:\s+0\n/);
      second.kill('SIGUSR1');
      expect(await exited).toEqual([0, null]);
      expect(out.text).toBe('ready\ndone right after calls\n');
    } finally {
      second.kill('SIGKILL');
    }
  }, timeBound(60000));
});
