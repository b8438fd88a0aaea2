import t from 'tap';
import {
  Supervisor,
  type RestartTimers,
  type SupervisorEvent,
  type SupervisorOptions,
} from '../src/supervisor.js';
import { alive, until } from './helpers.js';

interface PendingRestart {
  restart: () => void;
  delayMs: number;
  cancelled: boolean;
}

/** Restart timers the test fires itself: a restart happens when the test says its delay is up. */
function manualTimers() {
  const scheduled: PendingRestart[] = [];
  const timers: RestartTimers = {
    set(restart, delayMs) {
      const pending = { restart, delayMs, cancelled: false };
      scheduled.push(pending);
      return pending;
    },
    clear(handle) {
      if (handle) (handle as PendingRestart).cancelled = true;
    },
  };
  return {
    timers,
    scheduled,
    /** Waits for the next restart to be scheduled (a crash), and returns it. */
    async next(): Promise<PendingRestart> {
      await until(() => scheduled.length > 0, undefined, 'a restart to be scheduled');
      return scheduled.shift()!;
    },
  };
}

/** A supervisor over tiny `node -e` programs, recording what it writes and reports. */
function supervise(t: { teardown(fn: () => unknown): void }, options: SupervisorOptions = {}) {
  const lines: string[] = [];
  const events: Array<SupervisorEvent & { at: number }> = [];
  const supervisor = new Supervisor({
    write: (text) => lines.push(...text.split('\n').filter(Boolean)),
    onEvent: (event) => events.push({ ...event, at: Date.now() }),
    ...options,
  });
  t.teardown(() => supervisor.stopAll());
  const node = (name: string, program: string) =>
    supervisor.start({ name, command: process.execPath, args: ['-e', program] });
  const ofType = <T extends SupervisorEvent['type']>(type: T) =>
    events.filter(
      (event): event is Extract<SupervisorEvent, { type: T }> & { at: number } =>
        event.type === type,
    );
  return { supervisor, lines, events, node, ofType };
}

t.test(
  'every line a child writes, on stdout or stderr, comes out behind its padded name',
  async (t) => {
    const { node, lines, ofType } = supervise(t, { prefixWidth: 7, shouldRestart: () => false });
    node(
      'users',
      "console.log('one'); console.error('two'); process.stdout.write('no newline at the end')",
    );
    await until(() => ofType('gave-up').length === 1);
    t.same(lines.sort(), ['users   | no newline at the end', 'users   | one', 'users   | two']);
  },
);

t.test(
  'the prefix widens to the longest name when no width is given, and can be coloured',
  async (t) => {
    const plain = supervise(t);
    plain.supervisor.line('a', 'first');
    plain.supervisor.line('postgres', 'second');
    t.same(plain.lines, ['a | first', 'postgres | second']);
    const coloured = supervise(t, { color: true, prefixWidth: 5 });
    coloured.supervisor.line('users', 'hello');
    t.same(coloured.lines, ['\u001b[36musers | \u001b[0mhello']);
  },
);

t.test('a crashing child is restarted after delays that double up to the ceiling', async (t) => {
  const clock = manualTimers();
  const { node, ofType } = supervise(t, {
    backoff: { initialMs: 100, maxMs: 400, resetAfterMs: 60_000 },
    timers: clock.timers,
  });
  const child = node('crasher', 'process.exit(1)');
  const delays = [];
  for (let restart = 1; restart <= 4; restart++) {
    const pending = await clock.next();
    delays.push(pending.delayMs);
    t.equal(ofType('spawned').length, restart, `no restart ${restart} before its delay is up`);
    pending.restart();
  }
  t.same(delays, [100, 200, 400, 400]);
  t.same(
    ofType('restarting').map((event) => event.delayMs),
    delays,
  );
  await clock.next();
  const spawned = ofType('spawned');
  t.same(
    spawned.map((event) => event.attempt),
    [1, 2, 3, 4, 5],
  );
  t.same(ofType('exited')[0]!.exit, { code: 1, signal: null });
  t.equal(child.starts, 5);
  t.equal(new Set(spawned.map((event) => event.pid)).size, 5, 'each restart is a new process');
});

t.test('a child that stayed up long enough restarts after the initial delay again', async (t) => {
  const clock = manualTimers();
  const { node, ofType } = supervise(t, {
    backoff: { initialMs: 50, maxMs: 1000, resetAfterMs: 150 },
    timers: clock.timers,
  });
  // Up at least 250 ms each time, past resetAfterMs however slowly it starts.
  node('flaky', 'setTimeout(() => process.exit(3), 250)');
  for (let restart = 1; restart <= 3; restart++) (await clock.next()).restart();
  t.same(
    ofType('restarting').map((event) => event.delayMs),
    [50, 50, 50],
  );
});

t.test('a child whose exit is vetoed by shouldRestart is left stopped', async (t) => {
  const clock = manualTimers();
  const { supervisor, node, ofType } = supervise(t, {
    shouldRestart: (_name, exit) => exit.code !== 2,
    timers: clock.timers,
  });
  const child = node('misconfigured', 'process.exit(2)');
  await until(() => ofType('gave-up').length === 1);
  t.same(clock.scheduled, [], 'no restart is scheduled, now or later');
  t.same(ofType('restarting'), []);
  t.equal(ofType('spawned').length, 1);
  t.same(child.gaveUp, { code: 2, signal: null });
  t.equal(child.running, false);
  t.equal(supervisor.child('misconfigured'), child);
});

t.test('a program that cannot be spawned is reported', async (t) => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor({
    write: () => {},
    onEvent: (event) => events.push(event),
    shouldRestart: () => false,
  });
  t.teardown(() => supervisor.stopAll());
  supervisor.start({ name: 'ghost', command: '/nonexistent/program', args: [] });
  await until(() => events.some((event) => event.type === 'gave-up'));
  t.match(events[0], { type: 'spawn-failed', name: 'ghost', message: /ENOENT/ });
  t.throws(() => supervisor.start({ name: 'ghost', command: 'x', args: [] }), /already supervised/);
});

t.test(
  'stopAll leaves no child alive: the polite ones, the stubborn one, and their children',
  async (t) => {
    const clock = manualTimers();
    const { supervisor, node, lines, ofType } = supervise(t, {
      stopTimeoutMs: 800,
      timers: clock.timers,
    });
    node('polite', "console.log('ready'); setInterval(() => {}, 1000)");
    node(
      'stubborn',
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready'); setInterval(() => {}, 1000)",
    );
    node(
      'parent',
      "const c = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });" +
        "console.log('grandchild ' + c.pid); console.log('ready'); setInterval(() => {}, 1000)",
    );
    node('crasher', 'process.exit(1)');
    await until(() => lines.filter((line) => line.endsWith('| ready')).length === 3);
    const crasherRestart = await clock.next();

    const grandchild = Number(/grandchild (\d+)/.exec(lines.join('\n'))![1]);
    const pids = [
      ...ofType('spawned')
        .filter((event) => event.name !== 'crasher')
        .map((event) => event.pid),
      grandchild,
    ];
    t.ok(pids.every(alive), 'the children and the grandchild run');

    const started = Date.now();
    await supervisor.stopAll();
    t.ok(Date.now() - started >= 800, 'the stubborn child held out until the deadline');
    t.ok(lines.includes('stubborn | ignoring SIGTERM'));
    t.ok(lines.includes('stubborn | did not stop within 800 ms: killing it'));
    await until(() => !pids.some(alive), undefined, 'every child and the grandchild to be gone');
    t.same(pids.filter(alive), [], 'no process is left');
    t.same(
      ofType('exited')
        .filter((event) => event.name !== 'crasher')
        .map((event) => [event.name, event.exit.signal])
        .sort(),
      [
        ['parent', 'SIGTERM'],
        ['polite', 'SIGTERM'],
        ['stubborn', 'SIGKILL'],
      ],
    );

    t.equal(crasherRestart.cancelled, true, "stopAll cancels the crasher's pending restart");
    crasherRestart.restart(); // and one whose timer fired at the last moment starts nothing
    t.equal(supervisor.child('crasher')!.starts, 1, 'no restart after stopAll');
    t.equal(supervisor.child('crasher')!.running, false);
    t.equal(supervisor.stopAll(), supervisor.stopAll(), 'stopping twice is one stop');
    t.throws(() => node('late', ''), /stopping/);
  },
);
