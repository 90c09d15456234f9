// JSON lines: one object per event, as the events are (events.ts).
import type { Sink } from '../cli/format';
import type { EndInfo, EntryEvent, ExitEvent, NoteEvent, View } from './events';

/** The event without what a filter added for the tree. */
function plain(e: object): object {
  if (!('shownDepth' in e)) return e;
  const { shownDepth: _, ...rest } = e as { shownDepth?: number };
  return rest;
}

export class JsonView implements View {
  constructor(private readonly out: Sink) {}
  entry(e: EntryEvent): void {
    this.out.write(JSON.stringify(plain(e)) + '\n');
  }
  exit(e: ExitEvent): void {
    this.out.write(JSON.stringify(plain(e)) + '\n');
  }
  note(e: NoteEvent): void {
    this.out.write(JSON.stringify(e) + '\n');
  }
  end(_info: EndInfo): void {
    this.out.flush();
  }
}
