// Debug: trace a fixture with every native call logged.
const fs = require('fs');
const native = require('../dist/native');
const NT = native.NativeTracer;
const log = (s) => fs.writeSync(2, s + '\n');
const show = (v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : typeof v === 'number' && v > 65536 ? '0x' + v.toString(16) : Array.isArray(v) ? '[' + v.map(show).join(',') + ']' : Buffer.isBuffer(v) ? `buf(${v.length})` : typeof v === 'object' && v ? JSON.stringify(v) : String(v));
for (const k of Object.getOwnPropertyNames(NT.prototype)) {
  if (k === 'constructor') continue;
  const f = NT.prototype[k];
  NT.prototype[k] = function (...a) {
    if (k !== 'wait' && k !== 'read' && k !== 'readU64') log(`-> ${k}(${a.filter((x) => typeof x !== 'object' || Array.isArray(x)).map(show).join(', ')})`);
    let r;
    try { r = f.apply(this, a); } catch (e) { log(`   ${k} threw ${e.message}`); throw e; }
    if (k === 'wait' || k === 'waitThread') { if (r !== 0) log(`   ${k} -> kind ${r} info ${Array.from(this.info).slice(0, 6).map(show).join(' ')} pc ${show(this.regs[32])} x30 ${show(this.regs[30])} sp ${show(this.regs[31])}`); }
    else if (k !== 'read' && k !== 'readU64') log(`   = ${show(r)}`);
    return r;
  };
}
const { Tracer } = require('../dist');
(async () => {
  const file = process.argv[2];
  const names = process.argv.slice(3);
  log(`arch ${JSON.stringify({ ...native.arch, regNames: undefined, syscallStub: native.arch.syscallStub.toString('hex'), trampolineCode: native.arch.trampolineCode.toString('hex') })}`);
  const t = await Tracer.spawn(file, []);
  log('spawned');
  t.hook(names, { onEntry: (c) => log(`ENTRY ${c.function} ${c.args[0]}`), onExit: (c) => log(`EXIT ${c.function} ${c.retval}`) });
  const st = await t.run();
  log('status ' + JSON.stringify(st));
})().catch((e) => { log('ERR ' + e.stack); process.exit(1); });
