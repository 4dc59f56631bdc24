/**
 * Live updates by polling: each task runs at its own modest interval (the cheap branch list
 * often, sizes seldom), never overlapping itself, and not at all while the tab is hidden. When
 * the tab shows again, tasks that are due run at once and the others keep their schedule.
 */

export interface PollTask {
  readonly name: string;
  readonly everyMs: number;
  /** Reports its own failures (the poller only keeps going). */
  run(): Promise<void>;
}

/** The page's visibility (document.visibilityState in the browser). */
export interface Visibility {
  hidden(): boolean;
  /** Calls `listener` when visibility changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export interface Poller {
  /** Runs the named tasks (all when none is named) now, and resolves when they are done. */
  refresh(...names: string[]): Promise<void>;
  stop(): void;
}

interface TaskState {
  lastRunAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  running: Promise<void> | undefined;
}

export function startPoller(tasks: readonly PollTask[], visibility: Visibility): Poller {
  let stopped = false;
  const states = new Map<PollTask, TaskState>(tasks.map((t) => [t, { lastRunAt: -Infinity, timer: undefined, running: undefined }]));

  const schedule = (task: PollTask) => {
    const state = states.get(task)!;
    clearTimeout(state.timer);
    state.timer = undefined;
    if (stopped || visibility.hidden() || state.running) return;
    const waitMs = Math.max(0, state.lastRunAt + task.everyMs - Date.now());
    state.timer = setTimeout(() => void run(task), waitMs);
  };

  const run = (task: PollTask, fresh = false): Promise<void> => {
    const state = states.get(task)!;
    if (stopped) return Promise.resolve();
    // A refresh after a change must not be answered by a run that started before it.
    if (state.running) return fresh ? state.running.then(() => run(task)) : state.running;
    clearTimeout(state.timer);
    state.running = task
      .run()
      .catch(() => undefined)
      .finally(() => {
        state.lastRunAt = Date.now();
        state.running = undefined;
        schedule(task);
      });
    return state.running;
  };

  const unsubscribe = visibility.onChange(() => {
    for (const task of tasks) schedule(task);
  });
  for (const task of tasks) schedule(task);

  return {
    async refresh(...names) {
      await Promise.all(tasks.filter((t) => names.length === 0 || names.includes(t.name)).map((t) => run(t, true)));
    },
    stop() {
      stopped = true;
      unsubscribe();
      for (const state of states.values()) clearTimeout(state.timer);
    },
  };
}
