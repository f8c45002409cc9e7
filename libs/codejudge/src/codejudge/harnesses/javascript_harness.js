'use strict';
// Runs inside the sandbox: loads a candidate's JavaScript solution and calls its function once
// per test, reporting each outcome as one JSON line on the results fd.
//
// The solution is compiled as the body of a CommonJS-style function (so `require`, `module`
// and top-level `return` behave as in a Node module) with one line appended that hands back
// the named function whether or not the candidate exported it. The harness never sees the
// expected values: the host compares.
//
// Usage: node javascript_harness.js JOB_JSON SOLUTION_JS RESULTS_FD

const fs = require('fs');
const path = require('path');
const util = require('util');
const vm = require('vm');
const { Writable } = require('stream');
const { createRequire } = require('module');

const SOLUTION_FILENAME = 'solution.js';
const MAX_MESSAGE_CHARS = 1000;
const MAX_TRACEBACK_LINES = 12;

const [jobPath, solutionPath, resultsFdText] = process.argv.slice(2);
const resultsFd = Number(resultsFdText);
const writeSync = fs.writeSync;
const readFileSync = fs.readFileSync;
const exitProcess = process.exit.bind(process);
// Each test starts without the previous one's garbage. The gc handle comes from a throwaway
// context, so the submission's global does not get it.
const collectGarbage = (() => {
  try {
    require('v8').setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    return typeof gc === 'function' ? gc : () => {};
  } catch (_) {
    return () => {};
  }
})();

function exitNow(code) {
  process.removeAllListeners('exit'); // the submission's exit hooks do not run
  exitProcess(code);
}

function emit(record, rawValue) {
  let line = JSON.stringify(record);
  if (rawValue !== undefined) line = line.slice(0, -1) + ',"value":' + rawValue + '}';
  const data = Buffer.from(line + '\n', 'utf8');
  let offset = 0;
  while (offset < data.length) offset += writeSync(resultsFd, data, offset);
}

class OutputLimitExceeded extends Error {}

// The first KEPT_OUTPUT_CHARS of each test's prints travel with its result (the judge shows
// them for visible examples only); the rest is counted and dropped.
const KEPT_OUTPUT_CHARS = 2000;
const sink = { used: 0, limit: 0, exceeded: false, kept: '' };

function capture(chunk) {
  if (sink.kept.length < KEPT_OUTPUT_CHARS) {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk || '').toString('utf8');
    sink.kept += text.slice(0, KEPT_OUTPUT_CHARS - sink.kept.length);
  }
  if (typeof chunk === 'string') sink.used += Buffer.byteLength(chunk);
  else if (chunk && typeof chunk.length === 'number') sink.used += chunk.length;
  if (sink.used > sink.limit) {
    sink.exceeded = true;
    throw new OutputLimitExceeded('output limit exceeded');
  }
}

function silenceOutput() {
  // Prints are counted and dropped: the results travel on their own fd, and whatever
  // bypasses this (fs.writeSync(1, ...)) is counted and capped by the host.
  const write = function (chunk, encoding, callback) {
    capture(chunk);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
  // Replaced before first use: touching the real process.stdout would switch the shared pipe
  // to non-blocking mode, and raw writes would then be silently cut short instead of counted.
  for (const [name, fd] of [['stdout', 1], ['stderr', 2]]) {
    const stream = new Writable({ write: (chunk, encoding, callback) => callback() });
    Object.assign(stream, { write, fd, isTTY: false, columns: 80 });
    Object.defineProperty(process, name, { configurable: true, enumerable: true, value: stream });
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table']) {
    console[method] = (...items) => capture(util.format(...items) + '\n');
  }
}

function resetPeakMemory() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch (_) {
    // not Linux, or /proc hidden: the peak then covers the whole run
  }
}

function peakMemoryKb() {
  try {
    const match = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]);
  } catch (_) {
    // fall through
  }
  return Math.round(process.resourceUsage().maxRSS);
}

function isMemoryError(err) {
  return (
    err instanceof RangeError &&
    /Array buffer allocation failed|Allocation failed|out of memory/i.test(String(err.message))
  );
}

function describe(err) {
  if (!(err instanceof Error)) {
    let text;
    try {
      text = typeof err === 'string' ? err : util.inspect(err, { depth: 2 });
    } catch (_) {
      text = String(err);
    }
    text = text.slice(0, MAX_MESSAGE_CHARS);
    return { error_type: 'Uncaught', message: text, traceback: 'Uncaught ' + text };
  }
  let message = String(err.message);
  if (message.length > MAX_MESSAGE_CHARS) message = message.slice(0, MAX_MESSAGE_CHARS) + '...';
  const name = String(err.name || 'Error');
  const frames = String(err.stack || '')
    .split('\n')
    .filter((line) => line.startsWith('    at ') && line.includes(SOLUTION_FILENAME));
  const lines = [`${name}: ${message}`, ...frames].slice(0, MAX_TRACEBACK_LINES);
  return { error_type: name, message, traceback: lines.join('\n') };
}

function compileErrorDetail(err) {
  const text = String((err && err.stack) || err);
  const kept = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('    at ')) break;
    kept.push(line);
  }
  return kept.join('\n').trim().slice(-4000);
}

function pickFunction(local, module, name) {
  if (typeof local === 'function') return local;
  const exported = module.exports;
  if (exported && typeof exported[name] === 'function') return exported[name];
  if (typeof exported === 'function') return exported;
  return undefined;
}

async function main() {
  const job = JSON.parse(readFileSync(jobPath, 'utf8'));
  const source = readFileSync(solutionPath, 'utf8');
  const name = job.function_name; // validated as an identifier by the host
  sink.limit = Number(job.output_limit_bytes);
  const resultLimit = Number(job.result_limit_bytes);
  emit({ event: 'ready' });

  let factory;
  try {
    factory = vm.compileFunction(
      source + `\n;return typeof ${name} !== 'undefined' ? ${name} : undefined;`,
      ['exports', 'require', 'module', '__filename', '__dirname'],
      { filename: SOLUTION_FILENAME },
    );
  } catch (err) {
    emit({ event: 'compile_error', detail: compileErrorDetail(err) });
    exitNow(0);
  }

  // An error thrown later from a timer or a promise nobody awaited fails the running test.
  let failRunningTest = null;
  const asyncFailure = (err) => {
    if (failRunningTest) failRunningTest(err);
  };
  process.on('uncaughtException', asyncFailure);
  process.on('unhandledRejection', asyncFailure);
  // Nothing left to run while a test awaits: its promise can never settle. The immediate
  // keeps the loop turning so that the next test gets the same treatment.
  process.on('beforeExit', () => {
    if (!failRunningTest) return;
    asyncFailure(new Error('the returned promise never settled'));
    setImmediate(() => {});
  });

  silenceOutput();
  emit({ event: 'loading' });
  const solutionFile = path.join(path.dirname(solutionPath), SOLUTION_FILENAME);
  const module = { exports: {}, filename: solutionFile, id: '.', loaded: false };
  let fn;
  let status = 'ok';
  let info = {};
  try {
    const local = factory.call(
      module.exports,
      module.exports,
      createRequire(solutionFile),
      module,
      solutionFile,
      path.dirname(solutionFile),
    );
    fn = pickFunction(local, module, name);
  } catch (err) {
    if (err instanceof OutputLimitExceeded || sink.exceeded) status = 'output';
    else if (isMemoryError(err)) status = 'memory';
    else {
      status = 'error';
      info = describe(err);
    }
  }
  if (status === 'ok' && sink.exceeded) status = 'output';
  if (status === 'ok' && typeof fn !== 'function') {
    status = 'error';
    const message = `function '${name}' is not defined`;
    info = { error_type: 'ReferenceError', message, traceback: `ReferenceError: ${message}` };
  }
  if (status !== 'ok') {
    emit({ event: 'load_error', status, ...info });
    exitNow(0);
  }
  emit({ event: 'loaded' });

  for (let index = 0; index < job.tests.length; index++) {
    const args = job.tests[index].args;
    job.tests[index] = null;
    collectGarbage();
    resetPeakMemory();
    sink.used = 0;
    sink.exceeded = false;
    sink.kept = '';
    emit({ event: 'begin', index });
    const record = { event: 'end', index };
    let value;
    const failure = new Promise((_, reject) => {
      failRunningTest = reject;
    });
    failure.catch(() => {});
    const cpuStart = process.cpuUsage();
    try {
      value = fn(...args);
      if (value && typeof value.then === 'function') value = await Promise.race([value, failure]);
      record.status = 'ok';
    } catch (err) {
      if (err instanceof OutputLimitExceeded || sink.exceeded) record.status = 'output';
      else if (isMemoryError(err)) record.status = 'memory';
      else Object.assign(record, { status: 'error' }, describe(err));
    }
    failRunningTest = null;
    const cpu = process.cpuUsage(cpuStart);
    if (sink.exceeded) record.status = 'output';
    if (sink.kept) record.output = sink.kept;
    record.time_ms = (cpu.user + cpu.system) / 1000;
    record.memory_kb = peakMemoryKb();
    let encoded;
    if (record.status === 'ok') {
      try {
        encoded = JSON.stringify(value === undefined ? null : value);
        if (encoded === undefined) encoded = 'null';
        if (encoded.length > resultLimit) {
          encoded = undefined;
          record.status = 'output';
          record.message = `the return value is larger than ${resultLimit} bytes`;
        }
      } catch (err) {
        encoded = undefined;
        if (isMemoryError(err)) record.status = 'memory';
        else {
          const message = `the return value cannot be reported: ${err && err.message}`;
          Object.assign(record, {
            status: 'error',
            error_type: 'TypeError',
            message,
            traceback: `TypeError: ${message}`,
          });
        }
      }
    }
    value = undefined;
    emit(record, encoded);
  }
  emit({ event: 'done' });
  exitNow(0); // pending timers of the submission die with the process
}

main().catch((err) => {
  try {
    emit({ event: 'harness_error', detail: String((err && err.stack) || err).slice(0, 4000) });
  } finally {
    exitNow(70);
  }
});
