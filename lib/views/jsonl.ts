// JSON lines: one object per event, as the events are (events.ts).
import type { Sink } from './format';
import type { EntryEvent, ExitEvent, NoteEvent } from '../events';
import type { EndInfo, View } from './view';
import { entryJson, exitJson } from './event-json';

/** Notes that mark processes coming and going (the tree's markers). */
export function isMarker(e: NoteEvent): boolean {
  return e.type === 'fork' || e.type === 'exec' || (e.type === 'process-exit' && 'ts' in e);
}

export class JsonView implements View {
  /** markers: write fork, exec and child process-exit notes too (records do; `--format json` keeps to its events as before). */
  constructor(private readonly out: Sink, private readonly markers = true) {}
  entry(e: EntryEvent): void {
    this.out.write(entryJson(e));
  }
  exit(e: ExitEvent): void {
    this.out.write(exitJson(e));
  }
  note(e: NoteEvent): void {
    if (!this.markers && isMarker(e)) return;
    this.out.write(JSON.stringify(e) + '\n');
  }
  end(_info: EndInfo): void {
    this.out.flush();
  }
}
