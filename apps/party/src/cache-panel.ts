/**
 * The party page's list of what this browser caches: one row per sharing (model id, sharing epoch, party slot,
 * parts, bytes, when last written) with a Delete button each, a "Delete all" button and the storage estimate.
 * Deleting is refused while a session runs on this page: its worker reads and writes those parts.
 */
import type { CachedSharing, IdbShareStore } from '@puma/worker/browser';
import { errorText, formatBytes } from './kit.ts';
import { readEstimate } from './storage-gate.ts';
import type { StorageNumbers } from './storage-fit.ts';

export interface CachePanelElements {
  table: HTMLTableSectionElement;
  estimate: HTMLElement;
  deleteAll: HTMLButtonElement;
  note: HTMLElement;
}

export class CachePanel {
  private sessionRunning = false;
  private deleting = false;
  private rows: CachedSharing[] = [];

  constructor(
    private readonly store: IdbShareStore,
    private readonly storage: StorageManager | undefined,
    private readonly el: CachePanelElements,
    /** Called after every refresh with the rows and the estimate shown. */
    private readonly onChange: (rows: CachedSharing[], estimate: StorageNumbers | null) => void,
  ) {
    el.deleteAll.addEventListener('click', () => void this.run('deleted everything this page cached', () => this.store.clear()));
  }

  /** While a session runs, the delete buttons are disabled. */
  setSessionRunning(running: boolean): void {
    this.sessionRunning = running;
    this.el.note.textContent = running ? 'A session is running on this page: deleting waits until it ends.' : '';
    this.render();
  }

  async refresh(): Promise<void> {
    const [rows, estimate] = await Promise.all([this.store.list(), readEstimate(this.storage)]);
    this.rows = rows;
    this.el.estimate.textContent = estimate === null
      ? 'this browser gives no storage estimate'
      : `${formatBytes(estimate.usage)} used of ${formatBytes(estimate.quota)} this browser allows this site (${formatBytes(Math.max(0, estimate.quota - estimate.usage))} free)`;
    this.render();
    this.onChange(rows, estimate);
  }

  private render(): void {
    const body = this.el.table;
    body.replaceChildren();
    if (this.rows.length === 0) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = 7;
      td.textContent = 'nothing cached';
    }
    for (const r of this.rows) {
      const tr = body.insertRow();
      tr.dataset.model = r.modelId;
      tr.dataset.epoch = r.epoch;
      const cells = [r.modelId, r.epoch, `party ${r.party}`, String(r.parts), formatBytes(r.bytes), r.lastWritten === null ? '-' : new Date(r.lastWritten).toLocaleString()];
      for (const text of cells) tr.insertCell().textContent = text;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Delete';
      button.disabled = this.sessionRunning || this.deleting;
      button.setAttribute('aria-label', `Delete ${r.modelId} sharing ${r.epoch}`);
      button.addEventListener('click', () => void this.run(`deleted ${r.modelId} (sharing ${r.epoch})`, () => this.store.deleteSharing(r)));
      tr.insertCell().append(button);
    }
    this.el.deleteAll.disabled = this.sessionRunning || this.deleting || this.rows.length === 0;
  }

  private async run(what: string, action: () => Promise<unknown>): Promise<void> {
    if (this.sessionRunning || this.deleting) return;
    this.deleting = true;
    this.render();
    try {
      await action();
      this.el.note.textContent = what;
    } catch (e) {
      this.el.note.textContent = `could not delete: ${errorText(e)}`;
    } finally {
      this.deleting = false;
      await this.refresh().catch((e: unknown) => (this.el.note.textContent = `could not list the cache: ${errorText(e)}`));
    }
  }
}
